"""Speed of the Monte Carlo stress paths. One command:

    .venv/bin/python -m benchmarks.stress

Case: 10,000 paths × 365 days × 7 assets (the bundled BTC, ETH, SOL, ADA, MATIC, AVAX, LINK
daily returns where all traded, 2021-01-01..2024-09-09), stationary block bootstrap (mean block
10 days) and GARCH(1,1) paths, equal weights. Timed from the returns in memory to a finished
``MonteCarloResult`` with the scheduler started inside the call: Dask's threaded scheduler (the
default) and, with ``--distributed``, a fresh ``LocalCluster`` of processes. The first call
includes loading numba's cached kernels; the target is under 5 s on a 2-core machine.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from quantlib.backtest.runs import load_assets
from quantlib.data import universe
from quantlib.stress.montecarlo import monte_carlo

ASSETS = list(universe(timeframe="1d"))  # the 7 bundled Binance spot assets


def returns() -> pd.DataFrame:
    bars = load_assets(ASSETS, "1d")
    closes = pd.DataFrame({a: b["close"] for a, b in bars.items()})
    closes = closes.loc["2021-01-01":"2024-09-09"]
    return closes.pct_change(fill_method=None).iloc[1:].dropna()


def main() -> None:
    data = returns()
    weights = {asset: 1.0 / len(ASSETS) for asset in ASSETS}
    schedulers = ["threads", "distributed"] if "--distributed" in sys.argv else ["threads"]
    print(f"history: {len(data)} days × {data.shape[1]} assets; 10,000 paths × 365 days")
    for scheduler in schedulers:
        for method in ("bootstrap", "garch"):
            for label in ("first call", "warm"):
                start = time.perf_counter()
                result = monte_carlo(
                    data, weights, method=method, n_paths=10_000, horizon_days=365,
                    mean_block_length=10.0, seed=1, scheduler=scheduler,
                )  # fmt: skip
                elapsed = time.perf_counter() - start
                print(
                    f"{method:9s} {scheduler:11s} {label:10s} {elapsed:6.2f} s  "
                    f"P(ruin)={result.p_ruin:.3f}  median P&L={result.summary()['pnl_median']:+.3f}"
                )


if __name__ == "__main__":
    main()
