"""Walk-forward validation: optimise on a training window, trade the choice on the next window.

The data is cut on time into folds. Each fold sweeps the grid on its **training** window (in
sample), picks the best parameters by ``metric``, and runs them on the following **test**
window (out of sample). The test windows follow one another without gaps or overlap, and their
equity curves are stitched into one out-of-sample curve, each fold starting with the equity the
previous one ended with.

Windows (half-open, ``[start, end)`` on bar open times; the origin is the first bar):

* rolling: fold k trains on ``[origin + k·test, origin + k·test + train)`` and tests on
  ``[origin + train + k·test, origin + train + (k+1)·test)``;
* anchored: the training window always starts at the origin and grows by ``test`` per fold.

The last test window may be cut short by the end of the data (``partial`` in the fold table);
one with fewer than two bars is dropped.

No look-ahead in a test window:

* its signals are computed on every bar **before the window's end** (the window plus all the
  history before it, so indicators are warmed up), then cut to the window; since signals are
  causal (each strategy is tested for truncation invariance), the signal of a bar depends on
  no later bar;
* trades happen only inside the window: the account starts flat at its first bar (a signal of
  the training window's last bar is not carried over), and a position still open after its
  last bar is **closed at that bar's close** as a market order (taker fee and slippage), with
  ``exit_reason="window_end"``, so that no fold leaves a position to the next one.

On a perpetual market every run (each fold's sweep in sample, each test run) is charged
funding on the mark price. The funding series and mark-price bars are passed whole to each
run, never cut: the engine charges only the funding times inside the bars it is given
(``entry < T <= exit`` of each position), and takes the mark bars that cover those bars, so a
fold's run sees the mark price of every one of its bars (and the last mark bar before its
first, for a funding time inside that bar). A position closed at a test window's end exits at
the window's end time and pays a funding time falling there, as the engine's rule reads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, ohlcv_arrays
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import run_backtest, with_strategy_defaults
from quantlib.backtest.result import BacktestResult
from quantlib.backtest.runs import FundingInput, MarkInput, perpetual_series, strategy_signals
from quantlib.data.timeframes import infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.sweeps import SweepResult, _assemble, _bar_map, _plan, _tasks, _union_index
from quantlib.research.sweeps_metrics import (
    SELECTION_METRICS,
    result_metrics,
    trial_frame,
    trials_variance,
)
from quantlib.research.sweeps_runner import task_runner
from quantlib.research.trials import record_trials
from quantlib.strategy.registry import make_strategy

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary

__all__ = ["WINDOW_END", "WalkForwardResult", "walk_forward", "walk_forward_windows"]

WINDOW_END = "window_end"
"""``exit_reason`` of a position closed at the last close of a test window."""

_FOLD_METRICS: tuple[str, ...] = ("sharpe", "total_return", "max_drawdown", "win_rate", "n_trades")


def _duration(name: str, value: object) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{name} must be a duration such as '365D' or '12h', got {value!r}"
        ) from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ConfigError(f"{name} must be a positive duration, got {value!r}")
    return delta


@dataclass(frozen=True)
class _Fold:
    fold: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    n_train_bars: int
    n_test_bars: int
    partial: bool


def _folds(index: pd.DatetimeIndex, train: str, test: str, anchored: bool) -> list[_Fold]:
    train_d = _duration("train", train)
    test_d = _duration("test", test)
    index = pd.DatetimeIndex(index)
    if len(index) < 2:
        raise DataError(f"walk-forward needs at least 2 bars, got {len(index)}", rule="too few")
    origin, last = index[0], index[-1]
    data_end = last + infer_timeframe(index).delta
    times = index.as_unit("ns").asi8
    folds: list[_Fold] = []
    while True:
        test_start = origin + train_d + len(folds) * test_d
        test_end = test_start + test_d
        lo, hi = (int(i) for i in np.searchsorted(times, [test_start.value, test_end.value]))
        if hi - lo < 2:
            break
        train_start = origin if anchored else test_start - train_d
        first = int(np.searchsorted(times, train_start.value))
        folds.append(
            _Fold(
                fold=len(folds) + 1,
                train_start=train_start,
                train_end=test_start,
                test_start=test_start,
                test_end=test_end,
                n_train_bars=lo - first,
                n_test_bars=hi - lo,
                partial=bool(test_end > data_end),
            )
        )
    if not folds:
        raise ConfigError(
            f"train={train!r} leaves fewer than 2 bars to test on: the data runs from {origin} "
            f"to {last} ({data_end - origin} of bars), and the first test window would start "
            f"at {origin + train_d}. Fix: pass a shorter train window (and test window) or "
            "more data"
        )
    return folds


def walk_forward_windows(
    index: pd.DatetimeIndex,
    train: str = "365D",
    test: str = "90D",
    *,
    anchored: bool = False,
) -> pd.DataFrame:
    """The fold calendar of a walk-forward on the bar times ``index``.

    Parameters
    ----------
    index : DatetimeIndex
        Bar open times, strictly increasing.
    train, test : str
        Window lengths, pandas durations (``"365D"``, ``"90D"``, ``"12h"``).
    anchored : bool, default False
        Grow the training window from the first bar instead of rolling it.

    Returns
    -------
    DataFrame
        One row per fold (``fold`` 1, 2, ...): ``train_start``, ``train_end``, ``test_start``,
        ``test_end`` (half-open windows), ``n_train_bars``, ``n_test_bars`` and ``partial``
        (the data ends before ``test_end``).

    Raises
    ------
    ConfigError
        If a window is not a positive duration, or the training window leaves fewer than two
        bars to test on.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC")
    >>> w = walk_forward_windows(idx, "60D", "20D")
    >>> w[["train_start", "test_start", "test_end"]].astype(str).values.tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['2024-01-01 00:00:00+00:00', '2024-03-01 00:00:00+00:00', '2024-03-21 00:00:00+00:00'],
     ['2024-01-21 00:00:00+00:00', '2024-03-21 00:00:00+00:00', '2024-04-10 00:00:00+00:00']]
    """
    folds = _folds(index, train, test, anchored)
    return pd.DataFrame([dataclasses.asdict(f) for f in folds])


def _window(
    bars: Mapping[str, pd.DataFrame], start: pd.Timestamp | None, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Each asset's bars in ``[start, end)``; an asset with fewer than two bars there (not yet
    listed, or delisted) sits the window out."""
    out = {}
    for asset, frame in bars.items():
        index = pd.DatetimeIndex(frame.index)
        keep = index < end if start is None else (index >= start) & (index < end)
        if int(np.count_nonzero(keep)) >= 2:
            out[asset] = frame.loc[keep]
    if not out:
        raise DataError(
            f"no asset has two bars in the window {start} .. {end}; shorten the windows or "
            "check the data's period",
            rule="empty window",
        )
    return out


