"""Where market series live, what is known about them, and loading them by name.

Two origins hold named series:

* ``store``: the local Parquet store in the data directory (``quant data import`` / ``fetch``);
* ``bundled``: the real exchange data shipped with the repository (``SYMBOL-TF.csv.gz`` files
  plus ``manifest.toml`` with listing and delisting times).

A series in the store shadows a bundled series of the same symbol and timeframe, so imported
or freshly fetched data is what :func:`load_ohlcv` returns; pass ``origin="bundled"`` to get the
shipped copy.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd

from quantlib._typing import Origin, PathLike
from quantlib.config import Settings, get_settings
from quantlib.data.calendars import normalize_calendar
from quantlib.data.io import is_data_file, read_ohlcv_file
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "SeriesInfo",
    "available_series",
    "bundled_manifest",
    "load_ohlcv",
    "normalize_symbol",
    "series_info",
]

_BUNDLED_SUFFIX = ".csv.gz"
_STORE_FILE = "bars.parquet"
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")


@dataclass(frozen=True)
class SeriesInfo:
    """What is known about one market series.

    Attributes
    ----------
    symbol, timeframe : str
        Normalised symbol (``"BTCUSDT"``) and canonical timeframe (``"1h"``).
    origin : {"bundled", "store", "file"}
        Where the bars were read from.
    path : pathlib.Path
        The file holding the bars.
    venue, quote, market, calendar : str or None
        Venue name, quote currency, market type (``"spot"``, ``"perpetual"``, ``"equity"``)
        and trading calendar (``"24/7"`` or ``"exchange"``, see :mod:`quantlib.data.calendars`),
        when known.
    listed_at, delisted_at : pandas.Timestamp or None
        First and last trading time of the symbol on the venue, when known.
    partial_bars : tuple of pandas.Timestamp
        Open times of bars that cover only part of their period because the symbol was
        listed or delisted inside them. Filled in by :func:`load_ohlcv`.
    """

    symbol: str | None
    timeframe: str | None
    origin: Origin
    path: Path
    venue: str | None = None
    quote: str | None = None
    market: str | None = None
    calendar: str | None = None
    listed_at: pd.Timestamp | None = None
    delisted_at: pd.Timestamp | None = None
    partial_bars: tuple[pd.Timestamp, ...] = ()

    def __deepcopy__(self, memo: dict[int, object]) -> SeriesInfo:
        # Immutable, so sharing is safe; pandas deep-copies ``attrs`` on every column access.
        return self

    @property
    def ended(self) -> bool:
        """True if trading of the symbol has ended (backtests must exit, live must refuse)."""
        return self.delisted_at is not None

    @property
    def is_24_7(self) -> bool:
        """True if the market trades around the clock, so any missing bar is a gap."""
        return self.calendar in (None, "24/7")

    def with_partial_bars(self, index: pd.DatetimeIndex) -> SeriesInfo:
        """Return a copy whose ``partial_bars`` lists the bars of ``index`` cut by (de)listing."""
        if self.timeframe is None:
            return self
        tf = parse_timeframe(self.timeframe)
        cut: list[pd.Timestamp] = []
        if self.listed_at is not None:
            start = tf.floor(pd.DatetimeIndex([self.listed_at]))[0]
            if start != self.listed_at:
                cut.append(start)
        if self.delisted_at is not None:
            last_open = tf.floor(pd.DatetimeIndex([self.delisted_at - pd.Timedelta(1, "ns")]))[0]
            if last_open + tf.delta > self.delisted_at:
                cut.append(last_open)
        present = tuple(ts for ts in sorted(set(cut)) if ts in index)
        return replace(self, partial_bars=present)


def normalize_symbol(symbol: str) -> str:
    """Canonical symbol name: upper case, ``/`` and spaces removed, ``:`` turned into ``-``.

    Examples
    --------
    >>> normalize_symbol("btc/usdt")
    'BTCUSDT'
    >>> normalize_symbol("BTC/USDT:USDT")
    'BTCUSDT-USDT'
    """
    if not isinstance(symbol, str):
        raise ConfigError(f"symbol must be a string such as 'BTCUSDT', got {symbol!r}")
    name = symbol.strip().upper().replace("/", "").replace(" ", "").replace(":", "-")
    if not _SYMBOL.match(name):
        raise ConfigError(
            f"symbol {symbol!r} is not usable as a series name; use letters, digits, '.', '_' "
            "or '-' (e.g. 'BTCUSDT' or 'BTC/USDT')"
        )
    return name


@lru_cache(maxsize=8)
def _manifest(path: Path, mtime_ns: int) -> dict[str, dict[str, object]]:
    with open(path, "rb") as handle:
        table = tomllib.load(handle)
    symbols = table.get("symbols", {})
    if not isinstance(symbols, dict):
        raise DataError(f"{path}: [symbols] must be a table", source=str(path), rule="manifest")
    return symbols


def _bundled_meta(bundled_dir: Path, symbol: str) -> dict[str, object]:
    path = bundled_dir / "manifest.toml"
    if not path.is_file():
        return {}
    return dict(_manifest(path, path.stat().st_mtime_ns).get(symbol, {}))


def bundled_manifest(settings: Settings | None = None) -> dict[str, dict[str, object]]:
    """The ``[symbols]`` tables of the bundled data's ``manifest.toml``, in the file's order
    (symbol → its facts: venue, quote, market, calendar, listing times); empty without one.

    Examples
    --------
    >>> bundled_manifest()["MATICUSDT"]["delisted_at"]
    '2024-09-10T03:00:00Z'
    """
    path = (settings or get_settings()).bundled_dir / "manifest.toml"
    if not path.is_file():
        return {}
    return {k: dict(v) for k, v in _manifest(path, path.stat().st_mtime_ns).items()}


def _timestamp(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(str(value))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _bundled(settings: Settings) -> Iterator[SeriesInfo]:
    folder = settings.bundled_dir
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{_BUNDLED_SUFFIX}")):
        stem = path.name[: -len(_BUNDLED_SUFFIX)]
        if "-" not in stem:
            continue
        symbol, timeframe = stem.rsplit("-", 1)
        meta = _bundled_meta(folder, symbol)
        yield SeriesInfo(
            symbol=symbol,
            timeframe=parse_timeframe(timeframe).name,
            origin="bundled",
            path=path,
            venue=_str_or_none(meta.get("venue")),
            quote=_str_or_none(meta.get("quote")),
            market=_str_or_none(meta.get("market")),
            calendar=_calendar(meta.get("calendar"), folder / "manifest.toml", symbol),
            listed_at=_timestamp(meta.get("listed_at")),
            delisted_at=_timestamp(meta.get("delisted_at")),
        )


def _calendar(value: object, manifest: Path, symbol: str) -> str | None:
    if value is None:
        return None
    try:
        return normalize_calendar(str(value))
    except ConfigError as exc:
        raise DataError(
            f"{manifest}: [symbols.{symbol}] {exc}",
            source=str(manifest),
            rule="manifest calendar",
        ) from None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _stored(settings: Settings) -> Iterator[SeriesInfo]:
    folder = settings.store_dir
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"symbol=*/timeframe=*/{_STORE_FILE}")):
        symbol = path.parent.parent.name.split("=", 1)[1]
        timeframe = path.parent.name.split("=", 1)[1]
        yield SeriesInfo(symbol=symbol, timeframe=timeframe, origin="store", path=path)


def available_series(settings: Settings | None = None) -> list[SeriesInfo]:
    """Every named series, store first, then bundled (sorted by symbol and bar length)."""
    settings = settings or get_settings()
    found = [*_stored(settings), *_bundled(settings)]
    return sorted(
        found,
        key=lambda s: (
            s.symbol or "",
            parse_timeframe(s.timeframe or "1m").delta,
            s.origin != "store",
        ),
    )


def series_info(
    symbol: str,
    timeframe: str | None = None,
    *,
    origin: Origin | None = None,
    settings: Settings | None = None,
) -> SeriesInfo:
    """Find a named series; see :func:`load_ohlcv` for the rules and errors."""
    name = normalize_symbol(symbol)
    everything = available_series(settings)
    if origin is not None:
        everything = [s for s in everything if s.origin == origin]
    matches = [s for s in everything if s.symbol == name]
    if not matches:
        known = sorted({s.symbol for s in everything if s.symbol})
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        where = f" in origin {origin!r}" if origin else ""
        raise DataError(
            f"{symbol}: unknown symbol{where}.{hint} Known symbols: {', '.join(known)}. "
            "Fix: pick one of these, import a file (quant data import), or pass a file path",
            source=str(symbol),
            rule="unknown symbol",
        )
    frames = sorted({s.timeframe for s in matches if s.timeframe}, key=_tf_key)
    if timeframe is None:
        if len(frames) > 1:
            raise DataError(
                f"{name}: several timeframes are available ({', '.join(frames)}); "
                f"pass timeframe=, e.g. load_ohlcv({name!r}, {frames[0]!r})",
                source=name,
                rule="timeframe required",
            )
        tf_name = frames[0]
    else:
        tf_name = parse_timeframe(timeframe).name
    for info in matches:  # store entries come first and shadow bundled ones
        if info.timeframe == tf_name:
            return info
    target = parse_timeframe(tf_name).delta
    finer = [f for f in frames if target % parse_timeframe(f).delta == pd.Timedelta(0)]
    hint = (
        f"resample a finer series, e.g. resample(load_ohlcv({name!r}, {finer[-1]!r}), {tf_name!r})"
        if finer
        else "pick one of them"
    )
    raise DataError(
        f"{name}: no {tf_name} series; available timeframes: {', '.join(frames)}. Fix: {hint}",
        source=name,
        rule="timeframe not available",
    )


def _tf_key(name: str) -> pd.Timedelta:
    return parse_timeframe(name).delta


@lru_cache(maxsize=32)
def _read_cached(
    path: str, mtime_ns: int, size: int, timeframe: str | None, naive_tz: str | None
) -> pd.DataFrame:
    return read_ohlcv_file(path, timeframe=timeframe, naive_tz=naive_tz)


def load_ohlcv(
    source: PathLike,
    timeframe: str | None = None,
    *,
    origin: Origin | None = None,
    naive_tz: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Load an OHLCV series by symbol or path, validated against the data contract.

    Parameters
    ----------
    source : str or path
        A symbol (``"BTCUSDT"``, ``"btc/usdt"``) from the store or the bundled data, or the
        path of a CSV, gzip CSV or Parquet file.
    timeframe : str, optional
        Required for a symbol with several timeframes. For a file it is checked: every bar
        must lie on that timeframe's grid.
    origin : {"store", "bundled"}, optional
        Restrict a symbol lookup to one origin. By default the store shadows the bundled data.
    naive_tz : str, optional
        Time zone of timestamps written without one (files only); otherwise they are an error.
    settings : Settings, optional
        Where to look; by default read from the environment.

    Returns
    -------
    pandas.DataFrame
        Contract frame. ``df.attrs["series"]`` is a :class:`SeriesInfo` saying where the
        bars came from, whether the symbol has been delisted, and which bars are partial.

    Raises
    ------
    DataError
        Unknown symbol (with close matches), a missing ``timeframe`` when several exist (the
        message lists them), or any contract violation in the file.

    Examples
    --------
    >>> btc = load_ohlcv("BTCUSDT", "1d")
    >>> btc.attrs["series"].venue
    'Binance spot'
    >>> load_ohlcv("MATICUSDT", "1d").attrs["series"].ended
    True
    """
    path = Path(source)
    if is_data_file(path):
        info = SeriesInfo(
            symbol=None,
            timeframe=None if timeframe is None else parse_timeframe(timeframe).name,
            origin="file",
            path=path,
        )
        if not path.is_file():
            return read_ohlcv_file(path)  # raises the "no such file" DataError
        stat = path.stat()
        frame = _read_cached(str(path), stat.st_mtime_ns, stat.st_size, info.timeframe, naive_tz)
    else:
        info = series_info(str(source), timeframe, origin=origin, settings=settings)
        stat = info.path.stat()
        frame = _read_cached(str(info.path), stat.st_mtime_ns, stat.st_size, info.timeframe, None)
    result = frame.copy()
    result.attrs = {"series": info.with_partial_bars(pd.DatetimeIndex(result.index))}
    return result
