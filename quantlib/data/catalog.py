"""Where market series live, what is known about them, and loading them by name.

Two origins hold named series:

* ``store``: the local Parquet store in the data directory (``quant data import`` / ``fetch``);
* ``bundled``: the real exchange data shipped with the repository (``SYMBOL-TF.csv.gz`` files
  plus ``manifest.toml`` with listing and delisting times).

A series in the store shadows a bundled series of the same symbol and timeframe, so imported
or freshly fetched data is what :func:`load_ohlcv` returns; pass ``origin="bundled"`` to get the
shipped copy.

Series belong to one of four markets (the ``market`` argument): ``"spot"`` (the cash market:
spot crypto and equities, the default), ``"perpetual"`` (perpetual futures, last-price klines),
``"mark"`` (their mark-price klines) and ``"funding"`` (their funding events, read by
:func:`quantlib.data.funding.load_funding`). A perpetual carries the same symbol as its spot
series (``BTCUSDT``); the manifest's ``[perpetuals.BTCUSDT]`` table links the two and names the
perpetual's files (:mod:`quantlib.data.contracts`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeAlias

import pandas as pd

from quantlib._typing import Origin, PathLike
from quantlib.config import Settings, get_settings
from quantlib.data.calendars import normalize_calendar
from quantlib.data.contracts import PerpetualContract, PerpetualFiles, parse_perpetual_table
from quantlib.data.io import is_data_file, read_ohlcv_file
from quantlib.data.manifest import MANIFEST_NAME, manifest_tables
from quantlib.data.resample import resample
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "MARKETS",
    "Market",
    "SeriesInfo",
    "SeriesKind",
    "available_series",
    "bundled_manifest",
    "bundled_perpetuals",
    "load_ohlcv",
    "normalize_symbol",
    "perpetual_contract",
    "series_info",
]

Market: TypeAlias = Literal["spot", "perpetual", "mark"]
"""Which bars :func:`load_ohlcv` reads: the cash market, a perpetual's last price, its mark."""
SeriesKind: TypeAlias = Literal["ohlcv", "mark", "funding"]
MARKETS: tuple[str, ...] = ("spot", "perpetual", "mark")
_LISTABLE = (*MARKETS, "funding", "all")

_BUNDLED_SUFFIX = ".csv.gz"
_STORE_FILE = "bars.parquet"
FUNDING_STORE_FILE = "funding.parquet"
STORE_SUBDIRS: dict[str, str] = {
    "spot": "",
    "perpetual": "perpetual",
    "mark": "mark",
    "funding": "funding",
}
"""Sub-folder of the store per market: spot series keep the original layout at the top."""
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
    kind : {"ohlcv", "mark", "funding"}
        Last-price bars, mark-price bars (``volume`` is 0.0: a mark price is computed, not
        traded), or funding events (``timeframe`` is None).
    contract : PerpetualContract or None
        The contract terms and links of a bundled perpetual (None for spot and stored series).
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
    kind: SeriesKind = "ohlcv"
    contract: PerpetualContract | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> SeriesInfo:
        # Immutable, so sharing is safe; pandas deep-copies ``attrs`` on every column access.
        return self

    @property
    def dataset(self) -> str:
        """``"spot"``, ``"perpetual"``, ``"mark"`` or ``"funding"``: the ``market`` argument
        that finds this series."""
        if self.kind != "ohlcv":
            return self.kind
        return "perpetual" if self.market == "perpetual" else "spot"

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


def bundled_manifest(settings: Settings | None = None) -> dict[str, dict[str, object]]:
    """The ``[symbols]`` tables of the bundled data's ``manifest.toml``, in the file's order
    (symbol → its facts: venue, quote, market, calendar, listing times); empty without one.

    Perpetual contracts are in ``[perpetuals]``: see :func:`bundled_perpetuals`.

    Examples
    --------
    >>> bundled_manifest()["MATICUSDT"]["delisted_at"]
    '2024-09-10T03:00:00Z'
    """
    return manifest_tables((settings or get_settings()).bundled_dir, "symbols")


