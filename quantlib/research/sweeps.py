"""Parameter sweeps on Dask: every combination of a grid run through the engine, one table.

A sweep expands ``grid`` into combinations (in the grid's key order, the last key varying
fastest), skips those the strategy refuses (``fast >= slow``: counted, not run), and runs the
others in batches on a Dask scheduler. Each combination is exactly
``run_named(name, bars, params, config, funding=funding, mark=mark)``; its metrics come from its
daily returns (as :func:`quantlib.analytics.summary.performance_summary` computes them) and its
daily returns become one column of the (T x N) matrix that CSCV (:meth:`SweepResult.pbo`) needs.

On a perpetual market (``config.market="perpetual"``) every trial is charged funding on the
mark price: ``funding`` (a rate series per asset) is required unless ``config.funding_rate`` is
set, checked before anything runs (never a silent zero), and a strategy that reads funding
rates gets each asset's own series (:func:`quantlib.backtest.runs.strategy_signals`).

The metrics of one run are in :mod:`quantlib.research.sweeps_metrics` and the schedulers
(``scheduler=``: ``None``, ``"threads"``, ``"processes"``, ``"sync"``, ``"distributed"``, an
address or a ``distributed.Client``) in :mod:`quantlib.research.sweeps_runner`; their public
names are importable from here too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from dask.delayed import delayed
from pydantic import ValidationError

from quantlib._validation import check_choice, check_int, ohlcv_arrays
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import simulate, with_strategy_defaults
from quantlib.backtest.result import run_config_id
from quantlib.backtest.runs import (
    FundingInput,
    MarkInput,
    PerpetualData,
    check_funding_params,
    perpetual_series,
    strategy_signals,
)
from quantlib.data.calendars import annualisation
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError
from quantlib.research.sweeps_metrics import (
    METRIC_COLUMNS,
    SELECTION_METRICS,
    day_ends,
    equity_metrics,
    result_metrics,
    select_best,
    trial_frame,
)
from quantlib.research.sweeps_runner import TaskRunner, task_runner
from quantlib.research.trials import record_trials
from quantlib.strategy.registry import STRATEGIES, make_strategy
from quantlib.strategy.user import strategy_source

if TYPE_CHECKING:
    from dask.delayed import Delayed

    from quantlib.analytics.overfitting import CSCVResult

__all__ = [
    "METRIC_COLUMNS",
    "SELECTION_METRICS",
    "SweepResult",
    "TaskRunner",
    "parameter_grid",
    "result_metrics",
    "sweep",
    "task_runner",
]


def parameter_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values, the last key varying fastest.

    Raises
    ------
    ConfigError
        If ``grid`` is empty, or a value is a string or an empty sequence.

    Examples
    --------
    >>> parameter_grid({"fast": [5, 10], "slow": [20]})
    [{'fast': 5, 'slow': 20}, {'fast': 10, 'slow': 20}]
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError(
            f"grid must be a non-empty mapping parameter → values, got {grid!r}. "
            "Fix: pass e.g. {'fast': [5, 10], 'slow': [20, 50]}"
        )
    keys = [str(key) for key in grid]
    values = []
    for key, options in grid.items():
        if isinstance(options, str | bytes) or not isinstance(options, Sequence | np.ndarray):
            raise ConfigError(
                f"grid[{key!r}] must be a list of values, got {options!r}. "
                f"Fix: write {key!r}: [{options!r}]"
            )
        if len(options) == 0:
            raise ConfigError(f"grid[{key!r}] is empty. Fix: give at least one value")
        values.append(list(options))
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def _bar_map(bars: object) -> dict[str, pd.DataFrame]:
    if isinstance(bars, pd.DataFrame):
        return {str(bars.attrs.get("symbol", "asset")): bars}
    if isinstance(bars, Mapping) and bars:
        return {str(k): v for k, v in bars.items()}
    raise ConfigError(
        f"bars must be an OHLCV DataFrame or a non-empty mapping asset → DataFrame, "
        f"got {type(bars).__name__}"
    )


def _union_index(bar_map: Mapping[str, pd.DataFrame]) -> pd.DatetimeIndex:
    frames = list(bar_map.values())
    grid = pd.DatetimeIndex(frames[0].index)
    for frame in frames[1:]:
        grid = pd.DatetimeIndex(grid.union(pd.DatetimeIndex(frame.index)))
    return grid


@dataclass(frozen=True)
class _Plan:
    """A sweep ready to compute: the valid combinations and everything a batch needs."""

    strategy: str
    grid: dict[str, tuple[Any, ...]]
    valid: list[dict[str, Any]]
    invalid: pd.DataFrame
    bars: dict[str, pd.DataFrame]
    config: BacktestConfig
    metric: str
    ends: np.ndarray
    days: pd.DatetimeIndex
    timeframe: str
    perpetual: PerpetualData = field(default_factory=PerpetualData)
    sha256: str | None = None
    """The strategy file's hash when the sweep was planned (user and package strategies):
    every batch runs that source or stops."""
    periods_per_year: int | None = None
    """The bars' annualisation (``quantlib.data.calendars``), found once for every run whose
    config leaves it to the data."""


def _plan(
    strategy_name: str,
    grid: Mapping[str, Sequence[Any]],
    bars: object,
    config: BacktestConfig | None,
    metric: str,
    perpetual: PerpetualData | None = None,
) -> _Plan:
    """The sweep of ``grid`` on ``bars``; ``perpetual`` holds the funding series and mark
    bars already checked by :func:`perpetual_series` (for these assets or more: a window's
    plan keeps the assets it has), else none are used (and a perpetual config without a
    constant funding rate is refused)."""
    name = check_choice("strategy_name", strategy_name, sorted(STRATEGIES))
    metric = check_choice("metric", metric, list(SELECTION_METRICS))
    combos = parameter_grid(grid)
    check_funding_params(name, list(combos[0]))
    known = list(STRATEGIES[name].model_fields)
    for key in combos[0]:
        if key not in known:
            check_choice(f"grid parameter of {name}", key, known)
    valid, invalid = [], []
    # Each registry lookup reads the settings (the user strategy folder): resolve the class
    # once and ask make_strategy only for the reason a combination is refused.
    cls = strategy_source(name).cls
    for params in combos:
        try:
            cls(**params)
        except (ValidationError, TypeError, ConfigError):
            try:
                make_strategy(name, params)
            except ConfigError as exc:
                invalid.append({**params, "reason": str(exc)})
                continue
        valid.append(params)
    if not valid:
        raise ConfigError(
            f"no combination of the grid is valid for {name}; the first is refused with: "
            f"{invalid[0]['reason']}"
        )
    bar_map = _bar_map(bars)
    for asset, frame in bar_map.items():
        ohlcv_arrays(frame, f"sweep[{asset}]", min_bars=2)
    config = config or BacktestConfig()
    if perpetual is None:
        perpetual = perpetual_series(config, list(bar_map), None, None)
    index = _union_index(bar_map)
    ends, days = day_ends(index)
    return _Plan(
        strategy=name,
        grid={str(k): tuple(v) for k, v in grid.items()},
        valid=valid,
        invalid=pd.DataFrame(invalid, columns=[*combos[0], "reason"]),
        bars=bar_map,
        config=config,
        metric=metric,
        ends=ends,
        days=days,
        timeframe=str(infer_timeframe(index)),
        perpetual=perpetual.for_assets(list(bar_map)),
        sha256=strategy_source(name).sha256,
        periods_per_year=annualisation(dict(bar_map)).periods_per_year,
    )


def _run_batch(
    strategy_name: str,
    batch: list[dict[str, Any]],
    bars: dict[str, pd.DataFrame],
    config: BacktestConfig,
    ends: np.ndarray,
    timeframe: str,
    perpetual: PerpetualData,
    sha256: str | None = None,
    periods_per_year: int | None = None,
) -> list[tuple[str, dict[str, float], np.ndarray]]:
    """Run each combination of ``batch``: (config_id, metrics, daily returns) per combination;
    a worker whose copy of the strategy's file is not the planned one (``sha256``) stops.
    ``periods_per_year`` (the bars' annualisation) spares each run finding it again."""
    source = strategy_source(strategy_name)
    if sha256 is not None and source.sha256 != sha256:
        raise ConfigError(
            f"{strategy_name}: its file changed while the sweep ran (planned sha256 "
            f"{sha256[:12]}, now {source.sha256 or 'gone'}); its "
            "trials would mix two versions. Fix: run the sweep again"
        )
    out = []
    for params in batch:
        # The plan checked every combination (make_strategy): build it from the class this
        # batch resolved once (each registry lookup reads the settings).
        strategy: Any = source.cls(**params)
        signals = strategy_signals(strategy, bars, perpetual.funding)
        run_config = with_strategy_defaults(strategy, config)
        sim_config = run_config
        if periods_per_year is not None and "periods_per_year" not in run_config.model_fields_set:
            sim_config = run_config.model_copy(update={"periods_per_year": periods_per_year})
        # The raw simulation: a sweep needs the equity and the closed trades' P&L, not the
        # result's frames (the same numbers as run_backtest; see result_metrics).
        sim = simulate(
            bars,
            signals,
            sim_config,
            validated=True,
            timeframe=timeframe,
            **perpetual.run_inputs(),
        )
        metrics, daily = equity_metrics(
            sim.equity, ends, sim.closed_pnl(), len(sim.int_records), run_config.periods_per_year
        )
        config_id = run_config_id(
            run_config, strategy.name, strategy.model_dump(), sim.assets, sim.timeframe
        )
        out.append((config_id, metrics, daily))
    return out


def _tasks(plan: _Plan, workers: int, batch_size: int | None) -> list[Delayed]:
    n = len(plan.valid)
    if batch_size is None:
        # About four batches per worker: enough to balance uneven batches, few enough that
        # scheduling costs stay small next to the backtests.
        size = max(1, math.ceil(n / (4 * workers)))
    else:
        size = check_int("batch_size", batch_size, minimum=1)
    bars = delayed(plan.bars, traverse=False)
    perpetual = delayed(plan.perpetual, traverse=False)
    run = delayed(_run_batch, pure=False)
    return [
        run(
            plan.strategy,
            plan.valid[i : i + size],
            bars,
            plan.config,
            plan.ends,
            plan.timeframe,
            perpetual,
            plan.sha256,
            plan.periods_per_year,
        )
        for i in range(0, n, size)
    ]


@dataclass(frozen=True)
class SweepResult:
    """Every valid combination of a sweep, its metrics and its daily returns.

    Attributes
    ----------
    strategy : str
        The strategy's name.
    grid : mapping
        The grid as given (each value a tuple).
    table : DataFrame
        One row per valid combination, indexed by ``trial`` (0, 1, ... in grid order): the
        parameters, ``config_id`` and :data:`METRIC_COLUMNS`.
    returns : DataFrame
        Daily returns (T days x N trials), columns = ``trial``: the input of CSCV.
    invalid : DataFrame
        The combinations the strategy refused, with the ``reason``.
    params : tuple of dict
        The parameters of each trial, as given in the grid.
    metric : str
        The default metric of :meth:`best`.
    config : BacktestConfig
        The engine settings every combination ran with.
    assets, timeframe, period
        The data swept: asset names, bar timeframe and the first and last bar times.
    """

    strategy: str
    grid: Mapping[str, tuple[Any, ...]]
    table: pd.DataFrame
    returns: pd.DataFrame = field(repr=False)
    invalid: pd.DataFrame = field(repr=False)
    params: tuple[dict[str, Any], ...] = field(repr=False)
    metric: str
    config: BacktestConfig = field(repr=False)
    assets: tuple[str, ...]
    timeframe: str
    period: tuple[pd.Timestamp, pd.Timestamp]

    @property
    def n_trials(self) -> int:
        """Combinations run (the invalid ones are not trials)."""
        return len(self.table)

    @property
    def n_invalid(self) -> int:
        """Combinations skipped because the strategy refused them."""
        return len(self.invalid)

    def best(self, metric: str | None = None) -> pd.Series:
        """The table row of the best trial by ``metric`` (default: the sweep's), ties to the
        earliest in grid order, NaN never best.

        Raises
        ------
        ConfigError
            If ``metric`` is unknown.
        DataError
            If no trial has a finite value of it (e.g. no trades anywhere).
        """
        return select_best(
            self.table,
            metric or self.metric,
            what=f"the {self.strategy} sweep on {self.period[0]} to {self.period[1]}",
            hint="no trades, or fewer than 2 days. Fix: use a longer period or a grid that trades",
        )

    def best_params(self, metric: str | None = None) -> dict[str, Any]:
        """The parameters of :meth:`best`, as given in the grid."""
        return dict(self.params[int(str(self.best(metric).name))])

    def pbo(self, n_partitions: int = 16) -> CSCVResult:
        """Probability of backtest overfitting of picking the best Sharpe ratio among the
        trials (CSCV on :attr:`returns`, see
        :func:`quantlib.analytics.overfitting.probability_of_backtest_overfitting`)."""
        from quantlib.analytics.overfitting import probability_of_backtest_overfitting

        return probability_of_backtest_overfitting(self.returns, n_partitions, "sharpe")

    def trial_frame(self, *, fold: str = "full", in_sample: bool = True) -> pd.DataFrame:
        """The trials as rows for :func:`quantlib.research.trials.record_trials`."""
        return trial_frame(
            self.strategy,
            self.params,
            self.table["config_id"].tolist(),
            self.table,
            assets=self.assets,
            timeframe=self.timeframe,
            period=self.period,
            fold=fold,
            in_sample=in_sample,
        )

    def to_frame(self) -> pd.DataFrame:
        """The table."""
        return self.table


def _assemble(
    plan: _Plan, outputs: Sequence[list[tuple[str, dict[str, float], np.ndarray]]]
) -> SweepResult:
    flat = [item for batch in outputs for item in batch]
    rows = [
        {**params, "config_id": config_id, **metrics}
        for params, (config_id, metrics, _) in zip(plan.valid, flat, strict=True)
    ]
    table = pd.DataFrame(rows, columns=[*plan.valid[0], "config_id", *METRIC_COLUMNS])
    for column in ("n_trades", "n_obs"):
        table[column] = table[column].astype(np.int64)
    table.index = pd.RangeIndex(len(table), name="trial")
    matrix = np.column_stack([daily for _, _, daily in flat])
    returns = pd.DataFrame(matrix, index=plan.days, columns=table.index)
    index = _union_index(plan.bars)
    return SweepResult(
        strategy=plan.strategy,
        grid=plan.grid,
        table=table,
        returns=returns,
        invalid=plan.invalid,
        params=tuple(plan.valid),
        metric=plan.metric,
        config=plan.config,
        assets=tuple(plan.bars),
        timeframe=plan.timeframe,
        period=(index[0], index[-1]),
    )


def sweep(
    strategy_name: str,
    grid: Mapping[str, Sequence[Any]],
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig | None = None,
    *,
    funding: FundingInput = None,
    mark: MarkInput = None,
    metric: str = "sharpe",
    scheduler: object = None,
    progress: bool = True,
    batch_size: int | None = None,
    record: bool = False,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
    fold: str = "full",
) -> SweepResult:
    """Run every combination of ``grid`` for a strategy on ``bars`` and tabulate the metrics.

    Parameters
    ----------
    strategy_name : str
        A registered strategy (``quantlib.strategy.STRATEGIES``).
    grid : mapping parameter → sequence of values
        Parameters to vary; the others keep the strategy's defaults.
    bars : DataFrame or mapping asset → DataFrame
        OHLCV bars (several assets share cash, as in ``run_backtest``).
    config : BacktestConfig, optional
        Engine settings (costs on by default); the strategy's engine defaults apply to fields
        it leaves unset, as in ``run_strategy``.
    funding : Series or mapping asset → Series, optional
        Funding rates of a perpetual run (``config.market="perpetual"``), charged on the mark
        price at each funding time in every trial; required for each asset unless
        ``config.funding_rate`` is set (:func:`quantlib.backtest.runs.perpetual_series`).
    mark : DataFrame or mapping asset → DataFrame, optional
        Mark-price bars of a perpetual run (funding, liquidation and equity use them; the
        last price stands in where they do not cover a bar, as in ``run_backtest``).
    metric : str, default "sharpe"
        What :meth:`SweepResult.best` maximises (minimises for ``volatility``); one of
        :data:`SELECTION_METRICS`.
    scheduler : None, str or distributed.Client
        Where to run (see :mod:`quantlib.research.sweeps_runner`).
    progress : bool, default True
        Show a progress bar for sweeps that last more than a second.
    batch_size : int, optional
        Combinations per Dask task; default about four tasks per worker.
    record : bool, default False
        Store every trial in the trial registry (:mod:`quantlib.research.trials`) under
        ``run_id`` and ``fold``, at ``recorded_at`` (default: the last bar's time).

    Returns
    -------
    SweepResult

    Raises
    ------
    ConfigError
        For an unknown strategy, metric, scheduler or grid parameter (with the closest name),
        a malformed grid, a grid without a valid combination, ``record`` without ``run_id``,
        a perpetual run without funding, or funding or mark prices on a spot run.
    DataError
        If ``bars`` break the OHLCV contract.

    Notes
    -----
    Combinations refused by the strategy's own checks are counted in ``invalid`` and are not
    trials. Each trial's daily returns are :math:`r_k = E_k / E_{k-1} - 1` on each UTC day's
    last equity mark (the first from the initial cash), and
    ``sharpe`` :math:`= \\sqrt{P}\\,\\bar r / s_r` with :math:`P` = ``config.periods_per_year``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(600) / 15) * 10, timeframe="4h")
    >>> result = sweep("sma_cross", {"fast": [5, 10, 30], "slow": [10, 30]}, bars,
    ...                scheduler="sync", progress=False)
    >>> result.n_trials, result.n_invalid, result.returns.shape
    (3, 3, (100, 3))
    >>> result.best_params()
    {'fast': 5, 'slow': 10}
    """
    if record and run_id is None:
        raise ConfigError("record=True needs a run_id naming this sweep. Fix: pass run_id='...'")
    bar_map = _bar_map(bars)
    config = config or BacktestConfig()
    perpetual = perpetual_series(config, list(bar_map), funding, mark)
    plan = _plan(strategy_name, grid, bar_map, config, metric, perpetual)
    with task_runner(scheduler, progress=progress) as runner:
        outputs = runner.compute(_tasks(plan, runner.workers, batch_size))
    result = _assemble(plan, outputs)
    if record:
        assert run_id is not None
        record_trials(result.trial_frame(fold=fold), run_id=run_id, recorded_at=recorded_at)
    return result