def _close_at_last_close(result: BacktestResult) -> tuple[BacktestResult, int]:
    """``result`` with every open position closed at its asset's last close as a market order
    (taker fee, slippage in bps and in bar range, as the engine charges), and the count."""
    trades = result.trades
    is_open = (trades["exit_reason"] == "open").to_numpy()
    if not is_open.any():
        return result, 0
    config = result.config
    bar = parse_timeframe(result.timeframe).delta
    trades = result.trades.copy()
    cols = {
        name: trades[name].to_numpy(np.float64, copy=True)
        for name in (
            "entry_price", "exit_price", "size", "notional", "stop", "entry_fee", "exit_fee",
            "fees", "pnl", "return", "r_multiple",
        )
    }  # fmt: skip
    exit_time = pd.DatetimeIndex(trades["exit_time"])
    exit_times = list(exit_time)
    reasons = trades["exit_reason"].to_numpy(dtype=object, copy=True)
    assets = trades["asset"].to_numpy(dtype=object)
    sides = np.where(trades["side"].to_numpy(dtype=object) == "long", 1.0, -1.0)
    positions = result.positions.copy()
    adjustment = 0.0
    for row in np.flatnonzero(is_open):
        asset = str(assets[row])
        last = result.bars[asset]
        high, low, close = (float(last[c].iloc[-1]) for c in ("high", "low", "close"))
        side, size = float(sides[row]), float(cols["size"][row])
        # A market order that sells a long (buys back a short), slipped against the trader.
        price = close * (1.0 - side * config.slippage * 1e-4) - side * config.slippage_range * (
            high - low
        )
        fee = config.fee * size * price
        change = side * size * (price - close) - fee
        adjustment += change
        pnl = cols["pnl"][row] + change
        risk = size * abs(cols["entry_price"][row] - cols["stop"][row])
        cols["exit_price"][row] = price
        cols["exit_fee"][row] = fee
        cols["fees"][row] = cols["entry_fee"][row] + fee
        cols["pnl"][row] = pnl
        cols["return"][row] = pnl / cols["notional"][row]
        cols["r_multiple"][row] = pnl / risk if risk > 0 else math.nan
        exit_times[row] = pd.Timestamp(last.index[-1]) + bar
        reasons[row] = WINDOW_END
        positions.loc[positions.index[-1], asset] = 0.0
    for name, values in cols.items():
        trades[name] = values
    trades["exit_time"] = pd.DatetimeIndex(exit_times).as_unit(exit_time.unit)
    trades["exit_reason"] = reasons
    equity = result.equity.copy()
    equity.iloc[-1] = float(equity.iloc[-1]) + adjustment
    exposure = result.exposure.copy()
    exposure.iloc[-1] = 0.0
    closed = dataclasses.replace(
        result, trades=trades, equity=equity, positions=positions, exposure=exposure
    )
    return closed, int(is_open.sum())


