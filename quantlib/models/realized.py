r"""Realised-volatility estimators on OHLC bars, over a rolling window.

Each estimator returns the volatility per bar (or annualised with ``periods_per_year``) on the
bars' index; the value at bar t uses bars t−n+1 .. t (window n), so it is known at bar t's
close. Range-based estimators use more of each bar than its close and are several times more
efficient than close-to-close on the same window when prices follow a driftless diffusion.

Notation for bar t: :math:`O_t, H_t, L_t, C_t`; :math:`o_t = \ln(O_t/C_{t-1})` (overnight or
gap), :math:`c_t = \ln(C_t/O_t)`, :math:`h_t = \ln(H_t/O_t)`, :math:`l_t = \ln(L_t/O_t)`.
On 24/7 crypto bars each bar opens at the previous close, so :math:`o_t = 0` and Yang–Zhang's
overnight term vanishes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, ohlcv_arrays

__all__ = [
    "ESTIMATORS",
    "close_to_close",
    "garman_klass",
    "parkinson",
    "realized_volatility",
    "rogers_satchell",
    "yang_zhang",
    "yang_zhang_k",
]


def _prepare(
    df: pd.DataFrame, window: int, caller: str, *, min_window: int, extra_bars: int
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray], int]:
    window = check_int("window", window, minimum=min_window)
    index, arrays = ohlcv_arrays(df, caller, min_bars=window + extra_bars)
    return index, arrays, window


def _finish(variance: pd.Series, periods_per_year: float | None, name: str) -> pd.Series:
    if periods_per_year is not None:
        periods_per_year = check_float("periods_per_year", periods_per_year, minimum=1.0)
        variance = variance * periods_per_year
    volatility: pd.Series = np.sqrt(variance).rename(name)
    return volatility


def close_to_close(
    df: pd.DataFrame,
    window: int = 20,
    *,
    periods_per_year: float | None = None,
    demean: bool = True,
) -> pd.Series:
    r"""Close-to-close volatility: the standard deviation of log returns over ``window``.

    Notes
    -----
    With :math:`r_t = \ln(C_t / C_{t-1})` and window :math:`n`:

    .. math:: \sigma^2_t = \frac{1}{n-1}\sum_{i=t-n+1}^{t} (r_i - \bar r)^2

    or :math:`\frac1n\sum r_i^2` with ``demean=False``. The first value is at the bar
    ``window`` (bar 0 has no return). Annualised: :math:`\sigma\sqrt{P}`, P =
    ``periods_per_year``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 110.0, 99.0], timeframe="1d")
    >>> close_to_close(bars, window=2).round(6).tolist()  # std of ln 1.1, ln 0.9
    [nan, nan, 0.141896]
    """
    index, arrays, n = _prepare(df, window, "close_to_close", min_window=2, extra_bars=1)
    r = pd.Series(np.log(arrays["close"]), index=index).diff()
    rolling = r.rolling(n, min_periods=n)
    variance = rolling.var(ddof=1) if demean else (r**2).rolling(n, min_periods=n).mean()
    return _finish(variance, periods_per_year, "close_to_close")


def parkinson(
    df: pd.DataFrame, window: int = 20, *, periods_per_year: float | None = None
) -> pd.Series:
    r"""Parkinson (1980) range volatility.

    Notes
    -----
    .. math:: \sigma^2_t = \frac{1}{4 n \ln 2}\sum_{i=t-n+1}^{t} \ln^2(H_i / L_i)

    Unbiased for a driftless Brownian motion observed continuously; ignores drift and gaps, and
    is biased down by discrete sampling of the high and low.

    Parkinson, M. (1980). The extreme value method for estimating the variance of the rate of
    return. *Journal of Business*, 53(1), 61–65.

    Examples
    --------
    >>> from quantlib.testing import bars_from_rows
    >>> bars = bars_from_rows([(100, 110, 100, 105)], timeframe="1d")
    >>> round(float(parkinson(bars, window=1).iloc[0]), 6)  # ln(1.1) / sqrt(4 ln 2)
    0.05724
    """
    index, arrays, n = _prepare(df, window, "parkinson", min_window=1, extra_bars=0)
    term = np.log(arrays["high"] / arrays["low"]) ** 2 / (4.0 * math.log(2.0))
    variance = pd.Series(term, index=index).rolling(n, min_periods=n).mean()
    return _finish(variance, periods_per_year, "parkinson")


def garman_klass(
    df: pd.DataFrame, window: int = 20, *, periods_per_year: float | None = None
) -> pd.Series:
    r"""Garman–Klass (1980) volatility from open, high, low and close.

    Notes
    -----
    .. math:: \sigma^2_t = \frac1n\sum_{i=t-n+1}^{t}\left[\tfrac12\ln^2(H_i/L_i)
              - (2\ln 2 - 1)\ln^2(C_i/O_i)\right]

    The "practical" estimator of the paper; it assumes no drift and no opening gap.

    Garman, M. B., & Klass, M. J. (1980). On the estimation of security price volatilities from
    historical data. *Journal of Business*, 53(1), 67–78.

    Examples
    --------
    >>> from quantlib.testing import bars_from_rows
    >>> bars = bars_from_rows([(100, 110, 100, 105)], timeframe="1d")
    >>> round(float(garman_klass(bars, window=1).iloc[0]), 6)
    0.060187
    """
    index, arrays, n = _prepare(df, window, "garman_klass", min_window=1, extra_bars=0)
    hl = np.log(arrays["high"] / arrays["low"])
    co = np.log(arrays["close"] / arrays["open"])
    term = 0.5 * hl**2 - (2.0 * math.log(2.0) - 1.0) * co**2
    variance = pd.Series(term, index=index).rolling(n, min_periods=n).mean()
    return _finish(variance, periods_per_year, "garman_klass")


def _rogers_satchell_terms(arrays: dict[str, np.ndarray]) -> np.ndarray:
    o, h, lo, c = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    terms: np.ndarray = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    return terms


def rogers_satchell(
    df: pd.DataFrame, window: int = 20, *, periods_per_year: float | None = None
) -> pd.Series:
    r"""Rogers–Satchell (1991) volatility, unbiased under a drift.

    Notes
    -----
    .. math:: \sigma^2_t = \frac1n\sum_{i=t-n+1}^{t}\left[\ln\frac{H_i}{C_i}\ln\frac{H_i}{O_i}
              + \ln\frac{L_i}{C_i}\ln\frac{L_i}{O_i}\right]

    Rogers, L. C. G., & Satchell, S. E. (1991). Estimating variance from high, low and closing
    prices. *Annals of Applied Probability*, 1(4), 504–512.

    Examples
    --------
    >>> from quantlib.testing import bars_from_rows
    >>> bars = bars_from_rows([(100, 110, 100, 105)], timeframe="1d")
    >>> round(float(rogers_satchell(bars, window=1).iloc[0]), 6)  # sqrt(ln(110/105) ln 1.1)
    0.066587
    """
    index, arrays, n = _prepare(df, window, "rogers_satchell", min_window=1, extra_bars=0)
    term = _rogers_satchell_terms(arrays)
    variance = pd.Series(term, index=index).rolling(n, min_periods=n).mean()
    return _finish(variance, periods_per_year, "rogers_satchell")


def yang_zhang_k(window: int) -> float:
    r"""Yang–Zhang's weight :math:`k = 0.34 / (1.34 + (n+1)/(n-1))` for a window of n bars.

    Examples
    --------
    >>> round(yang_zhang_k(20), 6)
    0.139044
    """
    n = check_int("window", window, minimum=2)
    return 0.34 / (1.34 + (n + 1) / (n - 1))


def yang_zhang(
    df: pd.DataFrame, window: int = 20, *, periods_per_year: float | None = None
) -> pd.Series:
    r"""Yang–Zhang (2000) volatility: overnight, open-to-close and Rogers–Satchell combined.

    Notes
    -----
    .. math:: \sigma^2_t = \sigma^2_o + k\,\sigma^2_c + (1-k)\,\sigma^2_{RS}, \qquad
              k = \frac{0.34}{1.34 + \frac{n+1}{n-1}}

    where :math:`\sigma^2_o` and :math:`\sigma^2_c` are the sample variances (divisor n−1) of
    :math:`o_i = \ln(O_i/C_{i-1})` and :math:`c_i = \ln(C_i/O_i)` over the window and
    :math:`\sigma^2_{RS}` is :func:`rogers_satchell`'s variance. The k minimises the
    estimator's variance; the estimator is unbiased under drift and opening gaps. The first
    value is at bar ``window`` (bar 0 has no previous close).

    Yang, D., & Zhang, Q. (2000). Drift-independent volatility estimation based on high, low,
    open, and close prices. *Journal of Business*, 73(3), 477–492.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 110.0, 99.0, 104.0], timeframe="1d")
    >>> yang_zhang(bars, window=2).notna().tolist()
    [False, False, True, True]
    """
    index, arrays, n = _prepare(df, window, "yang_zhang", min_window=2, extra_bars=1)
    prev_close = np.concatenate([[np.nan], arrays["close"][:-1]])
    overnight = pd.Series(np.log(arrays["open"] / prev_close), index=index)
    open_close = pd.Series(np.log(arrays["close"] / arrays["open"]), index=index)
    rs = pd.Series(_rogers_satchell_terms(arrays), index=index)
    rs.iloc[0] = np.nan  # keep every term on the same bars, those with a previous close
    k = yang_zhang_k(n)
    variance = (
        overnight.rolling(n, min_periods=n).var(ddof=1)
        + k * open_close.where(overnight.notna()).rolling(n, min_periods=n).var(ddof=1)
        + (1.0 - k) * rs.rolling(n, min_periods=n).mean()
    )
    return _finish(variance, periods_per_year, "yang_zhang")


ESTIMATORS: dict[str, Callable[..., pd.Series]] = {
    "close_to_close": close_to_close,
    "parkinson": parkinson,
    "garman_klass": garman_klass,
    "rogers_satchell": rogers_satchell,
    "yang_zhang": yang_zhang,
}


def realized_volatility(
    df: pd.DataFrame,
    method: str = "yang_zhang",
    window: int = 20,
    *,
    periods_per_year: float | None = None,
) -> pd.Series:
    """Realised volatility by ``method`` (a key of :data:`ESTIMATORS`) over ``window`` bars.

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> bars = load_ohlcv("BTCUSDT", "1d")
    >>> vols = {m: realized_volatility(bars, m, 30, periods_per_year=365).iloc[-1]
    ...         for m in ESTIMATORS}
    >>> all(0.1 < v < 2.0 for v in vols.values())
    True
    >>> realized_volatility(bars, "parkison")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: method must be one of ...; did you mean 'parkinson'?
    """
    name = check_choice("method", method, list(ESTIMATORS))
    return ESTIMATORS[name](df, window, periods_per_year=periods_per_year)
