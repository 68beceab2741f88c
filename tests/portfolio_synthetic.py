"""Assets and periods that are not in the repository, for the portfolio command, report, page
and workbook tests: three random walks named DOGEUSDT, XRPUSDT and FOOBAR (none is bundled),
on a calendar of the caller's choosing (2015 daily bars, 2030 four-hour bars, ...).

DOGEUSDT trades over the whole period; XRPUSDT is listed a quarter of the way in (its first
bar is later than the others'); FOOBAR is delisted two thirds of the way in (its last bar is
earlier). Bars come from :func:`quantlib.testing.make_ohlcv` (each bar opens at the previous
close), so every frame meets the data contract.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.store import write_bars
from quantlib.testing import make_ohlcv

ASSETS = ("DOGEUSDT", "XRPUSDT", "FOOBAR")
LATE, EARLY = "XRPUSDT", "FOOBAR"  # listed late, delisted early


def synthetic_bars(
    timeframe: str = "1d", start: str = "2015-01-01T00:00Z", n: int = 480, seed: int = 16
) -> dict[str, pd.DataFrame]:
    """The three assets' bars: ``n`` bars of ``timeframe`` from ``start``, cut by listing and
    delisting (XRPUSDT from bar ``n // 4``, FOOBAR up to bar ``2 * n // 3``)."""
    rng = np.random.default_rng(seed)
    spans = {"DOGEUSDT": (0, n), LATE: (n // 4, n), EARLY: (0, 2 * n // 3)}
    bars = {}
    for i, (name, (first, stop)) in enumerate(spans.items()):
        closes = 20.0 * (i + 1) * np.exp(np.cumsum(rng.normal(0.0004, 0.025, n)))
        bars[name] = make_ohlcv(closes, start=start, timeframe=timeframe).iloc[first:stop]
    return bars


def write_csvs(folder: Path, bars: dict[str, pd.DataFrame]) -> list[Path]:
    """One CSV per asset, ``folder/NAME.csv`` (the file name is the asset's name)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in bars.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index_label="timestamp")
        paths.append(path)
    return paths


def store(bars: dict[str, pd.DataFrame], timeframe: str) -> None:
    """Put the bars in the store of the current settings (what ``quant data import`` does)."""
    for name, frame in bars.items():
        write_bars(frame, name, timeframe, source=f"synthetic {name}")
