r"""One call from a backtest's equity curve (and trade ledger) to every headline number.

:func:`performance_summary` samples the equity curve once per period (daily by default),
computes the return-based measures of :mod:`quantlib.analytics.returns` on those returns,
the drawdowns on the full per-bar curve, the probabilistic and deflated Sharpe ratios for
the number of configurations tried, and, when given, trade statistics, exposure and
alpha/beta/correlation against a benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int, check_returns
from quantlib.analytics._inputs import as_float_array
from quantlib.analytics.drawdown import DrawdownDuration, max_drawdown, max_drawdown_duration
from quantlib.analytics.relative import BenchmarkStats, benchmark_stats, common_period_returns
from quantlib.analytics.returns import (
    cagr,
    conditional_value_at_risk,
    kurtosis,
    period_profit_factor,
    period_returns,
    period_win_rate,
    sharpe,
    skew,
    sortino,
    tail_ratio,
    total_return,
    value_at_risk,
    volatility,
)
from quantlib.analytics.sharpe_inference import (
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
)
from quantlib.analytics.trades import TradeStats, trade_stats
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import Summary

__all__ = ["PerformanceSummary", "performance_summary", "turnover"]


@dataclass(frozen=True)
class PerformanceSummary(Summary):
    """Headline performance of one equity curve.

    Return-based figures use the period returns (``freq``, annualised with
    ``periods_per_year``); drawdowns use every mark of the curve. See
    :func:`performance_summary` for the definitions and ``docs/metrics.md`` for formulas.

    Attributes
    ----------
    start, end : pandas.Timestamp
        First and last mark of the equity curve.
    freq : str
        Period of the returns (``"1D"``).
    periods_per_year, n_periods : int
        Annualisation factor and number of period returns.
    total_return, cagr, volatility, sharpe, sortino, calmar : float
        Growth and risk-adjusted ratios (annualised where it applies).
    max_drawdown : float
        Deepest drawdown of the per-bar curve (negative fraction).
    max_drawdown_duration : DrawdownDuration
        Longest spell under water of the per-bar curve.
    period_win_rate, period_profit_factor, tail_ratio : float
        Period-based win rate and profit factor, and the 95/5 tail ratio.
    var_95, cvar_95 : float
        Historical one-period VaR and CVaR at 95% (returns, negative = loss).
    skew, kurtosis : float
        Sample skewness and **excess** kurtosis of the period returns.
    probabilistic_sharpe : float
        P(true Sharpe > 0).
    deflated_sharpe : float
        P(true Sharpe > expected maximum of ``n_trials`` unskilled trials).
    expected_max_sharpe : float
        That expected maximum, annualised (0 for one trial).
    n_trials : int
        Configurations tried before this one was selected.
    trials_sharpe_variance : float
        Variance of the trials' annualised Sharpe ratios (NaN when not given).
    trades : TradeStats or None
        Trade-ledger statistics, when a ledger was given.
    benchmark : BenchmarkStats or None
        Alpha (annualised), beta and correlation, when a benchmark was given.
    exposure : float or None
        Mean fraction of time with a position, when given.
    turnover : float or None
        Traded notional (every entry, and every exit of a closed trade) per year over the
        mean equity, when a ledger was given (see :func:`turnover`).
    fees_paid, funding_paid : float or None
        Fees and funding paid over the ledger's trades, in the quote currency (funding
        signed: positive = paid, negative = received), when the ledger books them (a
        backtest's ``fees`` and ``funding`` columns; funding is 0 on spot). Slippage is in the
        fill prices: :func:`quantlib.analytics.costs.trade_costs` reads it back.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    freq: str
    periods_per_year: int
    n_periods: int
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_duration: DrawdownDuration
    period_win_rate: float
    period_profit_factor: float
    tail_ratio: float
    var_95: float
    cvar_95: float
    skew: float
    kurtosis: float
    probabilistic_sharpe: float
    deflated_sharpe: float
    expected_max_sharpe: float
    n_trials: int
    trials_sharpe_variance: float
    trades: TradeStats | None = None
    benchmark: BenchmarkStats | None = None
    exposure: float | None = None
    turnover: float | None = None
    fees_paid: float | None = None
    funding_paid: float | None = None

    def to_dict(self) -> dict[str, float | int]:
        """A flat dict of Python floats and ints, ready for ``json.dumps``.

        NaN marks a figure that is undefined for this curve (a Sortino ratio without a
        losing period, an average R without stops), ``inf`` a profit factor without
        losses; ``json.dumps`` writes them as ``NaN`` and ``Infinity``. Trade keys
        (``n_trades``, ``win_rate``, ...) appear only with a ledger, ``alpha``/``beta``/
        ``correlation``/``benchmark_n_common`` only with a benchmark, ``exposure`` only
        when given, ``fees_paid``/``funding_paid`` only with a ledger that books them.
        ``win_rate``/``profit_factor`` are trade-based; the period-based ones carry the
        ``period_`` prefix.
        """
        out: dict[str, float | int] = {
            "total_return": self.total_return,
            "cagr": self.cagr,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
            "sortino": self.sortino,
            "calmar": self.calmar,
            "max_drawdown": self.max_drawdown,
            "max_drawdown_duration_days": self.max_drawdown_duration.days,
            "max_drawdown_duration_periods": self.max_drawdown_duration.periods,
            "period_win_rate": self.period_win_rate,
            "period_profit_factor": self.period_profit_factor,
            "tail_ratio": self.tail_ratio,
            "var_95": self.var_95,
            "cvar_95": self.cvar_95,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
            "probabilistic_sharpe": self.probabilistic_sharpe,
            "deflated_sharpe": self.deflated_sharpe,
            "expected_max_sharpe": self.expected_max_sharpe,
            "n_trials": self.n_trials,
            "trials_sharpe_variance": self.trials_sharpe_variance,
            "n_periods": self.n_periods,
            "periods_per_year": self.periods_per_year,
        }
        if self.trades is not None:
            out.update(self.trades.to_dict())
        if self.benchmark is not None:
            bench = self.benchmark
            out.update(
                alpha=bench.alpha,
                beta=bench.beta,
                correlation=bench.correlation,
                benchmark_n_common=bench.n_common,
            )
        if self.exposure is not None:
            out["exposure"] = self.exposure
        if self.turnover is not None:
            out["turnover"] = self.turnover
        if self.fees_paid is not None:
            out["fees_paid"] = self.fees_paid
        if self.funding_paid is not None:
            out["funding_paid"] = self.funding_paid
        return {
            key: int(value) if isinstance(value, int | np.integer) else float(value)
            for key, value in out.items()
        }

    def heading(self) -> str:
        """The period covered: ``start .. end (n_periods x freq)``."""
        return f"{self.start} .. {self.end} ({self.n_periods} x {self.freq})"

    def summary(self) -> PerformanceSummary:
        """This object: a performance summary is already a :class:`~quantlib.results.Summary`
        (``str()`` gives the period on top and one aligned ``name  value`` line per figure)."""
        return self


def turnover(trades: pd.DataFrame, equity: pd.Series, years: float) -> float:
    """Traded notional per year over the mean equity.

    Traded notional = Σ entry notional (``entry_price × size``) over every trade + Σ exit
    notional (``exit_price × size``) over the closed ones; a round trip of the whole account
    once a year is a turnover of 2.

    Examples
    --------
    >>> trades = pd.DataFrame({"entry_price": [100.0, 50.0], "size": [1.0, 2.0],
    ...                        "exit_price": [110.0, float("nan")]})
    >>> idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    >>> turnover(trades, pd.Series([100.0, 300.0], index=idx), years=0.5)  # 310 / 200 / 0.5
    3.1
    """
    if years <= 0.0:
        return math.nan
    size = trades["size"].to_numpy(np.float64)
    entries = float(np.nansum(trades["entry_price"].to_numpy(np.float64) * size))
    exits = float(np.nansum(trades["exit_price"].to_numpy(np.float64) * size))
    return (entries + exits) / float(equity.mean()) / years


def _exposure(exposure: float | pd.Series) -> float:
    if isinstance(exposure, pd.Series):
        values = as_float_array(check_returns("exposure", exposure))
        return float(np.mean(values != 0.0))
    return check_float("exposure", exposure, minimum=0.0, maximum=1.0)


def performance_summary(
    equity: pd.Series,
    trades: pd.DataFrame | None = None,
    *,
    benchmark: pd.Series | None = None,
    periods_per_year: int = 365,
    n_trials: int = 1,
    trials_sharpe_variance: float | None = None,
    exposure: float | pd.Series | None = None,
    freq: str = "1D",
) -> PerformanceSummary:
    r"""Every headline performance figure of an equity curve, as a frozen summary.

    Parameters
    ----------
    equity : pandas.Series
        Account equity marked at each bar close on a strictly increasing tz-aware
        DatetimeIndex, first value = initial cash, every value > 0.
    trades : pandas.DataFrame, optional
        The trade ledger; adds the trade statistics of :func:`trade_stats`.
    benchmark : pandas.Series, optional
        A benchmark **price or equity level** series (e.g. a close series). Both series are
        sampled at the period ends they share and compared on the returns between those
        (:func:`~quantlib.analytics.relative.common_period_returns`), so each pair spans
        the same interval.
    periods_per_year : int, default 365
        Periods of ``freq`` in a year (365 for crypto days, 252 for equity sessions).
    n_trials : int, default 1
        Configurations tried before this one was chosen; deflates the Sharpe ratio.
    trials_sharpe_variance : float, optional
        Variance of the **annualised** Sharpe ratios across those trials; required when
        ``n_trials > 1``.
    exposure : float or pandas.Series, optional
        Fraction of time with a position in [0, 1], or a per-bar series of position size
        or in-market flags whose non-zero share is taken.
    freq : str, default "1D"
        Period of the returns, a pandas offset alias; ``periods_per_year`` must match it.

    Returns
    -------
    PerformanceSummary

    Raises
    ------
    DataError
        If the curve breaks the contract of :func:`period_returns` or yields fewer than 2
        period returns.
    ConfigError
        If ``n_trials > 1`` without ``trials_sharpe_variance``, or an argument is out of
        range.

    Notes
    -----
    On the period returns :math:`r_t` (see :func:`period_returns`), with :math:`P`
    = ``periods_per_year``: ``sharpe`` = :math:`\sqrt P \bar r / s_r`, ``cagr`` =
    :math:`(1+R)^{P/n} - 1`, and the rest as in :mod:`quantlib.analytics.returns`.
    ``max_drawdown`` and its duration come from every mark of ``equity``; ``calmar`` is
    ``cagr / |max_drawdown|`` with that drawdown. The deflated Sharpe ratio uses
    :math:`V = ` ``trials_sharpe_variance / P`` per period.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    >>> eq = pd.Series([100.0, 102.0, 101.0, 104.0, 103.0], index=idx)
    >>> s = performance_summary(eq)
    >>> s.n_periods, round(s.total_return, 6), round(s.max_drawdown, 6)
    (5, 0.03, -0.009804)
    >>> sorted(s.to_dict())[:4]
    ['cagr', 'calmar', 'cvar_95', 'deflated_sharpe']
    """
    ppy = check_int("periods_per_year", periods_per_year, minimum=1)
    trials = check_int("n_trials", n_trials, minimum=1)
    if trials_sharpe_variance is None:
        if trials > 1:
            raise ConfigError(
                f"trials_sharpe_variance is required when n_trials > 1 (got n_trials={trials}). "
                "Fix: pass the variance of the annualised Sharpe ratios of all the "
                "configurations tried"
            )
        variance = math.nan
    else:
        variance = check_float("trials_sharpe_variance", trials_sharpe_variance, minimum=0.0)
    share = None if exposure is None else _exposure(exposure)

    returns = period_returns(equity, freq)
    if len(returns) < 2:
        raise DataError(
            f"equity spans {len(returns)} period(s) of {freq!r}; a Sharpe ratio needs at "
            "least 2. Fix: pass a longer curve or a shorter freq",
            rule="too few observations",
        )
    mdd = max_drawdown(equity)
    growth = cagr(returns, ppy)
    sr0 = expected_max_sharpe(trials, 0.0 if math.isnan(variance) else variance / ppy)
    return PerformanceSummary(
        start=pd.Timestamp(equity.index[0]),
        end=pd.Timestamp(equity.index[-1]),
        freq=freq,
        periods_per_year=ppy,
        n_periods=len(returns),
        total_return=total_return(returns),
        cagr=growth,
        volatility=volatility(returns, ppy),
        sharpe=sharpe(returns, ppy),
        sortino=sortino(returns, ppy),
        calmar=growth / abs(mdd) if mdd < 0 else math.nan,
        max_drawdown=mdd,
        max_drawdown_duration=max_drawdown_duration(equity),
        period_win_rate=period_win_rate(returns),
        period_profit_factor=period_profit_factor(returns),
        tail_ratio=tail_ratio(returns),
        var_95=value_at_risk(returns, 0.95),
        cvar_95=conditional_value_at_risk(returns, 0.95),
        skew=skew(returns),
        kurtosis=kurtosis(returns),
        probabilistic_sharpe=probabilistic_sharpe(returns),
        deflated_sharpe=deflated_sharpe(
            returns, trials, 0.0 if math.isnan(variance) else variance / ppy
        ),
        expected_max_sharpe=sr0 * math.sqrt(ppy),
        n_trials=trials,
        trials_sharpe_variance=variance,
        trades=None if trades is None else trade_stats(trades),
        benchmark=None
        if benchmark is None
        else benchmark_stats(*common_period_returns(equity, benchmark, freq), ppy),
        exposure=share,
        turnover=None
        if trades is None or not {"entry_price", "exit_price", "size"} <= set(trades.columns)
        else turnover(trades, equity, len(returns) / ppy),
        fees_paid=_paid(trades, "fees"),
        funding_paid=_paid(trades, "funding"),
    )


def _paid(trades: pd.DataFrame | None, column: str) -> float | None:
    """The sum of a ledger's cost column (None without a ledger or without that column)."""
    if trades is None or column not in trades.columns:
        return None
    return float(trades[column].sum()) + 0.0  # as BacktestResult.fees_paid; + 0.0: no "-0.0"
