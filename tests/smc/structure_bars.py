"""Hand-built bars shared by the structure and order-block tests."""

from __future__ import annotations

import pandas as pd

from quantlib.testing import bars_from_rows

T0 = pd.Timestamp("2024-01-01T00:00Z")


def candles(rows: list[tuple[float, ...]]) -> pd.DataFrame:
    """Bars from (open, high, low, close[, volume]) rows, hourly from T0 (volume 1 if absent)."""
    return bars_from_rows(rows, start=T0)


def hour(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=n)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame[columns].itertuples(index=False)]


# Swing high 12 (bar 1, confirmed bar 2) and swing low 9 (bar 2, confirmed bar 3) with
# left = right = 1; bar 4 closes above 12 (bullish BOS); a lower swing high 12.6 forms at
# bar 5; bar 7 closes below 9 (bearish CHoCH, and the BOS's protected low is lost).
REVERSAL = candles(
    [
        (10.0, 10.5, 9.5, 10.0),
        (10.0, 12.0, 10.0, 11.5),
        (11.5, 11.8, 9.0, 9.5),
        (9.5, 11.0, 9.2, 10.8),
        (10.8, 12.5, 10.5, 12.4),
        (12.4, 12.6, 11.9, 12.1),
        (12.1, 12.2, 10.0, 10.2),
        (10.2, 10.3, 8.5, 8.8),
        (8.8, 9.1, 8.4, 8.6),
        (8.6, 11.0, 8.5, 10.9),
        (10.9, 12.0, 10.8, 11.9),
    ]
)
