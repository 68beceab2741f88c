"""Public helpers for testing code that consumes OHLCV data.

``make_ohlcv`` builds small contract frames from close prices; ``ohlcv_frames`` is a
hypothesis strategy of valid frames (hypothesis is a test dependency, imported lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME
from quantlib.data.timeframes import parse_timeframe

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["make_ohlcv", "ohlcv_frames"]


def make_ohlcv(
    closes: Any,
    *,
    start: str = "2024-01-01T00:00Z",
    timeframe: str = "1h",
    spread: float = 0.01,
    volume: float = 1.0,
) -> pd.DataFrame:
    """A contract frame whose bars open at the previous close and close at ``closes``.

    High and low extend ``spread`` (a fraction) beyond the bar's open/close range.

    Examples
    --------
    >>> make_ohlcv([100.0, 101.0]).loc[:, ["open", "close"]].to_numpy().tolist()
    [[100.0, 100.0], [100.0, 101.0]]
    """
    close = np.asarray(closes, dtype=np.float64)
    opens = np.concatenate([close[:1], close[:-1]])
    tf = parse_timeframe(timeframe)
    index = pd.date_range(pd.Timestamp(start), periods=len(close), freq=tf.delta, name=INDEX_NAME)
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + spread),
            "low": np.minimum(opens, close) * (1 - spread),
            "close": close,
            "volume": np.full(len(close), float(volume)),
        },
        index=index.as_unit("ns"),
    )


def ohlcv_frames(
    *,
    timeframe: str = "1h",
    min_bars: int = 1,
    max_bars: int = 200,
    allow_gaps: bool = True,
) -> SearchStrategy[pd.DataFrame]:
    """Hypothesis strategy of valid OHLCV frames on the ``timeframe`` grid.

    Prices are positive with bars consistent (low <= open, close <= high); volume >= 0; bars
    start at a random grid point in 2024 and, with ``allow_gaps``, some bars are missing.
    """
    from hypothesis import strategies as st

    tf = parse_timeframe(timeframe)

    @st.composite
    def build(draw: Any) -> pd.DataFrame:
        n = draw(st.integers(min_value=min_bars, max_value=max_bars))
        floats = st.floats(min_value=1.0, max_value=1e5, allow_nan=False, allow_infinity=False)
        opens = np.array(draw(st.lists(floats, min_size=n, max_size=n)))
        closes = np.array(draw(st.lists(floats, min_size=n, max_size=n)))
        fractions = st.floats(min_value=0.0, max_value=0.2)
        up = np.array(draw(st.lists(fractions, min_size=n, max_size=n)))
        down = np.array(draw(st.lists(fractions, min_size=n, max_size=n)))
        volume = np.array(
            draw(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=n, max_size=n))
        )
        steps = draw(
            st.lists(
                st.integers(min_value=1, max_value=3 if allow_gaps else 1), min_size=n, max_size=n
            )
        )
        offset = draw(st.integers(min_value=0, max_value=10_000))
        start = tf.floor(pd.DatetimeIndex([pd.Timestamp("2024-01-01", tz="UTC")]))[0]
        positions = offset + np.cumsum(steps)
        index = pd.DatetimeIndex(start + positions * tf.delta, name=INDEX_NAME).as_unit("ns")
        return pd.DataFrame(
            {
                "open": opens,
                "high": np.maximum(opens, closes) * (1 + up),
                "low": np.minimum(opens, closes) * (1 - down),
                "close": closes,
                "volume": volume,
            },
            index=index,
        )

    return build()
