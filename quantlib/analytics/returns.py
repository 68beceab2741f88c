r"""Return-based performance measures: growth, risk, risk-adjusted ratios, tails, calendars.

Every function takes **simple period returns** ``r_t = E_t / E_{t-1} - 1`` (use
:func:`period_returns` to get them from an equity curve) and annualises, where it does, with
``periods_per_year`` (365 for crypto days, 252 for equity sessions, 8760 for crypto hours).
The risk-free rate is zero throughout.

Conventions follow quantstats 0.0.86 (``quantstats.stats.*`` with ``periods=365``, ``rf=0``)
so that numbers agree to rounding; where we depart (undefined ratios are NaN rather than 0,
VaR is historical rather than Gaussian, months without data are NaN rather than 0) the
docstring says so. ``docs/metrics.md`` is the formula sheet.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME
from quantlib._validation import check_float, check_int, check_returns
from quantlib.analytics._inputs import as_float_array, check_equity, sample_period_ends
from quantlib.analytics.drawdown import drawdown_values
from quantlib.exceptions import DataError

__all__ = [
    "cagr",
    "calmar",
    "conditional_value_at_risk",
    "kurtosis",
    "monthly_returns",
    "period_profit_factor",
    "period_returns",
    "period_win_rate",
    "sharpe",
    "skew",
    "sortino",
    "tail_ratio",
    "total_return",
    "value_at_risk",
    "volatility",
    "yearly_returns",
]


def _returns(returns: object, min_obs: int = 1) -> np.ndarray:
    return as_float_array(check_returns("returns", returns, min_obs=min_obs))


def _ppy(periods_per_year: object) -> int:
    return check_int("periods_per_year", periods_per_year, minimum=1)


def period_returns(equity: pd.Series, freq: str | None = "1D") -> pd.Series:
    r"""Simple returns of an equity curve sampled once per calendar period (UTC).

    Parameters
    ----------
    equity : pandas.Series
        Account equity marked at each bar, on a strictly increasing tz-aware
        DatetimeIndex; every value > 0, or falling to exactly 0 (a wiped-out account) and
        staying there: the period it reaches 0 returns -100% and every later period 0. The
        first value is the starting cash.
    freq : str or None, default "1D"
        A pandas offset alias (``"1D"``, ``"1h"``, ``"W"``, ``"ME"``). ``None`` gives the
        return between consecutive marks, without resampling.

    Returns
    -------
    pandas.Series
        ``return`` per period, indexed by the period's label (pandas ``resample`` labels:
        the start of the day for ``"1D"``). Periods without any mark (a weekend on an
        exchange calendar) are left out, so the next return spans the gap.

    Raises
    ------
    DataError
        If the curve is empty, holds NaN or a value <= 0, or its index is not strictly
        increasing and tz-aware; with ``freq=None``, if it has fewer than 2 marks.
    ConfigError
        If ``freq`` is not a pandas offset alias.

    Notes
    -----
    The curve is sampled at its last mark in each period, :math:`E_k`, and

    .. math:: r_1 = E_1 / E_{\text{first}} - 1, \qquad r_k = E_k / E_{k-1} - 1,

    so the first period is measured from the curve's first value (the starting cash): a
    curve that begins with one flat mark on its first day has ``r_1 = 0`` for that day.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="12h", tz="UTC")
    >>> period_returns(pd.Series([100.0, 110.0, 99.0, 121.0], index=idx)).round(12).tolist()
    [0.1, 0.1]
    """
    curve = _ruin_checked(check_equity("equity", equity, positive=False))
    values = as_float_array(curve)
    if freq is None:
        if len(values) < 2:
            raise DataError(
                f"equity needs at least 2 marks for freq=None, got {len(values)}. "
                "Fix: pass a longer curve or a freq such as '1D'",
                rule="too few observations",
            )
        with np.errstate(invalid="ignore"):  # 0 / 0 after ruin, set to 0 below
            out = values[1:] / values[:-1] - 1.0
        index = curve.index[1:]
    else:
        sampled = sample_period_ends(curve, freq)
        ends = as_float_array(sampled)
        starts = np.concatenate([values[:1], ends[:-1]])
        with np.errstate(invalid="ignore"):  # 0 / 0 after ruin, set to 0 below
            out = ends / starts - 1.0
        index = sampled.index
    # After ruin the account stays at zero: no return (0/0) but nothing left to gain or lose.
    out = np.where(np.isnan(out), 0.0, out)
    return pd.Series(out, index=pd.DatetimeIndex(index, name=INDEX_NAME), name="return")


def _ruin_checked(curve: pd.Series) -> pd.Series:
    """``curve`` if every value is > 0, or it falls to exactly 0 (a wiped-out account, e.g. a
    liquidation that took the last cash) and stays there; a DataError otherwise."""
    values = curve.to_numpy()
    if (values > 0).all():
        return curve
    if (values < 0).any():
        pos = int(np.argmax(values < 0))
        raise DataError(
            f"equity must be >= 0, got {float(values[pos])!r} at {curve.index[pos]}. Fix: pass "
            "account equity (cash plus marked positions), not P&L",
            rule="non-positive equity",
            position=pos,
        )
    first = int(np.argmax(values == 0))
    if (values[first:] != 0).any():
        pos = first + int(np.argmax(values[first:] != 0))
        raise DataError(
            f"equity reaches 0 at {curve.index[first]} and is {float(values[pos])!r} again at "
            f"{curve.index[pos]}: a wiped-out account cannot recover without new cash. Fix: "
            "pass account equity (cash plus marked positions), not P&L",
            rule="non-positive equity",
            position=pos,
        )
    return curve


def total_return(returns: pd.Series) -> float:
    r"""Compounded return over the whole series.

    Notes
    -----
    .. math:: R = \prod_t (1 + r_t) - 1

    Examples
    --------
    >>> round(total_return(pd.Series([0.1, -0.1])), 12)
    -0.01
    """
    return float(np.prod(1.0 + _returns(returns)) - 1.0)


def cagr(returns: pd.Series, periods_per_year: int = 365) -> float:
    r"""Compound annual growth rate.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns.
    periods_per_year : int, default 365
        Periods in a year; the number of years is ``n / periods_per_year``.

    Returns
    -------
    float
        Annual growth rate; NaN if the compounded wealth ends below zero.

    Notes
    -----
    .. math:: CAGR = (1 + R)^{P / n} - 1

    with :math:`R` the total return, :math:`n` the number of returns and :math:`P` the
    periods per year. Years are counted as ``n / P`` (quantstats' convention), not from
    the calendar span of the index; the two agree for gap-free daily crypto returns.

    Examples
    --------
    >>> round(cagr(pd.Series([0.01] * 365)), 12)
    36.78343...
    """
    r = _returns(returns)
    ppy = _ppy(periods_per_year)
    wealth = float(np.prod(1.0 + r))
    if wealth < 0:
        return math.nan
    return float(wealth ** (ppy / len(r)) - 1.0)


def volatility(returns: pd.Series, periods_per_year: int = 365) -> float:
    r"""Annualised standard deviation of returns (sample, ``ddof=1``).

    Notes
    -----
    .. math:: \sigma_{ann} = \sqrt{P} \cdot \sqrt{\tfrac{1}{n-1} \sum_t (r_t - \bar r)^2}

    Examples
    --------
    >>> round(volatility(pd.Series([0.01, -0.01]), periods_per_year=1), 12)
    0.014142135624
    """
    r = _returns(returns, min_obs=2)
    return float(np.std(r, ddof=1) * math.sqrt(_ppy(periods_per_year)))


def sharpe(returns: pd.Series, periods_per_year: int = 365) -> float:
    r"""Annualised Sharpe ratio with a zero risk-free rate.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns, at least 2.
    periods_per_year : int, default 365
        Annualisation factor; pass 1 for the per-period ratio (the one the probabilistic
        and deflated Sharpe ratios take).

    Returns
    -------
    float
        NaN when the returns do not vary, to rounding (the ratio is undefined; quantstats
        divides by zero, or by a rounding-error deviation).

    Notes
    -----
    .. math:: SR = \sqrt{P} \, \frac{\bar r}{s_r}, \qquad s_r \text{ with } ddof = 1

    Examples
    --------
    >>> round(sharpe(pd.Series([0.02, 0.0, 0.01]), periods_per_year=1), 12)
    1.0
    """
    r = _returns(returns, min_obs=2)
    mean = float(np.mean(r))
    std = float(np.std(r, ddof=1))
    # A constant series has a rounding-error std (~1e-18 for 0.01 repeated), not zero;
    # a per-period Sharpe above 1e12 can only be that artefact.
    if std <= 1e-12 * abs(mean) or std == 0.0:
        return math.nan
    return float(mean / std * math.sqrt(_ppy(periods_per_year)))


def sortino(returns: pd.Series, periods_per_year: int = 365) -> float:
    r"""Annualised Sortino ratio (target 0, downside deviation over all periods).

    Returns
    -------
    float
        NaN when no period loses (the downside deviation is zero), as in quantstats.

    Notes
    -----
    .. math::
        DD = \sqrt{\tfrac{1}{n} \sum_t \min(r_t, 0)^2}, \qquad
        Sortino = \sqrt{P} \, \frac{\bar r}{DD}

    The downside deviation divides by all ``n`` periods, not by the number of losing ones
    (Sortino & Price 1994; quantstats does the same).

    Examples
    --------
    >>> round(sortino(pd.Series([0.03, -0.01, 0.01, -0.01]), periods_per_year=1), 12)
    0.707106781187
    """
    r = _returns(returns, min_obs=2)
    downside = math.sqrt(float(np.sum(np.minimum(r, 0.0) ** 2)) / len(r))
    if downside == 0.0:
        return math.nan
    return float(np.mean(r) / downside * math.sqrt(_ppy(periods_per_year)))


def calmar(returns: pd.Series, periods_per_year: int = 365) -> float:
    r"""CAGR over the absolute maximum drawdown of the compounded returns.

    Returns
    -------
    float
        NaN when there is no drawdown.

    Notes
    -----
    .. math:: Calmar = \frac{CAGR}{|MDD|}

    with the drawdown measured on ``[1, cumprod(1 + r)]`` (a loss in the first period
    counts). :func:`quantlib.analytics.performance_summary` uses the per-bar equity curve's
    drawdown instead, which can be deeper than the one seen at period ends.

    Examples
    --------
    >>> round(calmar(pd.Series([0.1, -0.5, 0.2]), periods_per_year=3), 12)
    -0.68
    """
    r = _returns(returns)
    mdd = float(drawdown_values(np.concatenate([[1.0], np.cumprod(1.0 + r)])).min())
    if mdd == 0.0:
        return math.nan
    return cagr(returns, periods_per_year) / abs(mdd)


def period_win_rate(returns: pd.Series) -> float:
    r"""Fraction of non-zero periods with a positive return.

    Returns
    -------
    float
        NaN when every return is zero (quantstats returns 0.0 there, which reads as "always
        lost" for a strategy that never traded).

    Notes
    -----
    .. math:: WR = \frac{\#\{r_t > 0\}}{\#\{r_t \ne 0\}}

    Counted per period, not per trade: a trade held over three up days and two down days
    adds three wins and two losses. The trade-based rate is
    :func:`quantlib.analytics.trade_stats`.

    Examples
    --------
    >>> period_win_rate(pd.Series([0.01, 0.0, -0.02, 0.03]))
    0.666...
    """
    r = _returns(returns)
    active = np.count_nonzero(r)
    if active == 0:
        return math.nan
    return float(np.count_nonzero(r > 0) / active)


def period_profit_factor(returns: pd.Series) -> float:
    r"""Sum of non-negative period returns over the absolute sum of negative ones.

    Returns
    -------
    float
        ``inf`` when no period loses but some gain; NaN when every return is zero
        (quantstats returns 0.0 there).

    Notes
    -----
    .. math:: PF = \frac{\sum_{r_t \ge 0} r_t}{\left| \sum_{r_t < 0} r_t \right|}

    Examples
    --------
    >>> round(period_profit_factor(pd.Series([0.03, -0.01, 0.01, -0.01])), 12)
    2.0
    """
    r = _returns(returns)
    wins = float(r[r >= 0].sum())
    losses = abs(float(r[r < 0].sum()))
    if losses == 0.0:
        return math.inf if wins > 0 else math.nan
    return wins / losses


def tail_ratio(returns: pd.Series, cutoff: float = 0.95) -> float:
    r"""Right tail over left tail: ``|q(cutoff) / q(1 - cutoff)|``.

    Returns
    -------
    float
        NaN when the lower quantile is zero.

    Notes
    -----
    .. math:: TR = \left| \frac{Q(c)}{Q(1 - c)} \right|

    Quantiles interpolate linearly between order statistics (numpy's and pandas' default).

    Examples
    --------
    >>> round(tail_ratio(pd.Series([-0.02, -0.01, 0.0, 0.01, 0.04]), cutoff=0.75), 12)
    1.0
    """
    r = _returns(returns)
    c = check_float("cutoff", cutoff, minimum=0.5, maximum=1.0, inclusive=False)
    upper = float(np.quantile(r, c))
    lower = float(np.quantile(r, 1 - c))
    if lower == 0.0:
        return math.nan
    return abs(upper / lower)


def value_at_risk(returns: pd.Series, confidence: float = 0.95) -> float:
    r"""Historical value at risk: the ``1 - confidence`` quantile of the returns.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns.
    confidence : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    float
        A return, negative for a loss (``-0.05``: on the worst 5% of periods the return is
        -5% or worse), the sign quantstats reports.

    Notes
    -----
    .. math:: VaR_c = Q(1 - c)

    with linear interpolation between order statistics. quantstats'
    ``value_at_risk`` is the Gaussian (variance–covariance) estimate
    :math:`\bar r + s_r \Phi^{-1}(1 - c)`; ours is historical, the same quantile
    quantstats' historical CVaR cuts its tail at. Fat-tailed returns make the two differ.

    Examples
    --------
    >>> round(value_at_risk(pd.Series([-0.04, -0.02, 0.0, 0.01, 0.03]), 0.75), 12)
    -0.02
    """
    r = _returns(returns)
    c = check_float("confidence", confidence, minimum=0.0, maximum=1.0, inclusive=False)
    return float(np.quantile(r, 1 - c))


def conditional_value_at_risk(returns: pd.Series, confidence: float = 0.95) -> float:
    r"""Historical conditional VaR (expected shortfall): mean of the returns at or below VaR.

    Notes
    -----
    .. math:: CVaR_c = \operatorname{mean}\{ r_t : r_t \le VaR_c \}

    Equal to ``quantstats.stats.conditional_value_at_risk(r, method="historical")``.

    Examples
    --------
    >>> round(conditional_value_at_risk(pd.Series([-0.04, -0.02, 0.0, 0.01, 0.03]), 0.75), 12)
    -0.03
    """
    r = _returns(returns)
    var = value_at_risk(returns, confidence)
    return float(np.mean(r[r <= var]))


def skew(returns: pd.Series) -> float:
    r"""Sample skewness (adjusted Fisher–Pearson, as pandas ``Series.skew``); NaN below 3 obs.

    Notes
    -----
    .. math:: G_1 = \frac{\sqrt{n(n-1)}}{n-2} \, \frac{m_3}{m_2^{3/2}}

    with :math:`m_k` the k-th central sample moment.

    Examples
    --------
    >>> skew(pd.Series([0.0, 0.0, 1.0]))
    1.732050807568...
    """
    return float(cast(float, check_returns("returns", returns).skew()))


def kurtosis(returns: pd.Series) -> float:
    r"""Sample **excess** kurtosis (bias-corrected, as pandas ``Series.kurt``; normal = 0).

    Add 3 for the non-excess kurtosis that the probabilistic and deflated Sharpe ratios
    take. NaN below 4 observations.

    Notes
    -----
    .. math::
        G_2 = \frac{n-1}{(n-2)(n-3)} \left[ (n+1) \frac{m_4}{m_2^2} - 3(n-1) \right]

    Examples
    --------
    >>> round(kurtosis(pd.Series([0.0, 0.0, 0.0, 1.0])), 12)
    4.0
    """
    return float(cast(float, check_returns("returns", returns).kurt()))


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    r"""Compounded return of each calendar month (UTC) as a year × month table.

    Parameters
    ----------
    returns : pandas.Series
        Simple period returns on a strictly increasing tz-aware DatetimeIndex.

    Returns
    -------
    pandas.DataFrame
        Index ``year`` (int), columns ``month`` 1..12; NaN for a month without any return
        (quantstats fills 0 there, which reads as a flat month).

    Notes
    -----
    .. math:: R_{y,m} = \prod_{t \in (y, m)} (1 + r_t) - 1

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2024-01-05", "2024-01-20", "2024-03-01"], tz="UTC")
    >>> table = monthly_returns(pd.Series([0.1, 0.1, -0.5], index=idx))
    >>> table.round(12).loc[2024, [1, 2, 3]].tolist()
    [0.21, nan, -0.5]
    """
    r = check_returns("returns", returns, time_index=True)
    index = pd.DatetimeIndex(r.index)
    frame = pd.DataFrame(
        {"year": index.year, "month": index.month, "growth": 1.0 + as_float_array(r)}
    )
    table = frame.pivot_table(index="year", columns="month", values="growth", aggfunc="prod")
    table = table.reindex(columns=pd.RangeIndex(1, 13, name="month")) - 1.0
    return table


def yearly_returns(returns: pd.Series) -> pd.Series:
    r"""Compounded return of each calendar year (UTC).

    Notes
    -----
    .. math:: R_y = \prod_{t \in y} (1 + r_t) - 1

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2023-12-31", "2024-01-01", "2024-06-01"], tz="UTC")
    >>> yearly_returns(pd.Series([0.1, 0.1, 0.1], index=idx)).round(12).to_dict()
    {2023: 0.1, 2024: 0.21}
    """
    r = check_returns("returns", returns, time_index=True)
    index = pd.DatetimeIndex(r.index)
    growth = (1.0 + r).groupby(index.year).prod() - 1.0
    growth.index = growth.index.rename("year")
    return growth.rename("return")
