"""Reading OHLCV files (CSV, gzip CSV, Parquet) into contract frames.

Column names are matched case-insensitively (``Open``, ``OPEN``, ``open``), common names of the
time column are recognised (``timestamp``, ``time``, ``date``, ``datetime``, ``open_time``), and
timestamps may be ISO-8601 strings with a UTC offset or epoch numbers in seconds, milliseconds,
microseconds or nanoseconds (the unit is read from their magnitude).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS, PathLike
from quantlib.data.schema import data_error, validate
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import DataError

__all__ = ["SUPPORTED_SUFFIXES", "is_data_file", "read_ohlcv_file"]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".pq")
_TIME_ALIASES = ("timestamp", "time", "date", "datetime", "open_time", "opentime", "ts")
_ALIASES = {"vol": "volume"}
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
# Epoch magnitudes: 1e11 s is the year 5138 and 1e11 ms is 1973, so the unit is unambiguous
# for any market data after 1973.
_EPOCH_UNITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


def is_data_file(source: PathLike) -> bool:
    """True if ``source`` names a file by a supported suffix."""
    name = str(source).lower()
    return name.endswith(SUPPORTED_SUFFIXES)


def _match_columns(frame: pd.DataFrame, source: str) -> dict[str, str]:
    """Map contract names (and ``timestamp``) to the frame's own column names."""
    by_lower: dict[str, str] = {}
    for column in frame.columns:
        key = str(column).strip().lower()
        key = _ALIASES.get(key, key)
        if key in by_lower:
            raise DataError(
                f"{source}: columns {by_lower[key]!r} and {column!r} both match {key!r} "
                "(names are compared case-insensitively). Fix: drop or rename one of them",
                source=source,
                rule="ambiguous column",
            )
        by_lower[key] = str(column)
    mapping = {}
    for name in OHLCV_COLUMNS:
        if name not in by_lower:
            raise DataError(
                f"{source}: missing column {name!r} (columns present: "
                f"{[str(c) for c in frame.columns]}). Fix: the file needs open, high, low, "
                "close and volume columns (any letter case)",
                source=source,
                rule="missing column",
            )
        mapping[name] = by_lower[name]
    for alias in _TIME_ALIASES:
        if alias in by_lower:
            mapping[INDEX_NAME] = by_lower[alias]
            break
    else:
        raise DataError(
            f"{source}: missing timestamp column (columns present: "
            f"{[str(c) for c in frame.columns]}). Fix: name the bar open-time column one of "
            f"{list(_TIME_ALIASES)}",
            source=source,
            rule="missing column",
        )
    return mapping


def _epoch_unit(values: np.ndarray) -> str:
    magnitude = float(np.nanmax(np.abs(values))) if len(values) else 0.0
    for bound, unit in _EPOCH_UNITS:
        if magnitude < bound:
            return unit
    return "ns"


def _parse_time(
    raw: pd.Series, source: str, first_line: int | None, naive_tz: str | None
) -> pd.DatetimeIndex:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(raw).tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        if naive_tz is None:
            raise data_error(
                source,
                "naive timestamp",
                position=0,
                first_line=first_line,
                timestamp=raw.iloc[0] if len(raw) else None,
                detail="the time column has no time zone",
                fix="store UTC times with their zone, or pass naive_tz='UTC' "
                "(CLI: --naive-tz UTC) if you know the zone",
            )
        return pd.DatetimeIndex(raw).tz_localize(naive_tz).tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64)
        missing = ~np.isfinite(values)
        if missing.any():
            pos = int(np.argmax(missing))
            raise data_error(
                source,
                "unparseable timestamp",
                position=pos,
                first_line=first_line,
                detail="empty or non-finite epoch value",
                fix="every row needs a bar open time",
            )
        unit = _epoch_unit(values)
        scale = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}[unit]
        nanos = np.round(values * scale).astype(np.int64)
        return pd.DatetimeIndex(pd.to_datetime(nanos, unit="ns", utc=True))
    text = raw.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        pos = int(np.argmax(bad))
        raise data_error(
            source,
            "unparseable timestamp",
            position=pos,
            first_line=first_line,
            detail=f"value {raw.iloc[pos]!r}",
            fix="write ISO-8601 times with a zone (2024-01-01T00:00:00Z) or epoch numbers",
            count=int(bad.sum()),
        )
    naive = ~text.str.contains(_TZ_SUFFIX).fillna(False).to_numpy(dtype=bool)
    if naive.any():
        if naive_tz is None or not naive.all():
            pos = int(np.argmax(naive))
            raise data_error(
                source,
                "naive timestamp",
                position=pos,
                first_line=first_line,
                detail=f"value {raw.iloc[pos]!r} has no UTC offset",
                fix="append 'Z' for UTC, or pass naive_tz='UTC' (CLI: --naive-tz UTC) if every "
                "time in the file is in that zone",
                count=int(naive.sum()),
            )
        local = pd.to_datetime(text, format="ISO8601")
        return pd.DatetimeIndex(local).tz_localize(naive_tz).tz_convert("UTC")
    return pd.DatetimeIndex(parsed)


