"""Perpetual funding events: reading, checking, storing and loading them by symbol or path.

A funding series is a list of events, not bars: at each funding time the holders of one side of
a perpetual pay the other ``rate × position value`` (positive rate: longs pay shorts). Files
hold one row per event, ``timestamp,funding_rate,mark_price`` (``mark_price`` may be empty or
absent), with UTC times; the bundled ones are in ``data/perp/funding/``.

The checks: every row has a parseable time and a finite rate, times are unique and sorted, and
a mark price, where one is given, is positive. The spacing of the events is not checked: venues
change a contract's funding interval (Binance moved some contracts from 8 h to 4 h or 1 h), and
the times in the file are the record of it (:func:`funding_intervals` lists the changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib._io import atomic_write
from quantlib._typing import INDEX_NAME, Origin, PathLike
from quantlib.config import Settings, get_settings
from quantlib.data.catalog import (
    FUNDING_STORE_FILE,
    STORE_SUBDIRS,
    SeriesInfo,
    normalize_symbol,
    series_info,
)
from quantlib.data.io import (
    SUPPORTED_SUFFIXES,
    _parse_numbers,
    _parse_time,
    _read_table,
    is_data_file,
)
from quantlib.data.schema import data_error
from quantlib.exceptions import DataError

__all__ = [
    "FUNDING_COLUMNS",
    "FundingWriteResult",
    "funding_intervals",
    "funding_store_path",
    "load_funding",
    "read_funding_file",
    "read_stored_funding",
    "validate_funding",
    "write_funding",
]

FUNDING_COLUMNS: tuple[str, ...] = ("funding_rate", "mark_price")
_TIME_NAMES = ("timestamp", "funding_time", "fundingtime", "time", "datetime", "date")
_RATE_NAMES = ("funding_rate", "fundingrate", "rate")
_MARK_NAMES = ("mark_price", "markprice")
_NUMBER_FIX = "rates and prices must be plain decimal numbers (0.0001 = 0.01%)"


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    by_lower = {str(c).strip().lower(): str(c) for c in frame.columns}
    return next((by_lower[n] for n in names if n in by_lower), None)


def _empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit("ns")
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in FUNDING_COLUMNS}, index=index)


def validate_funding(
    frame: pd.DataFrame, source: str = "<DataFrame>", *, first_line: int | None = None
) -> pd.DataFrame:
    """Check a funding frame (UTC ``DatetimeIndex``, float ``funding_rate``, optional
    ``mark_price``); return it unchanged if it passes.

    Raises
    ------
    DataError
        Naming the source, the first offending row (line when ``first_line`` is given) and the
        rule: a non-UTC index, a non-finite rate, a non-positive mark price, unsorted or
        duplicate times.

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2024-01-01T00:00Z", "2024-01-01T08:00Z"], name="timestamp")
    >>> ok = pd.DataFrame({"funding_rate": [0.0001, -0.0002]}, index=idx)
    >>> validate_funding(ok) is ok
    True
    """
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise DataError(
            f"{source}: the index must be a UTC DatetimeIndex of funding times, got "
            f"{type(index).__name__} (tz {getattr(index, 'tz', None)}). Fix: "
            "frame.index = pd.to_datetime(frame['timestamp'], utc=True)",
            source=source,
            rule="funding index",
        )
    if "funding_rate" not in frame.columns:
        raise DataError(
            f"{source}: missing column 'funding_rate' (columns present: "
            f"{[str(c) for c in frame.columns]}). Fix: name the per-event rate 'funding_rate'",
            source=source,
            rule="missing column",
        )
    rates = frame["funding_rate"].to_numpy(dtype=np.float64)
    mark = (
        frame["mark_price"].to_numpy(dtype=np.float64)
        if "mark_price" in frame.columns
        else np.full(len(frame), np.nan)
    )
    with np.errstate(invalid="ignore"):
        non_positive = ~np.isnan(mark) & ~(mark > 0)
    # The step into each row from the one before it (the first row has none: 1 passes both).
    step = np.concatenate([[1], np.diff(index.as_unit("ns").asi8)])

    def previous(pos: int) -> str:
        return f"previous event {index[pos - 1].strftime('%Y-%m-%dT%H:%M:%SZ')}"

    checks: tuple[tuple[str, np.ndarray, Callable[[int], str], str], ...] = (
        (
            "non-finite funding rate",
            ~np.isfinite(rates),
            lambda pos: f"funding_rate={rates[pos]!r}",
            "every event needs its published rate; drop the row only if the venue paid no "
            "funding then",
        ),
        (
            "non-positive mark price",
            non_positive,
            lambda pos: f"mark_price={mark[pos]!r}",
            "leave mark_price empty where it is unknown; otherwise it must be > 0",
        ),
        (
            "unsorted timestamps",
            step < 0,
            previous,
            "sort the events by time (frame.sort_index())",
        ),
        (
            "duplicate timestamp",
            step == 0,
            previous,
            "keep one event per funding time (frame[~frame.index.duplicated()]) after "
            "checking which rate the venue published",
        ),
    )
    for rule, bad, detail, fix in checks:
        if bad.any():
            pos = int(np.argmax(bad))
            raise data_error(
                source,
                rule,
                position=pos,
                first_line=first_line,
                timestamp=index[pos],
                detail=detail(pos),
                fix=fix,
                count=int(bad.sum()),
            )
    return frame


def read_funding_file(path: PathLike, *, naive_tz: str | None = None) -> pd.DataFrame:
    """Read and check one funding file (CSV, gzip CSV or Parquet).

    Column names are matched case-insensitively: the time as ``timestamp`` (or
    ``funding_time``, ``fundingTime``, ``time``, ``datetime``, ``date``; ISO-8601 with a zone or
    epoch numbers), the rate as ``funding_rate`` (or ``fundingRate``, ``rate``), and an optional
    ``mark_price`` (or ``markPrice``).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC funding times), float64 columns ``funding_rate`` and
        ``mark_price`` (NaN where the file has none).

    Raises
    ------
    DataError
        A missing or unreadable file, a missing column, an unparseable time or number, or a
        broken rule of :func:`validate_funding`; the message names the file and line.
    """
    path = Path(path)
    source = str(path)
    raw, first_line = _read_table(
        path,
        f"no such funding file. Fix: pass a {list(SUPPORTED_SUFFIXES)} file, or a bundled "
        "symbol (quant data list shows the funding series)",
    )
    time_col, rate_col = _column(raw, _TIME_NAMES), _column(raw, _RATE_NAMES)
    if time_col is None or rate_col is None:
        missing = "a time column" if time_col is None else "a rate column"
        raise DataError(
            f"{source}: missing {missing} (columns present: {[str(c) for c in raw.columns]}). "
            "Fix: write the header 'timestamp,funding_rate[,mark_price]'",
            source=source,
            rule="missing column",
        )
    index = _parse_time(raw[time_col], source, first_line, naive_tz)
    mark_col = _column(raw, _MARK_NAMES)
    columns = {"funding_rate": rate_col}
    if mark_col is not None:
        columns["mark_price"] = mark_col
    numbers = _parse_numbers(raw, columns, source, first_line, _NUMBER_FIX)
    numbers.setdefault("mark_price", np.full(len(raw), np.nan))
    frame = pd.DataFrame(numbers, index=index.as_unit("ns").rename(INDEX_NAME))
    return validate_funding(frame, source, first_line=first_line)


@lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, size: int, naive_tz: str | None) -> pd.DataFrame:
    return read_funding_file(path, naive_tz=naive_tz)


def load_funding(
    source: PathLike,
    *,
    origin: Origin | None = None,
    naive_tz: str | None = None,
    settings: Settings | None = None,
) -> pd.Series:
    """Funding rates of a perpetual, by symbol (store first, then bundled) or file path.

    Parameters
    ----------
    source : str or path
        A symbol with a funding series (``"BTCUSDT"``), or a funding file.
    origin : {"store", "bundled"}, optional
        Restrict a symbol lookup to one origin. By default the store shadows the bundled data.
    naive_tz : str, optional
        Time zone of timestamps written without one (files only).
    settings : Settings, optional
        Where to look; by default read from the environment.

    Returns
    -------
    pandas.Series
        ``funding_rate``: the per-event rate as a fraction (0.0001 = 0.01%, positive = longs
        pay shorts), indexed by the UTC funding time (index name ``timestamp``), sorted and
        unique. ``attrs["series"]`` is a :class:`~quantlib.data.catalog.SeriesInfo` (kind
        ``"funding"``, with the contract terms of a bundled perpetual). This is the series
        ``run_backtest(funding=...)`` takes.

    Raises
    ------
    DataError
        Unknown symbol (with close matches), or a file that breaks the checks of
        :func:`read_funding_file`.

    Notes
    -----
    A position of ``q`` units held over funding time ``T`` pays ``side × rate_T × q × mark_T``
    (``side`` = +1 long, -1 short; a negative payment is received).

    Examples
    --------
    >>> rates = load_funding("BTCUSDT")
    >>> rates.name, str(rates.index[0]), rates.attrs["series"].contract.funding_interval
    ('funding_rate', '2019-09-10 08:00:00+00:00', '8h')
    """
    path = Path(source)
    if is_data_file(path):
        info = SeriesInfo(
            symbol=None, timeframe=None, origin="file", path=path, market="perpetual",
            kind="funding",
        )  # fmt: skip
        if not path.is_file():
            read_funding_file(path)  # raises the "no such file" DataError
    else:
        info = series_info(str(source), market="funding", origin=origin, settings=settings)
        path, naive_tz = info.path, None
    stat = path.stat()
    frame = _read_cached(str(path), stat.st_mtime_ns, stat.st_size, naive_tz)
    rates = frame["funding_rate"].copy()
    rates.attrs = {"series": info}
    return rates


def funding_intervals(rates: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Runs of equal spacing between funding events: when the venue's interval changed.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``start`` and ``end`` (first and last event of the run), ``interval``
        (Timedelta) and ``events`` (events in the run, counting both ends). A missing event
        shows as a run of one longer interval.

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T08:00Z", "2024-01-01T16:00Z",
    ...                       "2024-01-01T20:00Z", "2024-01-02T00:00Z"])
    >>> funding_intervals(pd.Series(0.0001, index=idx))["interval"].astype(str).tolist()
    ['0 days 08:00:00', '0 days 04:00:00']
    """
    index = pd.DatetimeIndex(rates.index)
    columns = ["start", "end", "interval", "events"]
    if len(index) < 2:
        return pd.DataFrame(columns=columns)
    steps = index[1:] - index[:-1]
    change = np.flatnonzero(steps[1:] != steps[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(steps)]])
    return pd.DataFrame(
        {
            "start": index[starts],
            "end": index[ends],
            "interval": steps[starts],
            "events": ends - starts + 1,
        },
        columns=columns,
    )


