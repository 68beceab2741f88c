"""Speed of the portfolio layer: the rebalancing engine beside vectorbt 1.2.0, and allocator
sweeps. One command:

    .venv/bin/python -m benchmarks.portfolio

Cases:

* **one rebalanced book, warm.** The seven roadmap assets × all their bundled hourly bars (the
  union of their timestamps, about 64,500 bars; assets list and MATIC delists on the way),
  equal weight over the assets listed at each decision, decided at the last bar of each UTC
  day (``decision_mask(..., "1D")``), 0.1% fee, next-open fills. Ours: ``run_portfolio`` from
  the bar frames and the precomputed weight frame to a ``PortfolioResult``'s final value and
  order count (input checks, the point-in-time universe, the loop; the result builds its
  equity/weights/positions frames and order ledger on first access: "+ frames built" reads
  them all). vectorbt: ``Portfolio.from_orders(close, size, size_type="targetpercent",
  cash_sharing=True, group_by=True, call_seq="auto", price=open)`` plus ``final_value()``, on
  numpy arrays (the same weights shifted to the trading bar; closes forward-filled; generous
  to vectorbt: with a pandas 3 DatetimeIndex it spends time converting timestamps). The two
  final values differ on the full union only because the universes differ (vectorbt cannot
  close MATIC after its last bar, nor trade an asset before its first); on the seven assets'
  common period (ended the day before MATIC's last bar), where no asset lists or delists, the
  final values and order counts are printed beside each other (``tests/portfolio/test_golden.py``
  checks them equal to 1e-8 on daily bars).
* **a 1,000-configuration allocator sweep.** ``rolling_weights`` (equal, inverse_vol, erc,
  hrp) × 25 lookbacks (20..500 days) × 10 rebalance periods (every 3, 5, 7, 10, 14, 21, 30
  and 63 days, weekly, monthly) on the seven assets' bundled daily bars (point-in-time
  universe), each weight frame run through ``run_portfolio`` (0.1% fee, 1 bp slippage) and
  summarised (``summary()``: Sharpe, drawdown, ...). Two worker processes (the machine's two
  cores), each warmed up (numba's disk cache) before the clock starts; the bars are validated
  once and passed ``validated=True``. The table also gives each method's time per
  configuration (weights, book and summary, on one process) and that time divided by the
  configuration's decisions; and one HRP decision on its own, the numba kernel beside its
  Python twin (numpy + scipy).
* **solver-based allocators**, timed apart: ``min_variance`` and ``mean_cvar`` (scipy/cvxpy
  solvers), 3 configurations each (lookback 60, 120, 250 days, weekly), one process; time
  per decision and the estimate for 250 configurations.

Warm timings of the book are the best of 30 runs of each side (the first ten or so runs of
both are slower while caches warm), of other single calls the best of ten.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from quantlib.allocation import decision_mask, rolling_weights
from quantlib.data import load_ohlcv, validate
from quantlib.data.universe import ROADMAP_ORDER
from quantlib.portfolio import PortfolioConfig, PortfolioResult, run_portfolio

FEE = 0.001
CASH = 10_000.0
SWEEP_METHODS = ("equal", "inverse_vol", "erc", "hrp")
LOOKBACKS = list(range(20, 520, 20))
EVERY: list[str | int] = [3, 5, 7, 10, 14, 21, 30, 63, "1W", "1M"]
SOLVER_METHODS = ("min_variance", "mean_cvar")
SOLVER_LOOKBACKS = (60, 120, 250)
WORKERS = 2


BOOK_RUNS = 30


def best_of(func: Callable[[], Any], runs: int = 10) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def hourly_case() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The seven assets' hourly bars and daily equal weights over the listed assets."""
    bars = {s: load_ohlcv(s, "1h") for s in ROADMAP_ORDER}
    close = pd.DataFrame({s: f["close"] for s, f in bars.items()})
    listed = close.notna()
    weights = listed.astype(float).div(listed.sum(axis=1), axis=0)
    weights[~decision_mask(close.index, "1D", timeframe="1h")] = np.nan
    return bars, weights


def vectorbt_book(
    bars: dict[str, pd.DataFrame], weights: pd.DataFrame
) -> Callable[[], tuple[float, int]]:
    import vectorbt as vbt  # type: ignore[import-untyped]

    close = pd.DataFrame({s: f["close"] for s, f in bars.items()}).reindex(weights.index)
    open_ = pd.DataFrame({s: f["open"] for s, f in bars.items()}).reindex(weights.index)
    size = weights.shift(1).to_numpy()  # decided at a close, traded at the next bar's open
    close_values, open_values = close.ffill().to_numpy(), open_.to_numpy()

    def run() -> tuple[float, int]:
        pf = vbt.Portfolio.from_orders(
            close=close_values,
            size=size,
            size_type="targetpercent",
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            price=open_values,
            fees=FEE,
            init_cash=CASH,
            freq="1h",
        )
        return float(pf.final_value()), int(pf.orders.count())

    return run