def _perpetual_entries(folder: Path) -> dict[str, tuple[PerpetualContract, PerpetualFiles]]:
    spot = set(manifest_tables(folder, "symbols"))
    return {
        symbol: parse_perpetual_table(symbol, table, folder / MANIFEST_NAME, spot)
        for symbol, table in manifest_tables(folder, "perpetuals").items()
    }


def bundled_perpetuals(settings: Settings | None = None) -> dict[str, PerpetualContract]:
    """The perpetual contracts of the manifest's ``[perpetuals]`` tables, in the file's order.

    Raises
    ------
    DataError
        If a table breaks the rules of :func:`quantlib.data.contracts.parse_perpetual_table`.

    Examples
    --------
    >>> btc = bundled_perpetuals()["BTCUSDT"]
    >>> btc.contract, btc.settle, btc.funding_interval, btc.spot
    ('linear', 'USDT', '8h', 'BTCUSDT')
    """
    folder = (settings or get_settings()).bundled_dir
    return {symbol: terms for symbol, (terms, _) in _perpetual_entries(folder).items()}


def perpetual_contract(symbol: str, settings: Settings | None = None) -> PerpetualContract:
    """The terms of one bundled perpetual (see :class:`PerpetualContract`).

    Raises
    ------
    DataError
        If the manifest has no ``[perpetuals]`` table for ``symbol`` (with close matches).

    Examples
    --------
    >>> perpetual_contract("btc/usdt").tick_size
    0.1
    """
    name = normalize_symbol(symbol)
    known = bundled_perpetuals(settings)
    if name in known:
        return known[name]
    raise _unknown(symbol, name, sorted(known), "perpetual", None)


