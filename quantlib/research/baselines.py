"""Baselines a strategy must beat: buy and hold, and random entries with the same trade shape.

Both run through :func:`quantlib.backtest.engine.run_backtest`, so fills, fees, slippage and
funding are exactly those of the strategy they are compared with.

* :func:`buy_and_hold` buys at the first fill (the second bar's open, or the first bar's close
  with ``fill="close"``) and never sells: one entry fee, the position marked to the last close.
* :func:`random_entry` keeps everything about the reference's trades except *when* they
  happen: the same number of trades, the same longs and shorts, the same stop and target
  distances and holding periods (each reference trade's, in a random order), at entry bars
  drawn uniformly at random without overlap. Repeated over many seeds it gives the
  distribution of results that timing by chance produces, and where the reference falls in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from dask.delayed import delayed

from quantlib._validation import check_int, ohlcv_arrays
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import run_backtest
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.sweeps_metrics import result_metrics
from quantlib.research.sweeps_runner import task_runner
from quantlib.risk.sizing import FixedFraction
from quantlib.strategy.base import empty_signals

__all__ = ["RandomEntryResult", "buy_and_hold", "random_entry"]

_RUN_COLUMNS: tuple[str, ...] = ("final_equity", "total_return", "sharpe", "max_drawdown")


def buy_and_hold(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame], config: BacktestConfig | None = None
) -> BacktestResult:
    """Buy every asset at the first fill and hold to the end, with ``config``'s costs.

    Parameters
    ----------
    bars : DataFrame or mapping asset → DataFrame
        OHLCV bars; several assets get equal shares of the equity.
    config : BacktestConfig, optional
        Engine settings (fees, slippage, fill policy, leverage, funding). Its sizer is
        replaced by ``FixedFraction(1 / n_assets)`` (buy and hold is fully invested) and its
        ``max_hold``, ``max_positions`` and ``max_entries_per_day`` are lifted, so a
        strategy's configuration can be passed as it is.

    Returns
    -------
    BacktestResult
        ``strategy="buy_and_hold"``; one trade per asset, still open (marked to the last
        close, no exit fee).

    Notes
    -----
    With ``fill="next_open"`` the position is bought at the second bar's open :math:`O_1`
    (slipped by :math:`b` bps) with a taker fee :math:`f`, so with all the cash :math:`C`:

    .. math:: q = \\frac{C}{O_1 (1 + b/10^4)(1 + f)}, \\qquad E_T = C - f q O_1' + q (P_T - O_1')

    where :math:`O_1' = O_1 (1 + b/10^4)` is the fill price and :math:`P_T` the last close.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 100.0, 110.0, 120.0])
    >>> result = buy_and_hold(bars, BacktestConfig(fee=0.0, slippage=0.0, initial_cash=1000.0))
    >>> result.final_equity, result.n_trades
    (1200.0, 1)
    """
    config = config or BacktestConfig()
    bar_map = (
        {str(bars.attrs.get("symbol", "asset")): bars}
        if isinstance(bars, pd.DataFrame)
        else dict(bars)
    )
    if not bar_map:
        raise ConfigError("bars must be a DataFrame or a non-empty mapping asset → DataFrame")
    signals = {}
    for asset, frame in bar_map.items():
        signal = empty_signals(frame.index)
        entry = np.zeros(len(signal), dtype=np.int8)
        entry[0] = 1
        signal["entry"] = entry
        signals[asset] = signal
    # Costs, fills and leverage stay; the rules of a strategy (sizing, holding and entry
    # limits) do not apply to holding the market.
    holding = config.model_copy(
        update={
            "sizer": FixedFraction(fraction=1.0 / len(bar_map)),
            "max_hold": None,
            "max_positions": None,
            "max_entries_per_day": None,
        }
    )
    return run_backtest(bar_map, signals, holding, strategy="buy_and_hold")


@dataclass(frozen=True)
class RandomEntryResult:
    """Random-entry runs of a reference backtest's trades and where the reference stands.

    Attributes
    ----------
    runs : DataFrame
        One row per seed (index ``seed``, 0 .. n_seeds-1): ``final_equity``,
        ``total_return``, ``sharpe`` (annualised, daily returns), ``max_drawdown`` and
        ``n_trades``.
    reference : dict
        The same figures for the reference.
    final_equity_percentile, sharpe_percentile : float
        Share of the random runs the reference beats, in percent (ties count half); NaN
        when the reference's figure is undefined.
    n_trades : int
        Trades per run (the reference's count).
    seed : int
        The base seed; run ``i`` uses the seed sequence ``(seed, i)``.
    uses_targets : bool
        Whether target distances were taken from the reference (its ledger has ``target``).
    """

    runs: pd.DataFrame
    reference: Mapping[str, float] = field(repr=False)
    final_equity_percentile: float
    sharpe_percentile: float
    n_trades: int
    seed: int
    uses_targets: bool

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    def describe(self) -> str:
        """One line: where the reference falls among the random runs."""
        return (
            f"reference beats {self.final_equity_percentile:.1f}% of {self.n_seeds} "
            f"random-entry runs on final equity and {self.sharpe_percentile:.1f}% on Sharpe "
            f"({self.n_trades} trades each, same sides, stops and holding periods)"
        )

    def to_frame(self) -> pd.DataFrame:
        return self.runs


@dataclass(frozen=True)
class _Shape:
    """The reference's trades as arrays: side, stop and target fractions, bars held."""

    side: np.ndarray
    stop_pct: np.ndarray
    target_pct: np.ndarray
    hold: np.ndarray


def _shape(reference: BacktestResult) -> _Shape:
    trades = reference.trades
    entry = trades["entry_price"].to_numpy(np.float64)
    stop = trades["stop"].to_numpy(np.float64)
    if "target" in trades.columns:
        target = np.abs(trades["target"].to_numpy(np.float64) - entry) / entry
    else:
        target = np.full(len(trades), np.nan)
    return _Shape(
        side=np.where(trades["side"].to_numpy(dtype=object) == "long", 1, -1).astype(np.int8),
        stop_pct=np.abs(entry - stop) / entry,
        target_pct=target,
        # An exit signal one bar after the entry signal at the earliest (a trade stopped out
        # in its entry bar held 0 bars).
        hold=np.maximum(trades["bars_held"].to_numpy(np.int64), 1),
    )


def _random_signals(
    index: pd.DatetimeIndex, shape: _Shape, rng: np.random.Generator
) -> pd.DataFrame:
    """A signal frame with the reference's trades in random order at random, non-overlapping
    entry bars.

    Trade i occupies the signal bars ``[s_i, s_i + hold_i]`` (entry signal, then the exit
    signal ``hold_i`` bars later); the next entry signal comes after that. The free bars are
    spread over the ``n + 1`` gaps uniformly (a random composition), which draws the set of
    entry bars uniformly among all non-overlapping placements.
    """
    n = len(shape.side)
    order = rng.permutation(n)
    length = shape.hold[order] + 1
    slack = len(index) - 1 - int(length.sum())
    cuts = np.sort(rng.choice(slack + n, size=n, replace=False))
    starts = cuts - np.arange(n) + np.concatenate([[0], np.cumsum(length)[:-1]])
    signals = empty_signals(index)
    entry = np.zeros(len(index), dtype=np.int8)
    exit_ = np.zeros(len(index), dtype=bool)
    stop_pct = np.full(len(index), np.nan)
    target_pct = np.full(len(index), np.nan)
    entry[starts] = shape.side[order]
    exit_[starts + shape.hold[order]] = True
    stop_pct[starts] = shape.stop_pct[order]
    target_pct[starts] = shape.target_pct[order]
    signals["entry"] = entry
    signals["exit"] = exit_
    if np.isfinite(stop_pct).any():
        signals["stop_pct"] = stop_pct
    if np.isfinite(target_pct).any():
        signals["target_pct"] = target_pct
    return signals


def _run_seeds(
    bars: pd.DataFrame,
    shape: _Shape,
    config: BacktestConfig,
    seed: int,
    seeds: list[int],
) -> list[dict[str, float]]:
    out = []
    for i in seeds:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        signals = _random_signals(pd.DatetimeIndex(bars.index), shape, rng)
        result = run_backtest(bars, signals, config, strategy="random_entry")
        metrics = result_metrics(result)
        out.append({**{c: metrics[c] for c in _RUN_COLUMNS}, "n_trades": result.n_trades})
    return out


def _percentile(values: np.ndarray, reference: float) -> float:
    finite = values[np.isfinite(values)]
    if not math.isfinite(reference) or len(finite) == 0:
        return math.nan
    below = np.count_nonzero(finite < reference)
    ties = np.count_nonzero(finite == reference)
    return float(100.0 * (below + 0.5 * ties) / len(finite))


def random_entry(
    bars: pd.DataFrame,
    reference: BacktestResult,
    *,
    n_seeds: int = 200,
    seed: int = 0,
    scheduler: object = None,
    progress: bool = True,
) -> RandomEntryResult:
    """Run the reference's trades at random times, ``n_seeds`` times, and rank the reference.

    Parameters
    ----------
    bars : DataFrame
        The bars of the reference's (single) asset.
    reference : BacktestResult
        The backtest to compare; its configuration (costs, sizer, ``max_hold``) is reused.
    n_seeds : int, default 200
        Number of random runs.
    seed : int, default 0
        Base seed: the same seed gives the same runs; run ``i`` depends only on
        ``(seed, i)``, so more seeds extend the same sequence.
    scheduler, progress
        Where to run the seeds (see :mod:`quantlib.research.sweeps_runner`).

    Returns
    -------
    RandomEntryResult

    Raises
    ------
    ConfigError
        If the reference traded several assets, or has no trade.
    DataError
        If ``bars`` break the OHLCV contract or are too short for the reference's trades.

    Notes
    -----
    Every run has the reference's :math:`n` trades: trade :math:`i` of a random permutation
    of the reference's trades keeps its side, its stop distance :math:`|E - S| / E` (as
    ``stop_pct`` of the new fill), its target distance when the ledger records targets, and
    its holding period :math:`h_i` (an exit signal :math:`h_i` bars after the entry signal;
    stops, targets and ``max_hold`` may end it sooner). Entry bars are uniform among the
    placements where trades do not overlap, so every run has exactly :math:`n` trades.
    The percentile of the reference is :math:`100 (\\#\\{x < x_{ref}\\} + \\tfrac12
    \\#\\{x = x_{ref}\\}) / N`.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.backtest.engine import run_strategy
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(600) / 15) * 10, timeframe="4h")
    >>> ref = run_strategy(SmaCross(fast=5, slow=20), bars)
    >>> out = random_entry(bars, ref, n_seeds=20, seed=1, scheduler="sync")
    >>> out.n_trades == ref.n_trades, set(out.runs["n_trades"]) == {ref.n_trades}
    (True, True)
    """
    n_runs = check_int("n_seeds", n_seeds, minimum=1)
    base = check_int("seed", seed, minimum=0)
    if len(reference.assets) != 1:
        raise ConfigError(
            f"random_entry compares a single-asset backtest; the reference traded "
            f"{list(reference.assets)}. Fix: run it per asset"
        )
    if reference.n_trades == 0:
        raise ConfigError("the reference backtest has no trades: there is nothing to randomise")
    if not isinstance(bars, pd.DataFrame):
        raise ConfigError(f"bars must be an OHLCV DataFrame, got {type(bars).__name__}")
    ohlcv_arrays(bars, "random_entry", min_bars=2)
    shape = _shape(reference)
    needed = int((shape.hold + 1).sum())
    if needed > len(bars) - 1:
        raise DataError(
            f"the reference's {reference.n_trades} trades span {needed} bars with their "
            f"holding periods, more than the {len(bars) - 1} entry bars of bars. Fix: pass "
            "the bars the reference ran on (or longer ones)",
            source="random_entry bars",
            rule="too few bars",
        )
    with task_runner(scheduler, progress=progress) as runner:
        size = max(1, math.ceil(n_runs / (4 * runner.workers)))
        run = delayed(_run_seeds, pure=False)
        shared = delayed(bars, traverse=False)
        tasks = [
            run(shared, shape, reference.config, base, list(range(i, min(i + size, n_runs))))
            for i in range(0, n_runs, size)
        ]
        outputs = runner.compute(tasks)
    runs = pd.DataFrame(
        [row for batch in outputs for row in batch], columns=[*_RUN_COLUMNS, "n_trades"]
    )
    runs.index = pd.RangeIndex(n_runs, name="seed")
    ref_metrics = result_metrics(reference)
    ref = {c: ref_metrics[c] for c in _RUN_COLUMNS} | {"n_trades": float(reference.n_trades)}
    return RandomEntryResult(
        runs=runs,
        reference=ref,
        final_equity_percentile=_percentile(
            runs["final_equity"].to_numpy(np.float64), ref["final_equity"]
        ),
        sharpe_percentile=_percentile(runs["sharpe"].to_numpy(np.float64), ref["sharpe"]),
        n_trades=reference.n_trades,
        seed=base,
        uses_targets=bool(np.isfinite(shape.target_pct).any()),
    )