def single_book() -> dict[str, Any]:
    bars, weights = hourly_case()
    config = PortfolioConfig(initial_cash=CASH, fee=FEE, slippage=0.0, rebalance="bar")
    result = run_portfolio(bars, weights, config)

    def book() -> tuple[float, int]:
        ours = run_portfolio(bars, weights, config)
        return ours.final_equity, ours.n_orders

    def book_frames() -> tuple[Any, ...]:
        ours = run_portfolio(bars, weights, config)
        return tuple(getattr(ours, name) for name in PortfolioResult.lazy_frames())

    ours_s = best_of(book, BOOK_RUNS)
    frames_s = best_of(book_frames, BOOK_RUNS)
    vbt = vectorbt_book(bars, weights)
    vbt()
    vbt_s = best_of(vbt, BOOK_RUNS)
    # Agreement where both see the same universe: the common period, ended a day before
    # MATIC's last bar (at its last bar ours closes it out as delisted; vectorbt cannot).
    start = max(f.index[0] for f in bars.values())
    end = min(f.index[-1] for f in bars.values()) - pd.Timedelta(days=1)
    common = {s: f.loc[start:end] for s, f in bars.items()}
    common_w = weights.loc[start:end]
    ours_common = run_portfolio(common, common_w, config)
    vbt_value, vbt_orders = vectorbt_book(common, common_w)()
    return {
        "bars": len(weights),
        "assets": len(bars),
        "decisions": int(weights.notna().any(axis=1).sum()),
        "orders": result.n_orders,
        "ours_s": ours_s,
        "ours_with_frames_s": frames_s,
        "vectorbt_s": vbt_s,
        "common_period": [str(start), str(end)],
        "common_final_ours": ours_common.final_equity,
        "common_final_vectorbt": vbt_value,
        "common_orders": [ours_common.n_orders, vbt_orders],
        "common_rel_diff": abs(ours_common.final_equity / vbt_value - 1.0),
    }


# --- the sweep: each worker process loads the daily bars once ---------------------------

_DAILY: dict[str, Any] = {}


def _daily() -> dict[str, Any]:
    if not _DAILY:
        bars = {s: load_ohlcv(s, "1d") for s in ROADMAP_ORDER}
        for symbol, frame in bars.items():
            validate(frame, symbol)
        close = pd.DataFrame({s: f["close"] for s, f in bars.items()})
        _DAILY.update(
            bars=bars,
            returns=close.pct_change(fill_method=None),
            config=PortfolioConfig(fee=FEE, slippage=1.0, rebalance="bar"),
        )
    return _DAILY


def one_config(method: str, lookback: int, every: str | int) -> tuple[float, int]:
    """Weights, book and summary of one configuration: (Sharpe, decisions)."""
    data = _daily()
    weights = rolling_weights(data["returns"], method, lookback=lookback, every=every)
    result = run_portfolio(data["bars"], weights, data["config"], validated=True)
    return float(result.summary().sharpe), int(weights.notna().any(axis=1).sum())


def _chunk(configs: list[tuple[str, int, str | int]]) -> list[tuple[float, int, float]]:
    out = []
    for config in configs:
        start = time.perf_counter()
        sharpe, decisions = one_config(*config)
        out.append((sharpe, decisions, time.perf_counter() - start))
    return out


def _warm() -> bool:
    for method in (*SWEEP_METHODS, *SOLVER_METHODS):
        one_config(method, 30, "1M")
    return True


def _ready(_: int) -> bool:
    time.sleep(1.0)
    return True


def sweep() -> dict[str, Any]:
    configs = [(m, lb, ev) for m in SWEEP_METHODS for lb in LOOKBACKS for ev in EVERY]
    # Interleave so that both workers get every method, in chunks of 10.
    order = configs[0::2] + configs[1::2]
    chunks = [order[i : i + 10] for i in range(0, len(order), 10)]
    with ProcessPoolExecutor(WORKERS, initializer=_warm) as pool:
        # One slow task per worker: both have started and warmed up before the clock starts.
        assert all(pool.map(_ready, range(WORKERS)))
        start = time.perf_counter()
        results = [r for chunk in pool.map(_chunk, chunks) for r in chunk]
        wall = time.perf_counter() - start
    per_method: dict[str, dict[str, float]] = {}
    for (method, _, _), (_, decisions, seconds) in zip(order, results, strict=True):
        entry = per_method.setdefault(method, {"configs": 0, "seconds": 0.0, "decisions": 0})
        entry["configs"] += 1
        entry["seconds"] += seconds
        entry["decisions"] += decisions
    sharpes = np.array([r[0] for r in results])
    return {
        "configs": len(configs),
        "workers": WORKERS,
        "wall_s": wall,
        "per_method": per_method,
        "best_sharpe": float(np.nanmax(sharpes)),
    }


