"""Portfolio sweeps and walk-forward runs: parameter grids of portfolio strategies and
allocators (lookbacks × rebalance calendars × allocators × strategy parameters), every
configuration a trial of the registry (:mod:`quantlib.research.trials`), the deflated Sharpe
ratio of the choice charged with the count, CSCV's PBO over the sweep's daily returns, and
walk-forward validation with the conventions and labels of :mod:`quantlib.research.walkforward`.

Grid keys: ``allocator``, ``rebalance`` and ``lookback`` name the spec (see
:func:`quantlib.research.portfolio.portfolio_strategy`); any other key is a parameter of the
strategy. A combination the strategy refuses is counted in ``invalid``, not run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from quantlib._validation import check_choice, ohlcv_arrays
from quantlib.exceptions import ConfigError, DataError
from quantlib.portfolio import PortfolioConfig, PortfolioResult, run_portfolio
from quantlib.research.portfolio import (
    METRIC_COLUMNS,
    Funding,
    _bar_config,
    _timeframe,
    book_metrics,
    portfolio_config_id,
    portfolio_strategy,
    spec_params,
)
from quantlib.research.sweeps import _union_index as _union
from quantlib.research.sweeps import parameter_grid
from quantlib.research.sweeps_metrics import (
    SELECTION_METRICS,
    day_ends,
    select_best,
    trial_frame,
    trials_variance,
)
from quantlib.research.trials import record_trials
from quantlib.research.walkforward import _fold_label, _folds, _window
from quantlib.strategy.portfolio.base import PortfolioStrategy, strategy_weights

if TYPE_CHECKING:
    from quantlib.analytics.overfitting import CSCVResult
    from quantlib.analytics.summary import PerformanceSummary

__all__ = [
    "PortfolioSweepResult",
    "PortfolioWalkForwardResult",
    "portfolio_sweep",
    "portfolio_walk_forward",
]

_FOLD_METRICS: tuple[str, ...] = ("sharpe", "cagr", "total_return", "max_drawdown", "n_trades")


def _bar_map(bars: object, where: str) -> dict[str, pd.DataFrame]:
    if not isinstance(bars, Mapping) or not bars:
        raise ConfigError(
            f"{where}: bars must be a non-empty mapping asset → OHLCV DataFrame, got "
            f"{type(bars).__name__}. Fix: pass {{'BTCUSDT': load_ohlcv('BTCUSDT', '1d'), ...}}"
        )
    out = {str(k): v for k, v in bars.items()}
    for asset, frame in out.items():
        ohlcv_arrays(frame, f"{where}[{asset}]", min_bars=2)
    return out


def _strategies(
    grid: Mapping[str, Sequence[Any]],
    strategy: str | None,
    allocator: str | None,
    params: Mapping[str, Any] | None,
    rebalance: str,
) -> tuple[list[dict[str, Any]], list[PortfolioStrategy], pd.DataFrame]:
    combos = parameter_grid(grid) if grid else [{}]
    valid: list[dict[str, Any]] = []
    built: list[PortfolioStrategy] = []
    invalid: list[dict[str, Any]] = []
    for row in combos:
        spec, rest = spec_params(row)
        if "strategy" in spec:
            raise ConfigError(
                "grid key 'strategy' is not a parameter. Fix: run one sweep per strategy "
                "(--strategy), or sweep 'allocator' without a strategy"
            )
        try:
            built.append(
                portfolio_strategy(
                    strategy,
                    allocator=spec.get("allocator", allocator),
                    params={**dict(params or {}), **rest},
                    rebalance=spec.get("rebalance", rebalance),
                    lookback=spec.get("lookback"),
                )
            )
        except ConfigError as exc:
            if not valid and not invalid and "unknown" in str(exc):
                raise
            invalid.append({**row, "reason": str(exc)})
        else:
            valid.append(row)
    if not valid:
        reason = invalid[0]["reason"] if invalid else "empty grid"
        raise ConfigError(
            f"no combination of the grid is valid; the first is refused with: {reason}"
        )
    return valid, built, pd.DataFrame(invalid, columns=[*combos[0], "reason"])


@dataclass(frozen=True)
class PortfolioSweepResult:
    """Every valid combination of a portfolio sweep, its metrics and its daily returns.

    Attributes
    ----------
    table : DataFrame
        One row per valid combination, indexed by ``trial`` (grid order): the grid's
        parameters, ``label``, ``config_id`` and the sweep metrics (``n_trades`` counts
        orders).
    returns : DataFrame
        Daily returns (T days × N trials): the input of CSCV (:meth:`pbo`).
    invalid : DataFrame
        The combinations refused, with the ``reason``.
    params : tuple of dict
        The grid row of each trial; ``strategies`` the strategy each ran.
    results : tuple of PortfolioResult
    """

    grid: Mapping[str, tuple[Any, ...]]
    table: pd.DataFrame
    returns: pd.DataFrame = field(repr=False)
    invalid: pd.DataFrame = field(repr=False)
    params: tuple[dict[str, Any], ...] = field(repr=False)
    strategies: tuple[PortfolioStrategy, ...] = field(repr=False)
    results: tuple[PortfolioResult, ...] = field(repr=False)
    metric: str
    config: PortfolioConfig = field(repr=False)
    assets: tuple[str, ...]
    timeframe: str
    period: tuple[pd.Timestamp, pd.Timestamp]

    @property
    def n_trials(self) -> int:
        """Combinations run (the refused ones are not trials)."""
        return len(self.table)

    @property
    def n_invalid(self) -> int:
        return len(self.invalid)

    @property
    def periods_per_year(self) -> int:
        return self.results[0].periods_per_year

    def best(self, metric: str | None = None) -> pd.Series:
        """The table row of the best trial by ``metric`` (ties to the earliest; NaN never
        best)."""
        return select_best(
            self.table,
            metric or self.metric,
            what=f"the portfolio sweep on {self.period[0]} to {self.period[1]}",
            hint="fewer than 2 days, or no position. Fix: use a longer period or shorter lookbacks",
        )

    def best_trial(self, metric: str | None = None) -> int:
        return int(str(self.best(metric).name))

    def best_params(self, metric: str | None = None) -> dict[str, Any]:
        """The grid row of :meth:`best`."""
        return dict(self.params[self.best_trial(metric)])

    @property
    def trials_sharpe_variance(self) -> float:
        """Variance (ddof 1) of the trials' annualised Sharpe ratios (a flat trial's is 0, see
        :data:`~quantlib.research.sweeps_metrics.METRIC_COLUMNS`); NaN below two finite."""
        return trials_variance(self.table["daily_sharpe"].to_numpy(), self.periods_per_year)

    def summary(
        self, metric: str | None = None, *, n_trials: int | None = None
    ) -> PerformanceSummary:
        """Performance of the best trial, its Sharpe ratio deflated by ``n_trials`` (default
        this sweep's count; pass the registry's count to charge earlier runs too)."""
        variance = self.trials_sharpe_variance
        return self.results[self.best_trial(metric)].summary(
            n_trials=n_trials or self.n_trials,
            trials_sharpe_variance=0.0 if math.isnan(variance) else variance,
        )

    def pbo(self, n_partitions: int = 16) -> CSCVResult:
        """Probability of backtest overfitting of picking the best Sharpe ratio among the
        trials (CSCV on :attr:`returns`, flat days as 0)."""
        from quantlib.analytics.overfitting import probability_of_backtest_overfitting

        return probability_of_backtest_overfitting(self.returns.fillna(0.0), n_partitions)

    def trial_frame(self, *, fold: str = "full", in_sample: bool = True) -> pd.DataFrame:
        """The trials as rows for :func:`quantlib.research.trials.record_trials`."""
        return trial_frame(
            [s.name for s in self.strategies],
            [s.model_dump() for s in self.strategies],
            self.table["config_id"].tolist(),
            self.table,
            assets=self.assets,
            timeframe=self.timeframe,
            period=self.period,
            fold=fold,
            in_sample=in_sample,
        )

    def to_frame(self) -> pd.DataFrame:
        return self.table


def _sweep(
    bar_map: dict[str, pd.DataFrame],
    grid: Mapping[str, Sequence[Any]],
    config: PortfolioConfig | None,
    strategy: str | None,
    allocator: str | None,
    params: Mapping[str, Any] | None,
    rebalance: str,
    metric: str,
    funding: Funding = None,
) -> PortfolioSweepResult:
    valid, built, invalid = _strategies(grid, strategy, allocator, params, rebalance)
    engine_config = _bar_config(config)
    tf = _timeframe(bar_map)
    assets = tuple(bar_map)
    rows, daily, results = [], [], []
    for row, spec in zip(valid, built, strict=True):
        weights = strategy_weights(spec, bar_map, funding)
        # The bars passed the contract in _bar_map (walk-forward windows are slices of them).
        result = run_portfolio(
            bar_map, weights, engine_config, timeframe=tf, funding=funding, validated=True
        )
        metrics, returns = book_metrics(result.equity, result.n_orders, result.periods_per_year)
        label = (
            f"allocator:{spec.model_dump()['method']}" if spec.name == "allocator" else spec.name
        )
        config_id = portfolio_config_id(result.config, spec.name, spec.model_dump(), assets, tf)
        rows.append({**row, "label": label, "config_id": config_id, **metrics})
        daily.append(returns)
        results.append(result)
    table = pd.DataFrame(rows, columns=[*valid[0], "label", "config_id", *METRIC_COLUMNS])
    for column in ("n_trades", "n_obs"):
        table[column] = table[column].astype(np.int64)
    table.index = pd.RangeIndex(len(table), name="trial")
    index = _union(bar_map)
    _, days = day_ends(index)
    return PortfolioSweepResult(
        grid={str(k): tuple(v) for k, v in grid.items()},
        table=table,
        returns=pd.DataFrame(np.column_stack(daily), index=days, columns=table.index),
        invalid=invalid,
        params=tuple(valid),
        strategies=tuple(built),
        results=tuple(results),
        metric=metric,
        config=results[0].config,
        assets=assets,
        timeframe=tf,
        period=(index[0], index[-1]),
    )


def portfolio_sweep(
    bars: Mapping[str, pd.DataFrame],
    grid: Mapping[str, Sequence[Any]],
    config: PortfolioConfig | None = None,
    *,
    strategy: str | None = None,
    allocator: str | None = None,
    params: Mapping[str, Any] | None = None,
    rebalance: str = "1W",
    metric: str = "sharpe",
    record: bool = False,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
    fold: str = "full",
    engine: Engine | None = None,
    funding: Funding = None,
) -> PortfolioSweepResult:
    """Run every combination of ``grid`` for a portfolio strategy (or allocators) on ``bars``.

    Parameters
    ----------
    bars : mapping asset → OHLCV DataFrame
    grid : mapping name → values
        ``allocator``, ``rebalance``, ``lookback`` and strategy parameters (may be empty: one
        trial of the fixed spec).
    config : PortfolioConfig, optional
        Costs and cash (costs on by default); the strategy's calendar decides when to trade.
    strategy, allocator, params, rebalance
        The fixed part of the spec (see :func:`~quantlib.research.portfolio.portfolio_strategy`).
    metric : str, default "sharpe"
        What :meth:`PortfolioSweepResult.best` maximises.
    record : bool, default False
        Store every trial in the trial registry under ``run_id`` and ``fold``.
    engine : sqlalchemy.Engine, optional
        The registry's database (default: the settings' one).
    funding : Series or mapping asset → Series, optional
        Rates of the perpetual legs, for the engine and a strategy that reads them.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> idx = np.arange(120)
    >>> bars = {"A": make_ohlcv(100 + idx, timeframe="1d"),
    ...         "B": make_ohlcv(100 + 5 * np.sin(idx / 5), timeframe="1d")}
    >>> res = portfolio_sweep(bars, {"allocator": ["equal", "inverse_vol"], "lookback": [10, 20]})
    >>> res.n_trials, res.returns.shape, list(res.table["label"][:2])
    (4, (120, 4), ['allocator:equal', 'allocator:equal'])
    """
    if record and run_id is None:
        raise ConfigError("record=True needs a run_id naming this sweep. Fix: pass run_id='...'")
    metric = check_choice("metric", metric, list(SELECTION_METRICS))
    bar_map = _bar_map(bars, "portfolio_sweep")
    result = _sweep(bar_map, grid, config, strategy, allocator, params, rebalance, metric, funding)
    if record:
        assert run_id is not None
        record_trials(
            result.trial_frame(fold=fold), run_id=run_id, recorded_at=recorded_at, engine=engine
        )
    return result


def _close_book(result: PortfolioResult, bars: Mapping[str, pd.DataFrame]) -> tuple[pd.Series, int]:
    """Equity with every position closed at its last close (fee, slippage), and their count."""
    config = result.config
    slip = config.slippage * 1e-4
    adjustment, closed = 0.0, 0
    last = result.positions.iloc[-1]
    for asset, units in last.items():
        units = float(units)
        if units == 0.0 or not math.isfinite(units):
            continue
        close = float(bars[str(asset)]["close"].iloc[-1])
        price = close * (1.0 - math.copysign(slip, units))
        adjustment += units * (price - close) - config.fee * abs(units) * price
        closed += 1
    equity = result.equity.copy()
    equity.iloc[-1] = float(equity.iloc[-1]) + adjustment
    return equity, closed


@dataclass(frozen=True)
class PortfolioWalkForwardResult:
    """A portfolio walk-forward: the fold table, the stitched out-of-sample book, the trials.

    Attributes
    ----------
    folds : DataFrame
        One row per fold: the windows (as
        :func:`quantlib.research.walkforward.walk_forward_windows`), the chosen grid row (one
        column per key), ``label``, ``config_id``, ``n_trials`` and
        ``n_invalid`` of the fold's sweep, ``is_*`` (chosen trial in sample) and ``oos_*`` (its
        test run), ``oos_final_equity`` and ``closed_at_end``.
    equity : Series
        **Out-of-sample** equity, the test windows stitched (each starts with the equity the
        previous one ended with, positions closed at each window's last close).
    exposure : Series
        Out-of-sample gross weight.
    orders : DataFrame
        Out-of-sample orders of every fold, with a ``fold`` column.
    """

    label: str
    folds: pd.DataFrame
    equity: pd.Series
    exposure: pd.Series = field(repr=False)
    orders: pd.DataFrame = field(repr=False)
    sweeps: tuple[PortfolioSweepResult, ...] = field(repr=False)
    results: tuple[PortfolioResult, ...] = field(repr=False)
    chosen: tuple[int, ...] = field(repr=False)
    n_trials: int
    metric: str
    train: str
    test: str
    anchored: bool
    config: PortfolioConfig = field(repr=False)
    sample: str = "out_of_sample"

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    @property
    def periods_per_year(self) -> int:
        return self.results[0].periods_per_year

    @property
    def trials_sharpe_variance(self) -> float:
        """Variance (ddof 1) of the annualised Sharpe ratios of every in-sample trial."""
        values = np.concatenate([s.table["daily_sharpe"].to_numpy() for s in self.sweeps])
        return trials_variance(values, self.periods_per_year)

    def summary(self, *, n_trials: int | None = None) -> PerformanceSummary:
        """Performance of the out-of-sample equity, its Sharpe ratio deflated by
        :attr:`n_trials` (or ``n_trials``) and :attr:`trials_sharpe_variance`."""
        from quantlib.analytics.summary import performance_summary

        variance = self.trials_sharpe_variance
        return performance_summary(
            self.equity,
            periods_per_year=self.periods_per_year,
            n_trials=n_trials or self.n_trials,
            trials_sharpe_variance=0.0 if math.isnan(variance) else variance,
            exposure=self.exposure,
        )

    def trial_frame(self) -> pd.DataFrame:
        """Every trial: each fold's in-sample sweep and its out-of-sample run (``fold`` is
        ``"fold01"``, ``"fold02"``, ...)."""
        frames = []
        for k, (fold_sweep, oos, trial) in enumerate(
            zip(self.sweeps, self.results, self.chosen, strict=True), start=1
        ):
            label = _fold_label(k)
            frames.append(fold_sweep.trial_frame(fold=label, in_sample=True))
            spec = fold_sweep.strategies[trial]
            metrics, _ = book_metrics(self._fold_equity(k), oos.n_orders, oos.periods_per_year)
            frames.append(
                trial_frame(
                    spec.name,
                    [spec.model_dump()],
                    [self.folds["config_id"].iloc[k - 1]],
                    pd.DataFrame([metrics]),
                    assets=[str(a) for a in oos.weights.columns],
                    timeframe=fold_sweep.timeframe,
                    period=(oos.equity.index[0], oos.equity.index[-1]),
                    fold=label,
                    in_sample=False,
                )
            )
        return pd.concat(frames, ignore_index=True)

    def _fold_equity(self, k: int) -> pd.Series:
        index = self.results[k - 1].equity.index
        return self.equity.loc[index]

    def to_frame(self) -> pd.DataFrame:
        return self.folds


def _test_weights(
    strategy: PortfolioStrategy,
    history: Mapping[str, pd.DataFrame],
    test_bars: Mapping[str, pd.DataFrame],
    funding: Funding = None,
) -> pd.DataFrame:
    """Weights on ``history`` (warm-up to the test window's end), cut to the test window."""
    weights = strategy_weights(strategy, history, funding)
    index = _union(test_bars)
    columns = [a for a in weights.columns if a in test_bars]
    known = weights[columns].ffill()
    out = weights[columns].reindex(index)
    out.iloc[0] = known.loc[index[0]]
    return out


def portfolio_walk_forward(
    bars: Mapping[str, pd.DataFrame],
    grid: Mapping[str, Sequence[Any]],
    config: PortfolioConfig | None = None,
    *,
    strategy: str | None = None,
    allocator: str | None = None,
    params: Mapping[str, Any] | None = None,
    rebalance: str = "1W",
    train: str = "365D",
    test: str = "90D",
    anchored: bool = False,
    metric: str = "sharpe",
    record: bool = False,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
    engine: Engine | None = None,
    funding: Funding = None,
) -> PortfolioWalkForwardResult:
    """Walk-forward of portfolio strategy / allocator parameters: each fold sweeps ``grid`` on
    its training window, picks the best by ``metric`` and trades it on the test window.

    Windows and labels are those of :func:`quantlib.research.walkforward.walk_forward`. The
    chosen strategy's weights for a test window are computed on the bars from the training
    window's start to the test window's end (warm-up), so a weight at a bar reads no later
    bar; the book starts each test window in cash with the equity the previous fold ended
    with, buys the latest decision at the first bar, and closes every position at the window's
    last close (fee and slippage charged). ``funding`` as in :func:`portfolio_sweep`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> idx = np.arange(200)
    >>> bars = {"A": make_ohlcv(100 + idx, timeframe="1d"),
    ...         "B": make_ohlcv(100 + 5 * np.sin(idx / 5), timeframe="1d")}
    >>> wf = portfolio_walk_forward(bars, {"lookback": [10, 20]}, allocator="inverse_vol",
    ...                             train="100D", test="50D")
    >>> wf.n_folds, wf.n_trials
    (2, 4)
    """
    if record and run_id is None:
        raise ConfigError(
            "record=True needs a run_id naming this walk-forward. Fix: pass run_id='...'"
        )
    metric = check_choice("metric", metric, list(SELECTION_METRICS))
    bar_map = _bar_map(bars, "portfolio_walk_forward")
    windows = _folds(_union(bar_map), train, test, anchored)
    engine_config = _bar_config(config)
    cash = engine_config.initial_cash
    rows, results, equities, exposures, ledgers, sweeps, chosen = [], [], [], [], [], [], []
    for w in windows:
        fold_sweep = _sweep(
            _window(bar_map, w.train_start, w.train_end),
            grid, engine_config, strategy, allocator, params, rebalance, metric, funding,
        )  # fmt: skip
        best = fold_sweep.best(metric)
        trial = int(str(best.name))
        spec = fold_sweep.strategies[trial]
        test_bars = _window(bar_map, w.test_start, w.test_end)
        history = _window(bar_map, w.train_start, w.test_end)
        if cash <= 0:
            raise DataError(
                f"the out-of-sample equity is {cash} before fold {w.fold}: the book is wiped "
                "out and cannot trade on",
                rule="equity wiped out",
            )
        fold_config = engine_config.model_copy(update={"initial_cash": cash})
        result = run_portfolio(
            test_bars, _test_weights(spec, history, test_bars, funding), fold_config,
            timeframe=fold_sweep.timeframe, funding=funding, validated=True,
        )  # fmt: skip
        equity, n_closed = _close_book(result, test_bars)
        cash = float(equity.iloc[-1])
        oos, _ = book_metrics(equity, result.n_orders, result.periods_per_year)
        row: dict[str, Any] = dataclasses.asdict(w)
        row.update(fold_sweep.params[trial])
        row.update(
            {
                "label": best["label"],
                "config_id": best["config_id"],
                "n_trials": fold_sweep.n_trials,
                "n_invalid": fold_sweep.n_invalid,
            }
        )
        shown = dict.fromkeys((*_FOLD_METRICS, metric))
        row.update({f"is_{m}": best[m] for m in shown})
        row.update({f"oos_{m}": oos[m] for m in shown})
        row.update({"oos_final_equity": cash, "closed_at_end": n_closed})
        rows.append(row)
        results.append(result)
        equities.append(equity)
        gross = result.weights.abs().sum(axis=1)
        gross.iloc[-1] = 0.0
        exposures.append(gross)
        ledgers.append(result.orders.assign(fold=w.fold))
        sweeps.append(fold_sweep)
        chosen.append(trial)
    folds = pd.DataFrame(rows)
    for column in ("is_n_trades", "oos_n_trades"):
        folds[column] = folds[column].astype(np.int64)
    labels = sorted(set(folds["label"]))
    wf = PortfolioWalkForwardResult(
        label=labels[0] if len(labels) == 1 else "+".join(labels),
        folds=folds,
        equity=pd.concat(equities).rename("equity"),
        exposure=pd.concat(exposures).rename("exposure"),
        orders=pd.concat(ledgers, ignore_index=True),
        sweeps=tuple(sweeps),
        results=tuple(results),
        chosen=tuple(chosen),
        n_trials=sum(s.n_trials for s in sweeps),
        metric=metric,
        train=str(train),
        test=str(test),
        anchored=anchored,
        config=engine_config,
    )
    if record:
        assert run_id is not None
        record_trials(wf.trial_frame(), run_id=run_id, recorded_at=recorded_at, engine=engine)
    return wf