@dataclass(frozen=True)
class FundingWriteResult:
    """What :func:`write_funding` did: the file, the symbol, events stored before and after,
    events new to the store, and stored events whose rate or mark price changed."""

    path: Path
    symbol: str
    rows_before: int
    rows_after: int
    added: int
    changed: int


def funding_store_path(symbol: str, settings: Settings | None = None) -> Path:
    """Path of the Parquet file holding the stored funding events of ``symbol``."""
    settings = settings or get_settings()
    folder = settings.store_dir / STORE_SUBDIRS["funding"]
    return folder / f"symbol={normalize_symbol(symbol)}" / FUNDING_STORE_FILE


def read_stored_funding(symbol: str, settings: Settings | None = None) -> pd.DataFrame:
    """Stored funding events of ``symbol`` (an empty frame if none are stored)."""
    path = funding_store_path(symbol, settings)
    return read_funding_file(path) if path.is_file() else _empty_frame()


def write_funding(
    frame: pd.DataFrame,
    symbol: str,
    *,
    source: str = "<DataFrame>",
    settings: Settings | None = None,
) -> FundingWriteResult:
    """Merge funding events into the store atomically (new events replace stored ones at the
    same time; nothing is written if the merged series fails :func:`validate_funding`)."""
    validate_funding(frame, source)
    new = frame.reindex(columns=list(FUNDING_COLUMNS)).astype("float64")
    new.index = pd.DatetimeIndex(new.index).as_unit("ns")
    stored = read_stored_funding(symbol, settings)
    overlap = stored.index.intersection(new.index)
    before, after = stored.loc[overlap], new.loc[overlap]
    differs = (before != after) & ~(before.isna() & after.isna())
    merged = pd.concat([stored.drop(index=overlap), new]).sort_index()
    merged.index.name = INDEX_NAME
    validate_funding(merged, f"{source} merged with the store")
    path = funding_store_path(symbol, settings)
    atomic_write(path, lambda tmp: merged.to_parquet(tmp, engine="pyarrow"))
    return FundingWriteResult(
        path=path,
        symbol=normalize_symbol(symbol),
        rows_before=len(stored),
        rows_after=len(merged),
        added=len(new) - len(overlap),
        changed=int(differs.any(axis=1).sum()),
    )
