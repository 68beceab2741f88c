"""The local Parquet store: atomic, idempotent writes and DuckDB queries.

Layout (Hive-style, so DuckDB sees ``symbol`` and ``timeframe`` as columns)::

    <data_dir>/store/symbol=BTCUSDT/timeframe=1h/bars.parquet            spot (the cash market)
    <data_dir>/store/perpetual/symbol=BTCUSDT/timeframe=1h/bars.parquet  perpetual, last price
    <data_dir>/store/mark/symbol=BTCUSDT/timeframe=1h/bars.parquet       perpetual, mark price
    <data_dir>/store/funding/symbol=BTCUSDT/funding.parquet              funding events
                                                                         (quantlib.data.funding)

A write validates everything first, merges with what is stored (new bars replace stored bars
with the same open time), and replaces the file atomically, so a failed or bad import leaves
the store exactly as it was and importing the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from quantlib._io import atomic_write
from quantlib._typing import INDEX_NAME, OHLCV_COLUMNS, PathLike
from quantlib.config import Settings, get_settings
from quantlib.data.catalog import STORE_SUBDIRS, Market, check_market, normalize_symbol
from quantlib.data.io import read_ohlcv_file
from quantlib.data.schema import validate
from quantlib.data.timeframes import parse_timeframe

__all__ = ["WriteResult", "import_file", "query", "read_stored", "store_path", "write_bars"]


@dataclass(frozen=True)
class WriteResult:
    """What a store write did.

    Attributes
    ----------
    path : pathlib.Path
        The Parquet file written.
    symbol, timeframe : str
        Series written.
    rows_before, rows_after : int
        Stored bars before and after the write.
    added : int
        Bars whose open time was not stored before.
    changed : int
        Stored bars whose values the write replaced with different ones.
    """

    path: Path
    symbol: str
    timeframe: str
    rows_before: int
    rows_after: int
    added: int
    changed: int


def store_path(
    symbol: str, timeframe: str, settings: Settings | None = None, *, market: Market = "spot"
) -> Path:
    """Path of the Parquet file holding ``symbol`` at ``timeframe`` in ``market``."""
    settings = settings or get_settings()
    tf = parse_timeframe(timeframe).name
    folder = settings.store_dir / STORE_SUBDIRS[check_market(market, ("spot", "perpetual", "mark"))]
    return folder / f"symbol={normalize_symbol(symbol)}" / f"timeframe={tf}" / "bars.parquet"


def read_stored(
    symbol: str, timeframe: str, settings: Settings | None = None, *, market: Market = "spot"
) -> pd.DataFrame:
    """Stored bars of one series (an empty contract frame if none are stored)."""
    path = store_path(symbol, timeframe, settings, market=market)
    if not path.is_file():
        index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit("ns")
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in OHLCV_COLUMNS}, index=index)
    return read_ohlcv_file(path, timeframe=timeframe)


def write_bars(
    df: pd.DataFrame,
    symbol: str,
    timeframe: str,
    *,
    source: str = "<DataFrame>",
    settings: Settings | None = None,
    market: Market = "spot",
) -> WriteResult:
    """Merge bars into the store atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Contract OHLCV frame, validated here (including the ``timeframe`` bar grid) before
        anything is written.
    symbol, timeframe : str
        Series to write to.
    source : str
        Name of the data in error messages.
    settings : Settings, optional
        Which data directory; by default from the environment.
    market : {"spot", "perpetual", "mark"}, default "spot"
        Which part of the store (see the module docstring).

    Returns
    -------
    WriteResult
    """
    tf = parse_timeframe(timeframe).name
    validate(df, source, timeframe=tf)
    new = df[list(OHLCV_COLUMNS)].copy()
    new.index = pd.DatetimeIndex(new.index).as_unit("ns")
    stored = read_stored(symbol, tf, settings, market=market)
    overlap = stored.index.intersection(new.index)
    changed = int(
        (stored.loc[overlap, list(OHLCV_COLUMNS)] != new.loc[overlap, list(OHLCV_COLUMNS)])
        .any(axis=1)
        .sum()
    )
    merged = pd.concat([stored.drop(index=overlap), new]).sort_index()
    merged.index.name = INDEX_NAME
    validate(merged, f"{source} merged with the store", timeframe=tf)
    path = store_path(symbol, tf, settings, market=market)
    atomic_write(path, lambda tmp: merged.to_parquet(tmp, engine="pyarrow"))
    return WriteResult(
        path=path,
        symbol=normalize_symbol(symbol),
        timeframe=tf,
        rows_before=len(stored),
        rows_after=len(merged),
        added=len(new) - len(overlap),
        changed=changed,
    )


def import_file(
    path: PathLike,
    symbol: str,
    timeframe: str,
    *,
    naive_tz: str | None = None,
    settings: Settings | None = None,
) -> WriteResult:
    """Read, validate and store one file (``quant data import``).

    Raises
    ------
    DataError
        If the file breaks the contract; nothing is written then.
    """
    frame = read_ohlcv_file(path, timeframe=timeframe, naive_tz=naive_tz)
    return write_bars(frame, symbol, timeframe, source=str(path), settings=settings)


def query(sql: str, *, settings: Settings | None = None) -> pd.DataFrame:
    """Run SQL with DuckDB over the store and return the result as a DataFrame.

    The view ``ohlcv`` has columns ``timestamp, open, high, low, close, volume, symbol,
    timeframe`` over every stored series.

    Examples
    --------
    >>> query("SELECT symbol, count(*) AS n FROM ohlcv GROUP BY symbol").columns.tolist()
    ['symbol', 'n']
    """
    settings = settings or get_settings()
    files = sorted(settings.store_dir.glob("symbol=*/timeframe=*/bars.parquet"))
    with duckdb.connect(":memory:") as con:
        con.execute("SET TimeZone = 'UTC'")
        if files:
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(
                "CREATE VIEW ohlcv AS SELECT CAST(timestamp AS TIMESTAMPTZ) AS timestamp, "
                "open, high, low, close, volume, "
                f"symbol, timeframe FROM read_parquet([{listing}], hive_partitioning = true)"
            )
        else:
            con.execute(
                "CREATE VIEW ohlcv AS SELECT CAST(NULL AS TIMESTAMPTZ) AS timestamp, "
                "0.0 AS open, 0.0 AS high, 0.0 AS low, 0.0 AS close, 0.0 AS volume, "
                "'' AS symbol, '' AS timeframe WHERE false"
            )
        return con.execute(sql).fetchdf()
