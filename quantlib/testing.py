"""Public helpers for testing code that consumes OHLCV data.

``make_ohlcv`` builds small contract frames from close prices; ``ohlcv_frames`` is a
hypothesis strategy of valid frames (hypothesis is a test dependency, imported lazily);
``assert_no_lookahead`` checks the truncation invariance every signal function must have (what
is known at a bar: :mod:`quantlib.data.truncation`);
``assert_allclose_ulps`` and ``assert_frame_close`` compare floats computed by two different
code paths (numba and Python, numpy and ``math``) within a tolerance stated in units in the last
place, so a test does not depend on which SIMD kernel the CPU picked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME
from quantlib.data.timeframes import parse_timeframe
from quantlib.data.truncation import canonical, cut_label, is_event_frame, known_at
from quantlib.data.truncation import lifecycle_columns as lifecycle_columns

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "DEFAULT_MAX_ULPS",
    "assert_allclose_ulps",
    "assert_frame_close",
    "assert_no_lookahead",
    "bars_from_rows",
    "lifecycle_columns",
    "make_ohlcv",
    "ohlcv_frames",
]


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


def bars_from_rows(
    rows: Any,
    *,
    start: str | pd.Timestamp = "2024-01-01T00:00Z",
    timeframe: str = "1h",
    volume: float = 1.0,
) -> pd.DataFrame:
    """A contract frame from ``(open, high, low, close[, volume])`` rows, one bar per
    ``timeframe`` from ``start`` (volume ``volume`` where a row has none).

    Examples
    --------
    >>> bars_from_rows([(1, 2, 0.5, 1.5), (1.5, 3, 1, 2.5, 7)])["volume"].tolist()
    [1.0, 7.0]
    """
    values = np.array([(*row, volume)[:5] for row in rows], dtype=np.float64).reshape(-1, 5)
    tf = parse_timeframe(timeframe)
    stamp = pd.Timestamp(start)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    index = pd.date_range(stamp, periods=len(values), freq=tf.delta, name=INDEX_NAME)
    return pd.DataFrame(
        values, columns=["open", "high", "low", "close", "volume"], index=index.as_unit("ns")
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


def assert_no_lookahead(
    func: Callable[..., pd.DataFrame],
    df: pd.DataFrame,
    cut_points: Iterable[int | pd.Timestamp],
    **kwargs: Any,
) -> None:
    """Assert that ``func`` computed on ``df[:t]`` agrees with ``func(df)`` as known at ``t``.

    Two kinds of output are understood:

    * an **event frame** (has ``confirmed_at``): the events of ``func(df.loc[:t])`` must equal,
      field by field, the events of ``func(df)`` with ``confirmed_at <= t``, where every other
      ``*_at`` timestamp later than ``t`` (``mitigated_at``, ``invalidated_at``, ...) is NaT;
    * a **per-bar frame or series** indexed like ``df``: ``func(df.loc[:t])`` must equal
      ``func(df).loc[:t]``.

    Parameters
    ----------
    func : callable
        Called as ``func(frame, **kwargs)``.
    df : pandas.DataFrame
        Full OHLCV frame.
    cut_points : iterable of int or Timestamp
        Last bar included in each truncated run (a position or an index label).

    Raises
    ------
    AssertionError
        Naming the cut point and showing where the two results differ.
    """
    full = func(df, **kwargs)
    for cut in cut_points:
        t = cut_label(df.index, cut)
        part = func(df.loc[:t], **kwargs)
        expected: Any = known_at(full, t)
        if is_event_frame(full):
            left, right = canonical(part), canonical(expected)
        else:
            left, right = part, expected
        try:
            if isinstance(left, pd.DataFrame):
                pd.testing.assert_frame_equal(left, right, check_exact=True)
            else:
                pd.testing.assert_series_equal(left, right, check_exact=True)
        except AssertionError as exc:
            raise AssertionError(
                f"look-ahead in {getattr(func, '__name__', func)!r}: the result on data up to "
                f"{t} differs from the full-data result as known at {t}.\n{exc}"
            ) from None


DEFAULT_MAX_ULPS = 16
"""Tolerance of :func:`assert_allclose_ulps` when none is given: libm and SIMD implementations of
``log``/``exp``/``pow`` are within 1-4 ulps of the true value, and a short chain of such operations
(a Wilder average of logs, say) can move a result by a few ulps more."""


def assert_allclose_ulps(
    actual: Any, desired: Any, *, max_ulps: int = DEFAULT_MAX_ULPS, err_msg: str = ""
) -> None:
    """Assert two float arrays are equal to within ``max_ulps`` units in the last place.

    NaN must face NaN and infinities must be equal; elsewhere
    ``|a - b| <= max_ulps * spacing(max(|a|, |b|))``. Use it where the two sides come from
    different code paths (a numba kernel and its Python twin, ``np.log1p`` and ``math.log1p``);
    keep exact equality for the determinism of one path.

    Examples
    --------
    >>> import math
    >>> assert_allclose_ulps(np.log1p([1.0, 2.0]), [math.log1p(1.0), math.log1p(2.0)])
    >>> assert_allclose_ulps([1.0], [1.0 + 1e-9])
    Traceback (most recent call last):
    ...
    AssertionError: 1 of 1 elements differ by more than 16 ulps ...
    """
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(desired, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} != {b.shape}. {err_msg}".strip())
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    finite = ~nan_a & ~nan_b & np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore"):
        allowed = max_ulps * np.spacing(np.maximum(np.abs(a), np.abs(b)))
        close = np.where(finite, np.abs(a - b) <= allowed, (a == b) | (nan_a & nan_b))
    bad = ~close
    if bad.any():
        where = np.flatnonzero(bad.ravel())[:5]
        pairs = ", ".join(f"[{i}] {a.ravel()[i]!r} vs {b.ravel()[i]!r}" for i in where)
        raise AssertionError(
            f"{int(bad.sum())} of {a.size} elements differ by more than {max_ulps} ulps "
            f"(first: {pairs}). {err_msg}".strip()
        )


def assert_frame_close(
    actual: pd.DataFrame | pd.Series,
    desired: pd.DataFrame | pd.Series,
    *,
    max_ulps: int = DEFAULT_MAX_ULPS,
) -> None:
    """Like ``pandas.testing.assert_frame_equal`` (or ``assert_series_equal``), exact for the
    index, the columns, the dtypes and every non-float column, and within ``max_ulps`` (see
    :func:`assert_allclose_ulps`) for float columns.

    Examples
    --------
    >>> left = pd.DataFrame({"x": [1.0, np.nan], "n": [1, 2]})
    >>> assert_frame_close(left, left.assign(x=[1.0 + 2e-16, np.nan]))
    """
    if isinstance(actual, pd.Series) or isinstance(desired, pd.Series):
        assert_frame_close(pd.DataFrame(actual), pd.DataFrame(desired), max_ulps=max_ulps)
        return
    pd.testing.assert_index_equal(actual.index, desired.index, exact=True)
    pd.testing.assert_index_equal(actual.columns, desired.columns, exact=True)
    pd.testing.assert_series_equal(actual.dtypes, desired.dtypes)
    for column in actual.columns:
        left, right = actual[column], desired[column]
        if pd.api.types.is_float_dtype(left.dtype):
            assert_allclose_ulps(
                left.to_numpy(), right.to_numpy(), max_ulps=max_ulps, err_msg=f"column {column!r}"
            )
        else:
            pd.testing.assert_series_equal(left, right, check_exact=True)