@dataclass(frozen=True)
class WalkForwardResult:
    """A walk-forward run: the fold table, the stitched out-of-sample record and the trials.

    Attributes
    ----------
    folds : DataFrame
        One row per fold: the windows (as :func:`walk_forward_windows`), the chosen
        parameters (one column each) and their ``config_id``, ``n_trials`` and ``n_invalid``
        of the fold's sweep, in-sample metrics ``is_*`` (the chosen trial on the training
        window) and out-of-sample metrics ``oos_*`` (its test run), ``oos_final_equity`` and
        ``closed_at_end`` (positions closed at the window's last close).
    equity : Series
        **Out-of-sample** equity, the test windows stitched (each starts with the equity the
        previous one ended with; the first with ``config.initial_cash``).
    exposure : Series
        Out-of-sample exposure, stitched the same way.
    trades : DataFrame
        Out-of-sample trades of every fold, with a ``fold`` column.
    sweeps : tuple of SweepResult
        The in-sample sweep of each fold.
    results : tuple of BacktestResult
        The out-of-sample run of each fold.
    chosen : tuple of int
        The ``trial`` of each fold's sweep that was selected.
    n_trials : int
        Configurations tried in sample over all folds (the selection's trial count).
    sample : str
        ``"out_of_sample"``: what ``equity``, ``trades`` and :meth:`summary` describe.
    """

    strategy: str
    folds: pd.DataFrame
    equity: pd.Series
    exposure: pd.Series = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    sweeps: tuple[SweepResult, ...] = field(repr=False)
    results: tuple[BacktestResult, ...] = field(repr=False)
    chosen: tuple[int, ...] = field(repr=False)
    n_trials: int
    metric: str
    train: str
    test: str
    anchored: bool
    config: BacktestConfig = field(repr=False)
    sample: str = "out_of_sample"

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    @property
    def funding_paid(self) -> float:
        """Funding paid out of sample, over every fold's test run, in the quote currency
        (signed: positive = paid, negative = received); 0 on a spot market."""
        return float(self.trades["funding"].sum())

    @property
    def fees_paid(self) -> float:
        """Fees paid out of sample, over every fold's test run (the fees of the positions
        closed at a window's end included), in the quote currency."""
        return float(self.trades["fees"].sum())

    @property
    def trial_sharpes(self) -> np.ndarray:
        """Per-period (daily) Sharpe ratios of every in-sample trial of every fold."""
        return np.concatenate([s.table["daily_sharpe"].to_numpy(np.float64) for s in self.sweeps])

    @property
    def trials_sharpe_variance(self) -> float:
        """Variance (ddof=1) of the **annualised** Sharpe ratios of the in-sample trials with a
        finite one (``config.periods_per_year``); NaN below two."""
        return trials_variance(self.trial_sharpes, self.config.periods_per_year)

    def summary(self) -> PerformanceSummary:
        """Performance of the out-of-sample equity, its Sharpe ratio deflated by
        :attr:`n_trials` and :attr:`trials_sharpe_variance`."""
        from quantlib.analytics.summary import performance_summary

        variance = self.trials_sharpe_variance
        return performance_summary(
            self.equity,
            self.trades,
            periods_per_year=self.config.periods_per_year,
            n_trials=self.n_trials,
            trials_sharpe_variance=0.0 if math.isnan(variance) else variance,
            exposure=self.exposure,
        )

    def trial_frame(self) -> pd.DataFrame:
        """Every trial of the run for :func:`quantlib.research.trials.record_trials`: each
        fold's in-sample sweep (``in_sample=True``) and its out-of-sample run (``False``);
        ``fold`` is ``"fold01"``, ``"fold02"``, ..."""
        frames = []
        for fold, (sweep_result, oos, trial) in enumerate(
            zip(self.sweeps, self.results, self.chosen, strict=True), start=1
        ):
            label = _fold_label(fold)
            frames.append(sweep_result.trial_frame(fold=label, in_sample=True))
            frames.append(
                trial_frame(
                    self.strategy,
                    [sweep_result.params[trial]],
                    [sweep_result.table["config_id"].iloc[trial]],
                    pd.DataFrame([result_metrics(oos)]),
                    assets=oos.assets,
                    timeframe=oos.timeframe,
                    period=oos.period,
                    fold=label,
                    in_sample=False,
                )
            )
        return pd.concat(frames, ignore_index=True)

    def to_frame(self) -> pd.DataFrame:
        """The fold table."""
        return self.folds


