"""The OHLCV data contract and its validator.

An OHLCV frame has a tz-aware UTC ``DatetimeIndex`` named ``timestamp`` (bar open time),
strictly increasing and unique, and float64 columns ``open, high, low, close, volume`` with
no NaN or infinity, positive prices, ``volume >= 0``, ``high >= max(open, close)`` and
``low <= min(open, close)``. Extra columns are allowed and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS, PRICE_COLUMNS
from quantlib.data.timeframes import Timeframe, parse_timeframe
from quantlib.exceptions import DataError

__all__ = ["data_error", "validate"]


def _format_ts(value: object) -> str:
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def data_error(
    source: str,
    rule: str,
    *,
    position: int | None = None,
    first_line: int | None = None,
    timestamp: object = None,
    detail: str = "",
    fix: str = "",
    count: int = 1,
) -> DataError:
    """Build a :class:`DataError` whose message names source, row, rule and fix.

    ``first_line`` is the file line of row 0 (2 for a CSV with a header); without it the row
    is named by its 0-based position in the frame.
    """
    where = [source]
    line = None
    if position is not None:
        if first_line is not None:
            line = first_line + position
            where.append(f"line {line}")
        else:
            where.append(f"row {position}")
    ts_text = None if timestamp is None else _format_ts(timestamp)
    if ts_text is not None:
        where.append(f"timestamp {ts_text}")
    message = f"{', '.join(where)}: {rule}"
    if detail:
        message += f" ({detail})"
    if count > 1:
        message += f"; {count} rows break this rule"
    if fix:
        message += f". Fix: {fix}"
    return DataError(
        message, source=source, rule=rule, line=line, position=position, timestamp=ts_text
    )


@dataclass(frozen=True)
class _Rule:
    name: str
    fix: str
    bad: Callable[[dict[str, np.ndarray]], np.ndarray]
    detail: Callable[[dict[str, np.ndarray], int], str]


def _values(cols: dict[str, np.ndarray], i: int, names: tuple[str, ...]) -> str:
    return ", ".join(f"{n}={float(cols[n][i])!r}" for n in names)


def _stack(cols: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([cols[n] for n in names])


def _rows_any(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask.any(axis=1), dtype=bool)


def _first_nonfinite(cols: dict[str, np.ndarray], i: int) -> str:
    names = [n for n in OHLCV_COLUMNS if not np.isfinite(cols[n][i])]
    return _values(cols, i, tuple(names))


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "NaN or infinite value",
        "Drop or repair the row at the source; gaps are allowed, missing values are not",
        lambda c: _rows_any(~np.isfinite(_stack(c, OHLCV_COLUMNS))),
        _first_nonfinite,
    ),
    _Rule(
        "non-positive price",
        "Prices must be > 0; remove the bad row or fix the price at the source",
        lambda c: _rows_any(_stack(c, PRICE_COLUMNS) <= 0),
        lambda c, i: _values(c, i, PRICE_COLUMNS),
    ),
    _Rule(
        "negative volume",
        "Volume must be >= 0; fix the row at the source",
        lambda c: c["volume"] < 0,
        lambda c, i: _values(c, i, ("volume",)),
    ),
    _Rule(
        "high < max(open, close)",
        "The bar's high must be at least its open and close; fix or drop the row",
        lambda c: c["high"] < np.maximum(c["open"], c["close"]),
        lambda c, i: _values(c, i, ("open", "high", "close")),
    ),
    _Rule(
        "low > min(open, close)",
        "The bar's low must be at most its open and close; fix or drop the row",
        lambda c: c["low"] > np.minimum(c["open"], c["close"]),
        lambda c, i: _values(c, i, ("open", "low", "close")),
    ),
)


def _check_structure(df: pd.DataFrame, source: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{source}: expected a pandas DataFrame, got {type(df).__name__}",
            source=source,
            rule="not a DataFrame",
        )
    lower = {str(c).lower(): c for c in df.columns}
    for name in OHLCV_COLUMNS:
        if name not in df.columns:
            hint = (
                f"rename column {lower[name]!r} to {name!r}"
                if name in lower
                else "add it, or load files with quantlib.data.load_ohlcv (matches names "
                "case-insensitively)"
            )
            raise DataError(
                f"{source}: missing column {name!r} (columns present: "
                f"{[str(c) for c in df.columns]}). Fix: {hint}",
                source=source,
                rule="missing column",
            )
    for name in OHLCV_COLUMNS:
        if df[name].dtype != np.float64:
            raise DataError(
                f"{source}: column {name!r} has dtype {df[name].dtype}, expected float64. "
                f"Fix: df[{name!r}] = df[{name!r}].astype('float64')",
                source=source,
                rule="column dtype",
            )
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{source}: the index must be a DatetimeIndex of bar open times, got "
            f"{type(index).__name__}. Fix: df = df.set_index(pd.to_datetime(df['timestamp'], "
            "utc=True))",
            source=source,
            rule="index is not a DatetimeIndex",
        )
    if index.tz is None:
        first = _format_ts(index[0]) if len(index) else None
        raise data_error(
            source,
            "naive timestamp",
            position=0 if len(index) else None,
            timestamp=first,
            detail="the index has no time zone",
            fix="df.index = df.index.tz_localize('UTC') if the times are UTC",
        )
    if str(index.tz) != "UTC":
        raise DataError(
            f"{source}: the index is in time zone {index.tz}, expected UTC. "
            "Fix: df.index = df.index.tz_convert('UTC')",
            source=source,
            rule="index not in UTC",
        )
    if index.name != INDEX_NAME:
        raise DataError(
            f"{source}: the index is named {index.name!r}, expected {INDEX_NAME!r}. "
            f"Fix: df.index.name = {INDEX_NAME!r}",
            source=source,
            rule="index name",
        )


def _all_good(cols: dict[str, np.ndarray], step: np.ndarray) -> bool:
    """Fast whole-array check; the row-by-row rules run only when it fails."""
    o, h, low, c, v = (cols[n] for n in OHLCV_COLUMNS)
    with np.errstate(invalid="ignore"):
        return bool(
            np.isfinite(o).all()
            and np.isfinite(h).all()
            and np.isfinite(low).all()
            and np.isfinite(c).all()
            and np.isfinite(v).all()
            and low.min() > 0
            and v.min() >= 0
            and (h >= o).all()
            and (h >= c).all()
            and (low <= o).all()
            and (low <= c).all()
            and (len(step) == 0 or step.min() > 0)
        )


def validate(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    *,
    timeframe: str | Timeframe | None = None,
    first_line: int | None = None,
) -> pd.DataFrame:
    """Check that ``df`` satisfies the OHLCV contract; return it unchanged if it does.

    Parameters
    ----------
    df : pandas.DataFrame
        Frame to check.
    source : str
        Name used in error messages (a path or symbol).
    timeframe : str or Timeframe, optional
        When given, every timestamp must also lie on this timeframe's bar grid.
    first_line : int, optional
        File line number of the first row (2 for a CSV with a header line), so errors can
        name the line to fix. Without it rows are named by their 0-based position.

    Returns
    -------
    pandas.DataFrame
        The same object, for chaining.

    Raises
    ------
    DataError
        Naming the source, the first offending row (timestamp and line or position) and the
        rule broken: missing column, column dtype, naive timestamp, NaN/inf, non-positive
        price, negative volume, high < max(open, close), low > min(open, close), unsorted,
        duplicate timestamp, or off the bar grid.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.DatetimeIndex(["2024-01-01T00:00Z"], name="timestamp")
    >>> bar = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5],
    ...                     "volume": [10.0]}, index=idx)
    >>> validate(bar) is bar
    True
    """
    _check_structure(df, source)
    if df.empty:
        return df
    cols = {n: df[n].to_numpy(dtype=np.float64) for n in OHLCV_COLUMNS}
    index = pd.DatetimeIndex(df.index)
    stamps = index.as_unit("ns").asi8
    step = np.diff(stamps)
    if timeframe is None and _all_good(cols, step):
        return df
    candidates: list[tuple[int, int, str, str, str]] = []  # (position, priority, rule, ...)
    counts: dict[str, int] = {}
    for priority, rule in enumerate(_RULES):
        bad = rule.bad(cols)
        if bad.any():
            pos = int(np.argmax(bad))
            counts[rule.name] = int(bad.sum())
            candidates.append((pos, priority, rule.name, rule.detail(cols, pos), rule.fix))
    order_rules = (
        (
            step < 0,
            "unsorted timestamps",
            "Sort the bars by time (df.sort_index()) after checking why they are out of order",
        ),
        (
            step == 0,
            "duplicate timestamp",
            "Keep one bar per timestamp (df[~df.index.duplicated(keep='last')]) after checking "
            "which copy is right",
        ),
    )
    for offset, (bad, name, fix) in enumerate(order_rules):
        if bad.any():
            pos = int(np.argmax(bad)) + 1
            counts[name] = int(bad.sum())
            detail = f"previous bar {_format_ts(df.index[pos - 1])}"
            candidates.append((pos, len(_RULES) + offset, name, detail, fix))
    if timeframe is not None:
        tf = parse_timeframe(timeframe)
        bad = ~tf.on_grid(index)
        if bad.any():
            pos = int(np.argmax(bad))
            name = f"off the {tf.name} bar grid"
            counts[name] = int(bad.sum())
            fix = f"Bars must open on multiples of {tf.delta} (weeks on Monday 00:00 UTC)"
            candidates.append((pos, len(_RULES) + 2, name, "", fix))
    if candidates:
        pos, _, name, detail, fix = min(candidates)
        raise data_error(
            source,
            name,
            position=pos,
            first_line=first_line,
            timestamp=df.index[pos],
            detail=detail,
            fix=fix,
            count=counts[name],
        )
    return df