def solvers() -> dict[str, Any]:
    _warm()
    out: dict[str, Any] = {}
    for method in SOLVER_METHODS:
        seconds, decisions = 0.0, 0
        for lookback in SOLVER_LOOKBACKS:
            start = time.perf_counter()
            _, n = one_config(method, lookback, "1W")
            seconds += time.perf_counter() - start
            decisions += n
        out[method] = {
            "configs": len(SOLVER_LOOKBACKS),
            "seconds": seconds,
            "decisions": decisions,
        }
    return out


def hrp_decision() -> dict[str, float]:
    """One HRP decision (7 assets x 250 daily returns): the Python twin and the kernel."""
    from quantlib.allocation.hrp import _hrp_core, _hrp_python

    returns = _daily()["returns"].dropna().iloc[-250:]
    x, columns = np.ascontiguousarray(returns.to_numpy()), returns.columns
    _hrp_core(x, columns)
    python_s = best_of(lambda: [_hrp_python(x, columns) for _ in range(100)]) / 100
    kernel_s = best_of(lambda: [_hrp_core(x, columns) for _ in range(1000)]) / 1000
    return {"python_ms": 1e3 * python_s, "kernel_ms": 1e3 * kernel_s}


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, ")
    print(f"{os.cpu_count()} cores; ratio = peer time / our time (above 1: we are faster)")
    book = single_book()
    print(
        f"\none book: {book['assets']} assets x {book['bars']:,} hourly bars, "
        f"{book['decisions']:,} daily decisions, {book['orders']:,} orders"
    )
    print(f"{'':<24} {'ours s':>9} {'vectorbt s':>11} {'ratio':>7}")
    ratio = book["vectorbt_s"] / book["ours_s"]
    print(f"{'run (warm)':<24} {book['ours_s']:9.4f} {book['vectorbt_s']:11.4f} {ratio:6.1f}x")
    framed = book["vectorbt_s"] / book["ours_with_frames_s"]
    print(
        f"{'  + frames built':<24} {book['ours_with_frames_s']:9.4f} "
        f"{book['vectorbt_s']:11.4f} {framed:6.1f}x"
    )
    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min)")
    print(
        f"common period {book['common_period'][0][:10]}..{book['common_period'][1][:10]}: "
        f"final value ours {book['common_final_ours']:.6f}, vectorbt "
        f"{book['common_final_vectorbt']:.6f} (relative difference "
        f"{book['common_rel_diff']:.1e}); orders {book['common_orders'][0]} / "
        f"{book['common_orders'][1]}"
    )
    swept = sweep()
    print(
        f"\n{swept['configs']:,}-configuration sweep (daily bars, {swept['workers']} "
        f"processes): {swept['wall_s']:.1f} s wall"
    )
    print(f"{'method':<14} {'configs':>8} {'s/config':>9} {'ms/decision':>12}  (whole config)")
    for method, entry in swept["per_method"].items():
        print(
            f"{method:<14} {entry['configs']:>8} {entry['seconds'] / entry['configs']:9.3f} "
            f"{1e3 * entry['seconds'] / entry['decisions']:12.3f}"
        )
    hrp = hrp_decision()
    print(
        f"one HRP decision (7 assets x 250 days): Python twin {hrp['python_ms']:.3f} ms, "
        f"kernel {hrp['kernel_ms']:.3f} ms ({hrp['python_ms'] / hrp['kernel_ms']:.0f}x)"
    )
    solved = solvers()
    print("\nsolver-based allocators (one process, weekly decisions)")
    for method, entry in solved.items():
        per_config = entry["seconds"] / entry["configs"]
        print(
            f"{method:<14} {entry['configs']:>8} {per_config:9.3f} "
            f"{1e3 * entry['seconds'] / entry['decisions']:12.3f}   "
            f"(250 configurations ~ {250 * per_config / WORKERS:.0f} s on {WORKERS} processes)"
        )
    print(json.dumps({"book": book, "sweep": swept, "hrp": hrp, "solvers": solved}))


if __name__ == "__main__":
    main()