def _parse_numbers(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    source: str,
    first_line: int | None,
    fix: str = "prices and volumes must be plain decimal numbers",
) -> dict[str, np.ndarray]:
    """The columns of ``frame`` as float64 arrays (empty cells become NaN), keyed by the names
    in ``columns`` (name -> the frame's own column); text that is not a number is a
    :class:`DataError` naming the column by that name, the line and ``fix``."""
    out = {}
    for name, column in columns.items():
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = (numbers.isna() & raw.notna()).to_numpy()
        if bad.any():
            pos = int(np.argmax(bad))
            raise data_error(
                source,
                "unparseable number",
                position=pos,
                first_line=first_line,
                detail=f"column {name!r} holds {raw.iloc[pos]!r}",
                fix=fix,
                count=int(bad.sum()),
            )
        out[name] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _read_table(path: Path, not_found: str) -> tuple[pd.DataFrame, int | None]:
    """The raw columns of a data file and the file line of its first row (None for Parquet).

    A path that names no file is a :class:`DataError` reading ``"{path}: {not_found}"``; an
    unsupported suffix or a file the reader refuses is one too, with its fix.
    """
    source = str(path)
    if not path.is_file():
        raise DataError(f"{source}: {not_found}", source=source, rule="file not found")
    if not is_data_file(path):
        raise DataError(
            f"{source}: unsupported file type. Fix: use one of {list(SUPPORTED_SUFFIXES)}",
            source=source,
            rule="unsupported file type",
        )
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            if isinstance(frame.index, pd.DatetimeIndex):
                frame = frame.reset_index()
            return frame, None
        # Blank lines are kept as empty rows so that reported line numbers match the file.
        return pd.read_csv(path, skip_blank_lines=False), 2
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"{source}: cannot read the file ({exc}). Fix: check that it is a valid "
            f"{path.suffix} file",
            source=source,
            rule="unreadable file",
        ) from exc


def _fill_empty_volume(frame: pd.DataFrame) -> pd.DataFrame:
    """A missing or wholly empty volume column becomes 0.0 (mark-price klines carry none)."""
    names = [
        c
        for c in frame.columns
        if _ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) == "volume"
    ]
    if not names:
        return frame.assign(volume=0.0)
    if len(names) == 1 and frame[names[0]].isna().all():
        return frame.assign(**{str(names[0]): 0.0})
    return frame


def read_ohlcv_file(
    path: PathLike,
    *,
    timeframe: str | Timeframe | None = None,
    naive_tz: str | None = None,
    allow_empty_volume: bool = False,
) -> pd.DataFrame:
    """Read and validate one OHLCV file.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.csv.gz`` or ``.parquet`` file.
    timeframe : str or Timeframe, optional
        If given, timestamps must lie on its bar grid.
    naive_tz : str, optional
        Time zone of timestamps written without one. By default such timestamps are an
        error, because guessing the zone shifts every bar.
    allow_empty_volume : bool, default False
        Read a missing or wholly empty ``volume`` column as 0.0 (mark-price klines, whose
        prices are computed, not traded). A column empty on some rows only is still an error.

    Returns
    -------
    pandas.DataFrame
        A frame that satisfies the OHLCV contract (see :func:`quantlib.data.validate`).

    Raises
    ------
    DataError
        If the file is missing, unreadable, or breaks the contract; the message names the
        file, the line and the rule.
    """
    path = Path(path)
    source = str(path)
    frame, first_line = _read_table(
        path, "no such file. Fix: check the path, or use a bundled symbol (quant data list)"
    )
    if allow_empty_volume:
        frame = _fill_empty_volume(frame)
    mapping = _match_columns(frame, source)
    index = _parse_time(frame[mapping[INDEX_NAME]], source, first_line, naive_tz)
    columns = {name: mapping[name] for name in OHLCV_COLUMNS}
    numbers = _parse_numbers(frame, columns, source, first_line)
    result = pd.DataFrame(numbers, index=index.as_unit("ns").rename(INDEX_NAME))
    return validate(result, source, timeframe=timeframe, first_line=first_line)
