"""A perpetual that is not in the repository, for the perpetuals workbook and page tests.

XYZUSDT over 2031 (no bundled series has that name or period): hourly spot, perpetual and
mark-price bars and daily spot bars, and 8-hourly funding, put in the store of the current
settings as ``quant data import`` and ``quant data fetch`` put them. The perpetual trades at a
small premium over spot, the mark price halfway between; funding pays shorts for the first
half of the period and longs for the second, with noise, so the carry filter, the regimes and
the event study all have something to find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.data import resample
from quantlib.data.funding import write_funding
from quantlib.data.store import write_bars
from quantlib.testing import make_ohlcv

SYMBOL = "XYZUSDT"
START = "2031-01-01T00:00Z"


def store_perpetual(days: int = 240, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Store XYZUSDT's series (``days`` of them) and return them by name: ``spot``
    (hourly), ``spot_1d``, ``perp``, ``mark`` (hourly) and ``funding`` (8-hourly events)."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    spot = 40.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n)))
    premium = rng.normal(3e-4, 4e-4, n)
    series = {
        "spot": make_ohlcv(spot, start=START, timeframe="1h", spread=0.002),
        "perp": make_ohlcv(spot * (1 + premium), start=START, timeframe="1h", spread=0.002),
        "mark": make_ohlcv(
            spot * (1 + premium / 2), start=START, timeframe="1h", spread=0.001, volume=0.0
        ),
    }
    series["spot_1d"] = resample(series["spot"], "1d")
    write_bars(series["spot"], SYMBOL, "1h", source="synthetic spot")
    write_bars(series["spot_1d"], SYMBOL, "1d", source="synthetic spot")
    write_bars(series["perp"], SYMBOL, "1h", source="synthetic perp", market="perpetual")
    write_bars(series["mark"], SYMBOL, "1h", source="synthetic mark", market="mark")
    times = pd.date_range(START, periods=3 * days, freq="8h", name="timestamp")[1:]
    regime = np.where(np.arange(len(times)) < len(times) // 2, 2e-4, -5e-5)
    funding = pd.DataFrame(
        {"funding_rate": regime + rng.normal(0, 6e-5, len(times)), "mark_price": np.nan},
        index=times,
    )
    write_funding(funding, SYMBOL, source="synthetic funding")
    series["funding"] = funding
    return series
