"""A table of every named series: coverage, rows, gaps and listing facts (``quant data list``).

Funding series are listed too (``kind`` ``"funding"``): their rows are events, ``first_bar`` and
``last_bar`` the first and last funding time, and gaps are not counted (the venue's funding
interval may change; :func:`quantlib.data.funding.funding_intervals` shows how).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from quantlib.config import Settings, get_settings
from quantlib.data.catalog import Market, SeriesInfo, available_series, load_ohlcv
from quantlib.data.fingerprint import cache_dir, file_digests, read_json, write_json
from quantlib.data.funding import load_funding
from quantlib.data.gaps import find_gaps

__all__ = ["OVERVIEW_COLUMNS", "cached_overview", "describe_series", "overview"]

OVERVIEW_COLUMNS = (
    "symbol",
    "timeframe",
    "origin",
    "first_bar",
    "last_bar",
    "rows",
    "gaps",
    "missing_bars",
    "partial_bars",
    "venue",
    "market",
    "kind",
    "ended",
    "shadowed",
    "path",
)


def describe_series(info: SeriesInfo, *, shadowed: bool = False) -> dict[str, object]:
    """One overview row for a series (loads and validates its bars).

    ``gaps`` and ``missing_bars`` are ``None`` for markets with sessions (equities), where
    nights and weekends are not gaps. ``partial_bars`` lists the open times (UTC) of bars cut
    by a listing or delisting; ``ended`` is the delisting time, empty while the market trades.
    ``kind`` is ``"ohlcv"`` (last-price bars), ``"mark"`` (mark-price bars) or ``"funding"``
    (funding events: ``rows`` counts events, gaps are None).
    """
    if info.kind == "funding":
        rates = load_funding(info.path)
        return {
            **dict.fromkeys(OVERVIEW_COLUMNS),
            "symbol": info.symbol,
            "origin": info.origin,
            "first_bar": rates.index[0] if len(rates) else pd.NaT,
            "last_bar": rates.index[-1] if len(rates) else pd.NaT,
            "rows": len(rates),
            "partial_bars": "",
            "venue": info.venue,
            "market": info.market,
            "kind": info.kind,
            "ended": _short(info.delisted_at) if info.delisted_at is not None else "",
            "shadowed": shadowed,
            "path": str(info.path),
        }
    frame = _load(info)
    loaded: SeriesInfo = frame.attrs["series"]
    gaps = find_gaps(frame, info.timeframe) if info.is_24_7 else None
    return {
        "symbol": info.symbol,
        "timeframe": info.timeframe,
        "origin": info.origin,
        "first_bar": frame.index[0] if len(frame) else pd.NaT,
        "last_bar": frame.index[-1] if len(frame) else pd.NaT,
        "rows": len(frame),
        "gaps": None if gaps is None else len(gaps),
        "missing_bars": None if gaps is None else int(gaps["missing_bars"].sum()),
        "partial_bars": ", ".join(_short(ts) for ts in loaded.partial_bars),
        "venue": info.venue,
        "market": info.market,
        "kind": info.kind,
        "ended": _short(info.delisted_at) if info.delisted_at is not None else "",
        "shadowed": shadowed,
        "path": str(info.path),
    }


def _short(stamp: pd.Timestamp) -> str:
    text = stamp.strftime("%Y-%m-%d %H:%M")
    return text.removesuffix(" 00:00")


def _load(info: SeriesInfo) -> pd.DataFrame:
    # Load by path so that a shadowed bundled series is read from its own file.
    market: Market = "mark" if info.kind == "mark" else "spot"  # a path reads the same either way
    frame = load_ohlcv(info.path, info.timeframe, market=market)
    frame.attrs = {"series": info.with_partial_bars(pd.DatetimeIndex(frame.index))}
    return frame


def overview(
    settings: Settings | None = None,
    progress: Callable[[SeriesInfo], None] | None = None,
    *,
    market: str = "spot",
) -> pd.DataFrame:
    """Describe every named series (store and bundled) of one market, one row each.

    A bundled series that a stored one of the same symbol, timeframe and market shadows is
    listed with ``shadowed=True``. ``market`` is one of ``"spot"`` (the default: the cash
    market), ``"perpetual"``, ``"mark"``, ``"funding"`` or ``"all"``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OVERVIEW_COLUMNS`.
    """
    rows = []
    seen: set[tuple[str | None, str | None, str]] = set()
    for info in available_series(settings, market=market):
        key = (info.symbol, info.timeframe, info.dataset)
        rows.append(describe_series(info, shadowed=key in seen))
        seen.add(key)
        if progress is not None:
            progress(info)
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


#: Bumped whenever :func:`describe_series` changes what it computes (old cache rows then go).
_ROWS_VERSION = 1


def cached_overview(settings: Settings | None = None, *, market: str = "spot") -> pd.DataFrame:
    """:func:`overview`, with each series' row kept in ``<data_dir>/cache/overview-MARKET.json``.

    A row is reused while its file's bytes (sha256, see :mod:`quantlib.data.fingerprint`), its
    catalogue facts (listing, delisting, venue...) and its ``shadowed`` flag are unchanged, and
    computed again otherwise; a new series is described, a removed one is dropped. The frame is
    equal to :func:`overview`'s (same values, same dtypes).
    """
    settings = settings or get_settings()
    path = cache_dir(settings) / f"overview-{market}.json"
    stored = read_json(path)
    old = stored.get("rows", {}) if stored.get("version") == _ROWS_VERSION else {}
    series = available_series(settings, market=market)
    digests = file_digests([info.path for info in series], settings)
    rows, kept = [], {}
    seen: set[tuple[str | None, str | None, str]] = set()
    for info in series:
        key = (info.symbol, info.timeframe, info.dataset)
        shadowed = key in seen
        seen.add(key)
        name = str(info.path)
        facts = f"{digests[name]} {shadowed} {info!r}"
        entry = old.get(name)
        if isinstance(entry, dict) and entry.get("facts") == facts:
            row = {k: _decode(v) for k, v in entry["row"].items()}
        else:
            row = describe_series(info, shadowed=shadowed)
        kept[name] = {"facts": facts, "row": {k: _encode(v) for k, v in row.items()}}
        rows.append(row)
    if kept != old:
        write_json(path, {"version": _ROWS_VERSION, "rows": kept})
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def _encode(value: object) -> object:
    """A row value as JSON: timestamps keep their value (ns), unit and zone."""
    if value is pd.NaT:
        return {"nat": True}
    if isinstance(value, pd.Timestamp):
        return {
            "ns": value.value,
            "unit": value.unit,
            "tz": None if value.tz is None else str(value.tz),
        }
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if value.get("nat"):
            return pd.NaT
        stamp = pd.Timestamp(value["ns"], unit="ns", tz=value["tz"])
        return stamp.as_unit(value["unit"])
    return value