def _fold_label(fold: int) -> str:
    return f"fold{fold:02d}"


def walk_forward(
    strategy_name: str,
    grid: Mapping[str, Sequence[Any]],
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    config: BacktestConfig | None = None,
    *,
    funding: FundingInput = None,
    mark: MarkInput = None,
    train: str = "365D",
    test: str = "90D",
    anchored: bool = False,
    metric: str = "sharpe",
    scheduler: object = None,
    progress: bool = True,
    batch_size: int | None = None,
    record: bool = False,
    run_id: str | None = None,
    recorded_at: pd.Timestamp | None = None,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``grid`` with out-of-sample test windows.

    Parameters
    ----------
    strategy_name, grid, bars, config, metric, scheduler, progress, batch_size
        As for :func:`quantlib.research.sweeps.sweep`; the sweeps of all folds run as one Dask
        computation.
    funding, mark : optional
        A perpetual run's funding rates and mark-price bars, as for
        :func:`quantlib.research.sweeps.sweep`: passed whole to every in-sample trial and
        every test run (see the module docstring); funding is required on a perpetual market
        unless ``config.funding_rate`` is set.
    train, test : str, default "365D" and "90D"
        Window lengths (pandas durations); see the module docstring for the calendar.
    anchored : bool, default False
        Training windows grow from the first bar instead of rolling.
    record : bool, default False
        Store every trial (each fold's sweep in sample, each test run out of sample) in the
        trial registry under ``run_id``, at ``recorded_at`` (default: the last bar's time).

    Returns
    -------
    WalkForwardResult

    Raises
    ------
    ConfigError
        For a bad window, metric, strategy or grid (with the closest name), a training window
        that leaves nothing to test, ``record`` without ``run_id``, a perpetual run without
        funding, or funding or mark prices on a spot run.
    DataError
        If ``bars`` break the OHLCV contract, or a fold's training window has no trial with a
        finite ``metric`` to choose by.

    Notes
    -----
    Fold k's parameters maximise ``metric`` on its training window (ties to the earliest in
    grid order). Its test run starts with the equity :math:`E^{(k-1)}_{end}` the previous fold
    ended with, so the stitched curve is continuous: with fills at the next open its first
    mark equals that equity. The trial count is :math:`\\sum_k N_k`, the valid combinations
    of every fold.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes = 100 + np.sin(np.arange(24 * 120) / 40) * 10
    >>> bars = make_ohlcv(closes, start="2024-01-01T00:00Z", timeframe="1h")
    >>> wf = walk_forward("sma_cross", {"fast": [5, 10], "slow": [20, 40]}, bars,
    ...                   train="60D", test="20D", scheduler="sync", progress=False)
    >>> wf.n_folds, wf.n_trials, wf.folds["test_start"].dt.strftime("%m-%d").tolist()
    (3, 12, ['03-01', '03-21', '04-10'])
    """
    if record and run_id is None:
        raise ConfigError(
            "record=True needs a run_id naming this walk-forward. Fix: pass run_id='...'"
        )
    metric = check_choice("metric", metric, list(SELECTION_METRICS))
    config = config or BacktestConfig()
    bar_map = _bar_map(bars)
    for asset, frame in bar_map.items():
        ohlcv_arrays(frame, f"walk_forward[{asset}]", min_bars=2)
    perpetual = perpetual_series(config, list(bar_map), funding, mark)
    windows = _folds(_union_index(bar_map), train, test, anchored)
    plans = [
        _plan(
            strategy_name,
            grid,
            _window(bar_map, w.train_start, w.train_end),
            config,
            metric,
            perpetual,
        )
        for w in windows
    ]
    with task_runner(scheduler, progress=progress) as runner:
        per_plan = [_tasks(plan, runner.workers, batch_size) for plan in plans]
        outputs = runner.compute([task for tasks in per_plan for task in tasks])
    sweeps, start = [], 0
    for plan, tasks in zip(plans, per_plan, strict=True):
        sweeps.append(_assemble(plan, outputs[start : start + len(tasks)]))
        start += len(tasks)

    cash = config.initial_cash
    rows, results, ledgers, chosen = [], [], [], []
    for w, fold_sweep in zip(windows, sweeps, strict=True):
        best = fold_sweep.best(metric)
        trial = int(str(best.name))
        params = fold_sweep.params[trial]
        strategy = make_strategy(fold_sweep.strategy, params)
        test_bars = _window(bar_map, w.test_start, w.test_end)
        history = _window(bar_map, None, w.test_end)
        known = strategy_signals(strategy, {a: history[a] for a in test_bars}, perpetual.funding)
        signals = {asset: known[asset].loc[test_bars[asset].index] for asset in test_bars}
        if cash <= 0:
            raise DataError(
                f"the out-of-sample equity is {cash} before fold {w.fold}: the account is "
                "wiped out and cannot trade on",
                rule="equity wiped out",
            )
        fold_config = config.model_copy(update={"initial_cash": cash})
        result = run_backtest(
            test_bars,
            signals,
            with_strategy_defaults(strategy, fold_config),
            strategy=strategy.name,
            params=strategy.model_dump(),
            **perpetual.for_assets(list(test_bars)).run_inputs(),
        )
        result, n_closed = _close_at_last_close(result)
        cash = result.final_equity
        oos = result_metrics(result)
        row: dict[str, Any] = dataclasses.asdict(w)
        row.update(params)
        row.update(
            {
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
        ledgers.append(result.trades.assign(fold=w.fold))
        chosen.append(trial)
    folds = pd.DataFrame(rows)
    for column in ("is_n_trades", "oos_n_trades"):
        folds[column] = folds[column].astype(np.int64)
    wf = WalkForwardResult(
        strategy=sweeps[0].strategy,
        folds=folds,
        equity=pd.concat([r.equity for r in results]).rename("equity"),
        exposure=pd.concat([r.exposure for r in results]).rename("exposure"),
        trades=pd.concat(ledgers, ignore_index=True),
        sweeps=tuple(sweeps),
        results=tuple(results),
        chosen=tuple(chosen),
        n_trials=sum(s.n_trials for s in sweeps),
        metric=metric,
        train=str(train),
        test=str(test),
        anchored=anchored,
        config=config,
    )
    if record:
        assert run_id is not None
        record_trials(wf.trial_frame(), run_id=run_id, recorded_at=recorded_at)
    return wf
