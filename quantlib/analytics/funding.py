r"""Perpetual funding as a term structure: annualised rates, rolling averages, forecasts and
regimes, all causal.

A funding series is one rate per funding event (``timestamp → rate``; a positive rate means
longs pay shorts), as :func:`quantlib.data.load_funding` returns it: a Series of rates, or a
frame with a ``funding_rate`` column. Venues change the funding interval (8 h to 4 h or 1 h
for some symbols), so nothing here assumes one: each event's **spacing** is the time since the
previous event, the period its rate pays for, and annualising uses it.

Every value stamped at an event time :math:`T` uses only events at or before :math:`T`, so
each function passes :func:`quantlib.testing.assert_no_lookahead` on the funding series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, check_returns
from quantlib.data.calendars import DAYS_PER_YEAR
from quantlib.exceptions import ConfigError

__all__ = [
    "FORECAST_METHODS",
    "REGIMES",
    "YEAR",
    "ForecastMethod",
    "funding_forecast",
    "funding_forecast_errors",
    "funding_rates",
    "funding_regimes",
    "funding_spacing_hours",
    "funding_term_structure",
    "window_label",
]

YEAR = pd.Timedelta(days=DAYS_PER_YEAR["24/7"])
"""A year of a 24/7 market (365 days): funding annualises on it."""

ForecastMethod = Literal["last", "ewma"]
FORECAST_METHODS: tuple[ForecastMethod, ...] = ("last", "ewma")
REGIMES: tuple[str, ...] = ("extreme_negative", "normal", "extreme_positive", "warmup")
"""Labels of :func:`funding_regimes`, from the lowest rates to the highest, then the events
before enough history."""

_HOUR = pd.Timedelta(hours=1)
_LOADER = "pass quantlib.data.load_funding(symbol)"
_WINDOW_EXAMPLES = "'1D', '7D' or '30D'"


def funding_rates(funding: pd.Series | pd.DataFrame, name: str = "funding") -> pd.Series:
    """The rates of a funding series, checked: float64, finite, on a strictly increasing UTC
    index of funding times.

    Parameters
    ----------
    funding : Series or DataFrame
        Rates indexed by funding time, or a frame with a ``funding_rate`` column (the output
        of :func:`quantlib.data.load_funding`).
    name : str
        How error messages call the argument.

    Raises
    ------
    ConfigError
        For another type, or a frame without ``funding_rate``.
    DataError
        For a non-datetime, tz-naive or non-increasing index, or NaN or infinite rates.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=2, freq="8h", tz="UTC")
    >>> funding_rates(pd.DataFrame({"funding_rate": [0.0001, -0.0002]}, index=idx)).tolist()
    [0.0001, -0.0002]
    """
    funding = _series_or_column(
        name, funding, "funding_rate", "a Series of rates indexed by funding time", _LOADER
    )
    rates = check_returns(name, funding, min_obs=0, time_index=True)
    return rates.rename("funding_rate")


def funding_spacing_hours(rates: pd.Series) -> pd.Series:
    """Hours since the previous event of a checked rate series (:func:`funding_rates`): the
    period each rate pays for (NaN for the first event, whose period is not observed).

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T08:00Z", "2024-01-01T12:00Z"])
    >>> funding_spacing_hours(pd.Series(0.0001, index=idx)).tolist()
    [nan, 8.0, 4.0]
    """
    index = pd.DatetimeIndex(rates.index)
    hours = np.diff(index.as_unit("ns").asi8).astype(np.float64) / _HOUR.value
    return pd.Series(np.concatenate([[np.nan], hours]), index=index, name="spacing_hours")


def window_label(window: str | pd.Timedelta) -> str:
    """``"1d"``, ``"7d"``, ``"12h"``: the column suffix of a rolling window.

    Examples
    --------
    >>> window_label("7D"), window_label(pd.Timedelta(hours=12))
    ('7d', '12h')
    """
    delta = _positive_duration("window", window, _WINDOW_EXAMPLES)
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{delta // pd.Timedelta(days=1)}d"
    if delta % _HOUR == pd.Timedelta(0):
        return f"{delta // _HOUR}h"
    return f"{int(delta.total_seconds())}s"


def _series_or_column(name: str, value: object, column: str, series: str, fix: str) -> pd.Series:
    """``value`` if it is a Series, its ``column`` if it is a frame that has one.

    Raises
    ------
    ConfigError
        Otherwise, saying that ``name`` must be ``series`` or a frame with ``column``, what it
        is, and ``fix``.

    Examples
    --------
    >>> bars = pd.DataFrame({"close": [1.0, 2.0]})
    >>> _series_or_column("perp", bars, "close", "a Series of closes", "pass bars").tolist()
    [1.0, 2.0]
    """
    wanted = f"{name} must be {series} or a frame with a {column!r} column"
    if isinstance(value, pd.DataFrame):
        if column not in value.columns:
            raise ConfigError(f"{wanted}, got columns {list(value.columns)}. Fix: {fix}")
        value = value[column]
    if not isinstance(value, pd.Series):
        raise ConfigError(f"{wanted}, got {type(value).__name__}. Fix: {fix}")
    return value


def _positive_duration(name: str, value: object, examples: str) -> pd.Timedelta:
    """``value`` (``"8h"``, ``"7D"``, a Timedelta) as a positive Timedelta.

    Raises
    ------
    ConfigError
        Naming ``name``, the value and ``examples`` when it is no duration or not positive.

    Examples
    --------
    >>> _positive_duration("window", "7D", "'7D'")
    Timedelta('7 days 00:00:00')
    """
    try:
        delta = pd.Timedelta(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a duration such as {examples}, got {value!r}") from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ConfigError(f"{name} must be a positive duration such as {examples}, got {value!r}")
    return delta


def _positive_durations(
    name: str, values: Sequence[str | pd.Timedelta], examples: str, default: str
) -> list[pd.Timedelta]:
    """Each of ``values`` as a positive Timedelta (see :func:`_positive_duration`), refusing a
    lone string or an empty sequence with ``Fix: {name}={default}``."""
    if isinstance(values, str | pd.Timedelta) or len(values) == 0:
        raise ConfigError(
            f"{name} must be a non-empty sequence of durations, got {values!r}. "
            f"Fix: {name}={default}"
        )
    return [_positive_duration(f"{name}[{i}]", v, examples) for i, v in enumerate(values)]


def funding_term_structure(
    funding: pd.Series | pd.DataFrame,
    windows: Sequence[str | pd.Timedelta] = ("1D", "7D", "30D"),
) -> pd.DataFrame:
    r"""Per funding event: the rate annualised on its own spacing, and rolling averages
    annualised over trailing windows.

    Parameters
    ----------
    funding : Series or DataFrame
        Funding rates per event (see :func:`funding_rates`).
    windows : sequence of str or Timedelta, default ("1D", "7D", "30D")
        Trailing windows of the rolling averages.

    Returns
    -------
    pandas.DataFrame
        Indexed by funding time. Columns: ``funding_rate``; ``spacing_hours`` (hours since the
        previous event, NaN for the first); ``events_per_year`` (365 days / spacing);
        ``annualised`` (rate × events per year); ``annualised_<w>`` for each window ``w``
        (e.g. ``annualised_7d``), NaN until the data covers a whole window.

    Notes
    -----
    Event :math:`i` at time :math:`T_i` pays rate :math:`r_i` for the period
    :math:`\Delta_i = T_i - T_{i-1}`. Over the trailing window :math:`(T - W, T]`

    .. math::

        \bar r^{\text{ann}}_W(T) = \frac{\sum_{T - W < T_i \le T} r_i}
        {\sum_{T - W < T_i \le T} \Delta_i} \times 365\ \text{days},

    the carry a 1x position of constant notional earned per year over the window: it holds
    whatever the interval was (three 8 h events or eight 3 h events a day). It is reported
    from :math:`T \ge T_0 + W` (the first event's period is unobserved), so the window is
    always whole. Events missing from the record would lengthen the next event's
    :math:`\Delta`; the bundled series have none.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="8h", tz="UTC")
    >>> ts = funding_term_structure(pd.Series([0.0001, 0.0002, 0.0003, 0.0004], index=idx),
    ...                             windows=("16h",))
    >>> float(ts["events_per_year"].iloc[1]), round(float(ts["annualised"].iloc[1]), 4)
    (1095.0, 0.219)
    >>> [round(x, 5) for x in ts["annualised_16h"].tolist()[2:]]
    [0.27375, 0.38325]
    """
    rates = funding_rates(funding)
    deltas = _positive_durations("windows", windows, _WINDOW_EXAMPLES, "('1D', '7D', '30D')")
    spacing_hours = funding_spacing_hours(rates)
    out = pd.DataFrame(
        {
            "funding_rate": rates,
            "spacing_hours": spacing_hours,
            "events_per_year": (YEAR / _HOUR) / spacing_hours,
        }
    )
    out["annualised"] = out["funding_rate"] * out["events_per_year"]
    observed = spacing_hours.notna()
    # The first event's rate pays for an unobserved period: it enters neither sum.
    paid = rates.where(observed, 0.0)
    covered = spacing_hours.where(observed, 0.0)
    index = pd.DatetimeIndex(rates.index)
    for window, delta in zip(windows, deltas, strict=True):
        ratio = paid.rolling(delta).sum() / covered.rolling(delta).sum()
        whole = index >= index[0] + delta if len(index) else np.zeros(0, dtype=bool)
        out[f"annualised_{window_label(window)}"] = (ratio * (YEAR / _HOUR)).where(whole)
    out.index.name = rates.index.name
    return out


def funding_forecast(
    funding: pd.Series | pd.DataFrame,
    *,
    method: ForecastMethod = "ewma",
    halflife: float = 3.0,
) -> pd.DataFrame:
    r"""Predicted against realised funding: a forecast of each event's rate made one event
    earlier, and its error.

    Parameters
    ----------
    funding : Series or DataFrame
        Funding rates per event (see :func:`funding_rates`).
    method : {"ewma", "last"}, default "ewma"
        ``"last"``: the next rate is forecast to equal the latest one; ``"ewma"``: an
        exponentially weighted mean of the rates so far.
    halflife : float, default 3.0
        Half-life of the EWMA, in events (> 0); ignored by ``"last"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by funding time :math:`T_i`: ``funding_rate`` (realised, known at
        :math:`T_i`), ``forecast_next`` (the forecast of the next event's rate, made at
        :math:`T_i`), ``predicted`` (the forecast of this event's rate made at
        :math:`T_{i-1}`, NaN for the first event) and ``error`` = realised − predicted.

    Notes
    -----
    With :math:`\alpha = 1 - 2^{-1/h}` the EWMA is :math:`s_0 = r_0`,
    :math:`s_i = \alpha r_i + (1 - \alpha) s_{i-1}`; ``forecast_next`` is :math:`s_i`
    (``"ewma"``) or :math:`r_i` (``"last"``), and ``predicted`` at :math:`T_i` is
    ``forecast_next`` at :math:`T_{i-1}`. Venues also publish a live "predicted" rate before
    each event; it is not in the bundled data, so these forecasts are built from past
    settled rates only.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC")
    >>> f = funding_forecast(pd.Series([0.0001, 0.0003, 0.0002], index=idx), method="last")
    >>> f["error"].round(6).tolist()
    [nan, 0.0002, -0.0001]
    """
    rates = funding_rates(funding)
    method = check_choice("method", method, FORECAST_METHODS)  # type: ignore[assignment]
    if method == "last":
        forecast = rates.copy()
    else:
        h = check_float("halflife", halflife, minimum=0.0, inclusive=False)
        forecast = rates.ewm(halflife=h, adjust=False).mean()
    out = pd.DataFrame({"funding_rate": rates, "forecast_next": forecast.astype(np.float64)})
    out["predicted"] = out["forecast_next"].shift(1)
    out["error"] = out["funding_rate"] - out["predicted"]
    return out


def funding_forecast_errors(
    funding: pd.Series | pd.DataFrame,
    *,
    methods: Sequence[ForecastMethod] = FORECAST_METHODS,
    halflife: float = 3.0,
) -> pd.DataFrame:
    r"""How well each forecast of :func:`funding_forecast` predicted the realised rates.

    Returns
    -------
    pandas.DataFrame
        One row per method (index ``method``). Columns: ``count`` (events with a forecast),
        ``bias`` (mean error, realised − predicted), ``mae``, ``rmse``, ``sign_hit`` (share of
        events whose predicted sign matched the realised sign, among events where both are
        non-zero) and ``corr`` (correlation of predicted and realised).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="8h", tz="UTC")
    >>> s = pd.Series([0.0001, 0.0003, 0.0002, -0.0001], index=idx)
    >>> funding_forecast_errors(s, methods=("last",))[["count", "mae"]].round(6).to_dict("list")
    {'count': [3], 'mae': [0.0002]}
    """
    if isinstance(methods, str) or len(methods) == 0:
        raise ConfigError(
            f"methods must be a non-empty sequence of {list(FORECAST_METHODS)}, got {methods!r}"
        )
    rows = {}
    for method in methods:
        frame = funding_forecast(funding, method=method, halflife=halflife).dropna()
        error = frame["error"]
        signed = (frame["predicted"] != 0) & (frame["funding_rate"] != 0)
        same = np.sign(frame["predicted"][signed]) == np.sign(frame["funding_rate"][signed])
        rows[method] = {
            "count": len(frame),
            "bias": float(error.mean()) if len(frame) else np.nan,
            "mae": float(error.abs().mean()) if len(frame) else np.nan,
            "rmse": float(np.sqrt((error**2).mean())) if len(frame) else np.nan,
            "sign_hit": float(same.mean()) if int(signed.sum()) else np.nan,
            "corr": float(frame["predicted"].corr(frame["funding_rate"]))
            if len(frame) > 2
            else np.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["count"] = out["count"].astype(np.int64)
    return out.rename_axis("method")


def funding_regimes(
    funding: pd.Series | pd.DataFrame,
    *,
    quantiles: tuple[float, float] = (0.1, 0.9),
    thresholds: tuple[float, float] | None = None,
    min_history: int = 90,
) -> pd.DataFrame:
    r"""Label each funding event extreme negative, normal or extreme positive, with thresholds
    fitted on the events before it (an expanding window).

    Parameters
    ----------
    funding : Series or DataFrame
        Funding rates per event (see :func:`funding_rates`).
    quantiles : (float, float), default (0.1, 0.9)
        Lower and upper quantiles of the past rates that bound the normal regime.
    thresholds : (float, float), optional
        Fixed per-event rates ``(lower, upper)`` instead of quantiles (e.g.
        ``(-0.0001, 0.0005)``); these need no history.
    min_history : int, default 90
        Past events needed before a quantile threshold is fitted (90 events are 30 days of
        8-hourly funding); earlier events are labelled ``"warmup"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by funding time: ``funding_rate``, ``lower`` and ``upper`` (the thresholds in
        force at the event), ``regime`` (one of :data:`REGIMES`).

    Notes
    -----
    With quantiles :math:`(q_l, q_u)`, event :math:`i` has thresholds
    :math:`L_i = Q_{q_l}(r_0..r_{i-1})`, :math:`U_i = Q_{q_u}(r_0..r_{i-1})` (linear
    interpolation) and is ``extreme_positive`` when :math:`r_i > U_i`, ``extreme_negative``
    when :math:`r_i < L_i`, else ``normal``. The inequalities are strict: on venues where most
    events sit at a baseline rate (Binance's 0.01%), a quantile equal to the baseline does not
    make the baseline extreme. The thresholds exclude the event itself and use no later one.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="8h", tz="UTC")
    >>> s = pd.Series([0.0001, 0.0001, 0.0009, -0.0004], index=idx)
    >>> funding_regimes(s, thresholds=(-0.0001, 0.0005))["regime"].tolist()
    ['normal', 'normal', 'extreme_positive', 'extreme_negative']
    >>> funding_regimes(s, min_history=2)["regime"].tolist()
    ['warmup', 'warmup', 'extreme_positive', 'extreme_negative']
    """
    rates = funding_rates(funding)
    if thresholds is not None:
        lower_value, upper_value = _pair("thresholds", thresholds, -1.0, 1.0)
        lower = pd.Series(lower_value, index=rates.index, dtype=np.float64)
        upper = pd.Series(upper_value, index=rates.index, dtype=np.float64)
    else:
        q_low, q_high = _pair("quantiles", quantiles, 0.0, 1.0)
        history = check_int("min_history", min_history, minimum=1)
        expanding = rates.expanding(min_periods=history)
        lower = expanding.quantile(q_low).shift(1)
        upper = expanding.quantile(q_high).shift(1)
    regime = np.where(
        rates > upper,
        "extreme_positive",
        np.where(rates < lower, "extreme_negative", "normal"),
    )
    regime = np.where(lower.isna() | upper.isna(), "warmup", regime)
    return pd.DataFrame(
        {
            "funding_rate": rates,
            "lower": lower.astype(np.float64),
            "upper": upper.astype(np.float64),
            "regime": pd.Series(regime, index=rates.index, dtype=object),
        }
    )


def _pair(name: str, value: object, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ConfigError(f"{name} must be a pair (lower, upper), got {value!r}")
    a = check_float(f"{name}[0]", value[0], minimum=low, maximum=high)
    b = check_float(f"{name}[1]", value[1], minimum=low, maximum=high)
    if not a < b:
        raise ConfigError(f"{name} must be (lower, upper) with lower < upper, got {value!r}")
    return a, b
