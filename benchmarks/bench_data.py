"""Speed of the data layer beside plain pandas, on the bundled data. One command:

    .venv/bin/python benchmarks/bench_data.py      (or: make bench)

Peers: pandas' own ``DataFrame.resample(...).agg(...)`` (which does not check completeness
or report dropped bars) and a bare ``pandas.read_csv`` (which validates nothing). Ratios > 1
mean ours is slower. Timings are medians of repeated runs on this machine; they vary by
machine and load, so compare ratios, not absolute numbers.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import pandas as pd

from quantlib.data import load_ohlcv, resample
from quantlib.data.catalog import _read_cached, series_info
from quantlib.data.io import read_ohlcv_file

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def median_time(func: Callable[[], object], repeat: int = 7) -> float:
    func()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def pandas_resample(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    return frame.resample(rule, label="left", closed="left").agg(AGG).dropna()


def main() -> None:
    rows = []
    for symbol, source, target, rule in [
        ("BTCUSDT", "5m", "1h", "1h"),
        ("BTCUSDT", "1h", "1d", "1D"),
        ("BTCUSDT", "1h", "1w", "W-MON"),
    ]:
        frame = load_ohlcv(symbol, source)
        ours = median_time(lambda f=frame, t=target: resample(f, t))
        if rule == "W-MON":
            peer = median_time(
                lambda f=frame: f.resample("W-MON", label="left", closed="left").agg(AGG)
            )
        else:
            peer = median_time(lambda f=frame, r=rule: pandas_resample(f, r))
        rows.append((f"resample {symbol} {source}->{target} ({len(frame)} bars)", ours, peer))

    for symbol, timeframe in [("BTCUSDT", "5m"), ("BTCUSDT", "1h")]:
        path = series_info(symbol, timeframe).path

        def ours_load(p: str = str(path), tf: str = timeframe) -> object:
            _read_cached.cache_clear()
            return read_ohlcv_file(p, timeframe=tf)

        def peer_load(p: str = str(path)) -> object:
            frame = pd.read_csv(p)
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
            return frame.set_index("timestamp")

        rows.append((f"load+validate {path.name}", median_time(ours_load), median_time(peer_load)))

    print(f"python {platform.python_version()}, pandas {pd.__version__}, {platform.machine()}")
    print(f"{'case':<52} {'ours ms':>9} {'pandas ms':>10} {'ratio':>7}")
    for name, ours, peer in rows:
        print(f"{name:<52} {ours * 1e3:9.2f} {peer * 1e3:10.2f} {ours / peer:7.2f}")


if __name__ == "__main__":
    main()