def _timestamp(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(str(value))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _bundled(settings: Settings) -> Iterator[SeriesInfo]:
    folder = settings.bundled_dir
    if not folder.is_dir():
        return
    table = manifest_tables(folder, "symbols")
    for path in sorted(folder.glob(f"*{_BUNDLED_SUFFIX}")):
        stem = path.name[: -len(_BUNDLED_SUFFIX)]
        if "-" not in stem:
            continue
        symbol, timeframe = stem.rsplit("-", 1)
        meta = table.get(symbol, {})
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


def _bundled_perpetual(settings: Settings) -> Iterator[SeriesInfo]:
    folder = settings.bundled_dir
    for symbol, (terms, files) in _perpetual_entries(folder).items():
        base = SeriesInfo(
            symbol=symbol,
            timeframe=None,
            origin="bundled",
            path=folder / files.funding,
            venue=terms.venue,
            quote=terms.quote,
            market="perpetual",
            calendar=terms.calendar,
            listed_at=terms.listed_at,
            delisted_at=terms.delisted_at,
            kind="funding",
            contract=terms,
        )
        for kind in ("ohlcv", "mark"):
            for timeframe, path in files.klines(folder, kind).items():
                yield replace(base, timeframe=timeframe, path=path, kind=kind)
        if base.path.is_file():
            yield base


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
    for kind in ("perpetual", "mark"):
        pattern = f"{STORE_SUBDIRS[kind]}/symbol=*/timeframe=*/{_STORE_FILE}"
        for path in sorted(folder.glob(pattern)):
            yield SeriesInfo(
                symbol=path.parent.parent.name.split("=", 1)[1],
                timeframe=path.parent.name.split("=", 1)[1],
                origin="store",
                path=path,
                market="perpetual",
                kind="mark" if kind == "mark" else "ohlcv",
            )
    for path in sorted(folder.glob(f"{STORE_SUBDIRS['funding']}/symbol=*/{FUNDING_STORE_FILE}")):
        symbol = path.parent.name.split("=", 1)[1]
        yield SeriesInfo(
            symbol=symbol,
            timeframe=None,
            origin="store",
            path=path,
            market="perpetual",
            kind="funding",
        )


def check_market(market: str, allowed: tuple[str, ...]) -> str:
    if market in allowed:
        return market
    close = difflib.get_close_matches(str(market), allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"market must be one of {list(allowed)}, got {market!r}{hint}")


def available_series(settings: Settings | None = None, *, market: str = "spot") -> list[SeriesInfo]:
    """Every named series of one market, store first, then bundled (sorted by symbol and bar
    length).

    Parameters
    ----------
    settings : Settings, optional
        Where to look; by default read from the environment.
    market : {"spot", "perpetual", "mark", "funding", "all"}, default "spot"
        ``"spot"``: the cash-market series (spot crypto, equities: everything that is not a
        perpetual). ``"all"``: every series of every market.
    """
    check_market(market, _LISTABLE)
    settings = settings or get_settings()
    found = [*_stored(settings), *_bundled(settings), *_bundled_perpetual(settings)]
    if market != "all":
        found = [s for s in found if s.dataset == market]
    return sorted(
        found,
        key=lambda s: (
            s.symbol or "",
            _LISTABLE.index(s.dataset),
            parse_timeframe(s.timeframe or "1m").delta,
            s.origin != "store",
        ),
    )


def _unknown(
    symbol: str, name: str, known: list[str], market: str, origin: Origin | None
) -> DataError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    where = f" in origin {origin!r}" if origin else ""
    if market == "spot":
        return DataError(
            f"{symbol}: unknown symbol{where}.{hint} Known symbols: {', '.join(known)}. "
            "Fix: pick one of these, import a file (quant data import), or pass a file path",
            source=str(symbol),
            rule="unknown symbol",
        )
    return DataError(
        f"{symbol}: no {market} series{where}.{hint} Known {market} symbols: "
        f"{', '.join(known) or 'none'}. Fix: pick one of these, fetch it (quant data fetch "
        f"EXCHANGE SYMBOL ... --kind {'ohlcv' if market == 'perpetual' else market}), "
        "or pass a file path",
        source=str(symbol),
        rule="unknown symbol",
    )


def series_info(
    symbol: str,
    timeframe: str | None = None,
    *,
    market: str = "spot",
    origin: Origin | None = None,
    settings: Settings | None = None,
) -> SeriesInfo:
    """Find a named series; see :func:`load_ohlcv` for the rules and errors.

    ``market="funding"`` finds a funding series (``timeframe`` must then be None).
    """
    check_market(market, (*MARKETS, "funding"))
    name = normalize_symbol(symbol)
    everything = available_series(settings, market=market)
    if origin is not None:
        everything = [s for s in everything if s.origin == origin]
    matches = [s for s in everything if s.symbol == name]
    if not matches:
        known = sorted({s.symbol for s in everything if s.symbol})
        raise _unknown(symbol, name, known, market, origin)
    if market == "funding":
        return matches[0]  # store first: it shadows the bundled series
    frames = sorted({s.timeframe for s in matches if s.timeframe}, key=_tf_key)
    extra = "" if market == "spot" else f", market={market!r}"
    if timeframe is None:
        if len(frames) > 1:
            raise DataError(
                f"{name}: several timeframes are available ({', '.join(frames)}); "
                f"pass timeframe=, e.g. load_ohlcv({name!r}, {frames[0]!r}{extra})",
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
        f"resample a finer series, e.g. resample(load_ohlcv({name!r}, {finer[-1]!r}{extra}), "
        f"{tf_name!r})"
        if finer
        else "pick one of them"
    )
    what = "" if market == "spot" else f" {market}"
    raise DataError(
        f"{name}: no {tf_name}{what} series; available timeframes: {', '.join(frames)}. "
        f"Fix: {hint}",
        source=name,
        rule="timeframe not available",
    )


def _tf_key(name: str) -> pd.Timedelta:
    return parse_timeframe(name).delta


@lru_cache(maxsize=32)
def _read_cached(
    path: str,
    mtime_ns: int,
    size: int,
    timeframe: str | None,
    naive_tz: str | None,
    empty_volume: bool = False,
) -> pd.DataFrame:
    return read_ohlcv_file(
        path, timeframe=timeframe, naive_tz=naive_tz, allow_empty_volume=empty_volume
    )


def load_ohlcv(
    source: PathLike,
    timeframe: str | None = None,
    *,
    market: Market = "spot",
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
        must lie on that timeframe's grid. A perpetual's or mark's timeframe that is not
        stored is resampled from the longest stored one that divides it (complete bars only;
        ``attrs["resample"]`` lists the bars left out): ``load_ohlcv("BTCUSDT", "1d",
        market="perpetual")`` aggregates the hourly bars.
    market : {"spot", "perpetual", "mark"}, default "spot"
        Which bars of the symbol: the cash market's (spot crypto, equities), the perpetual
        futures contract's last-price klines, or its mark-price klines. Every market is held
        to the same contract, with one exception: a mark-price file's ``volume`` column may be
        empty (a mark price is computed, not traded) and then reads as ``0.0``, so the frame
        still passes :func:`quantlib.data.validate` and volume sums stay finite. For a file
        path, ``market`` says what the file holds.
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
        bars came from, whether the symbol has been delisted, which bars are partial, and
        for a bundled perpetual its contract terms (``.contract``).

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
    >>> mark = load_ohlcv("BTCUSDT", "1h", market="mark")
    >>> mark.attrs["series"].kind, float(mark["volume"].max())
    ('mark', 0.0)
    """
    check_market(market, MARKETS)
    path = Path(source)
    if is_data_file(path):
        info = SeriesInfo(
            symbol=None,
            timeframe=None if timeframe is None else parse_timeframe(timeframe).name,
            origin="file",
            path=path,
            market=None if market == "spot" else "perpetual",
            kind="mark" if market == "mark" else "ohlcv",
        )
        if not path.is_file():
            return read_ohlcv_file(path)  # raises the "no such file" DataError
        stat = path.stat()
        frame = _read_cached(
            str(path), stat.st_mtime_ns, stat.st_size, info.timeframe, naive_tz, market == "mark"
        )
    else:
        stored = _stored_timeframe(str(source), timeframe, market, origin, settings)
        info = series_info(str(source), stored, market=market, origin=origin, settings=settings)
        stat = info.path.stat()
        frame = _read_cached(
            str(info.path), stat.st_mtime_ns, stat.st_size, info.timeframe, None, market == "mark"
        )
    result = frame.copy()
    result.attrs = {"series": info.with_partial_bars(pd.DatetimeIndex(result.index))}
    if timeframe is not None and info.timeframe != parse_timeframe(timeframe).name:
        return resample(result, timeframe)  # complete bars only; attrs["resample"] says so
    return result


def _stored_timeframe(
    symbol: str,
    timeframe: str | None,
    market: str,
    origin: Origin | None,
    settings: Settings | None,
) -> str | None:
    """The stored timeframe :func:`load_ohlcv` reads for ``timeframe``: itself when stored (or
    on spot), else, on a perpetual's last-price or mark-price market, the longest stored one
    that divides it (LINKUSDT 1d: the 4h bars, which start a year before the 1h ones)."""
    if timeframe is None or market == "spot":
        return timeframe
    asked = parse_timeframe(timeframe)
    name = normalize_symbol(symbol)
    frames = {
        s.timeframe
        for s in available_series(settings, market=market)
        if s.symbol == name and s.timeframe and (origin is None or s.origin == origin)
    }
    dividing = [tf for tf in frames if asked.delta % parse_timeframe(tf).delta == pd.Timedelta(0)]
    if asked.name in frames or not dividing:
        return asked.name  # stored, or nothing to build it from: series_info says what exists
    return max(dividing, key=_tf_key)
