"""Perpetual-futures contracts: their terms and links, read from the manifest's ``[perpetuals]``.

A perpetual's table in ``data/manifest.toml`` is keyed by the symbol its files carry (the same
name as its spot series, ``BTCUSDT``) and says what a kline file cannot: the contract terms
(linear or inverse, settlement asset, contract size, funding interval, tick and lot size where a
source gives them) and the links to the perpetual's spot series, its last-price and mark-price
kline files and its funding-event file. :mod:`quantlib.data.catalog` finds the files through
these links; :func:`perpetual_contract` hands the terms to whoever needs them (backtests, risk).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import pandas as pd

from quantlib.data.calendars import normalize_calendar
from quantlib.data.tiers import MarginTier, margin_tiers
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "ContractType",
    "PerpetualContract",
    "PerpetualFiles",
    "parse_perpetual_table",
]

ContractType: TypeAlias = Literal["linear", "inverse"]

_KEYS = (
    "market",
    "venue",
    "exchange_symbol",
    "ccxt_symbol",
    "quote",
    "settle",
    "contract",
    "contract_size",
    "funding_interval",
    "calendar",
    "tick_size",
    "lot_size",
    "specs_source",
    "spot",
    "bars",
    "mark",
    "funding",
    "listed_at",
    "delisted_at",
    "tiers",
)
_REQUIRED = ("contract", "settle", "funding_interval", "bars", "funding")
_TF_FIELD = "{timeframe}"


@dataclass(frozen=True)
class PerpetualContract:
    """The terms of one perpetual futures contract and its link to the spot series.

    Attributes
    ----------
    symbol : str
        The name its files carry (``"BTCUSDT"``), also the key of its manifest table.
    venue : str or None
        Where it trades (``"Binance USDⓈ-M futures"``).
    exchange_symbol, ccxt_symbol : str or None
        The venue's id (``"BTCUSDT"``) and ccxt's unified symbol (``"BTC/USDT:USDT"``).
    quote, settle : str or None
        Quote currency and the asset margin, P&L and funding are paid in.
    contract : {"linear", "inverse"}
        Linear: P&L = units × price change, in the quote/settle asset. Inverse contracts
        (settled in the base asset) are described but nothing in the library prices them yet.
    contract_size : float
        Base units per contract (1.0 where quantities are in base units, as on Binance USDⓈ-M).
    funding_interval : str
        Time between funding events in the bundled window (``"8h"``). Venues change it; the
        funding series' own timestamps are the record, this is the nominal value.
    calendar : str
        ``"24/7"``.
    tick_size, lot_size : float or None
        Price and quantity steps; ``None`` where no source was found (see ``specs_source``).
    specs_source : str or None
        Where ``tick_size``, ``lot_size`` and ``listed_at`` come from.
    spot : str or None
        Symbol of the spot series of the same asset (a ``[symbols]`` table of the manifest).
    listed_at, delisted_at : pandas.Timestamp or None
        First and last trading time of the contract, when known.
    margin_tiers : tuple of MarginTier or None
        The maintenance-margin table of the optional ``[[perpetuals.SYMBOL.tiers]]`` tables
        (``floor``, ``cap``, ``rate``, optional ``amount`` and ``max_leverage``; see
        :mod:`quantlib.data.tiers`); None when the manifest gives none.
    """

    symbol: str
    contract: ContractType
    settle: str
    funding_interval: str
    venue: str | None = None
    exchange_symbol: str | None = None
    ccxt_symbol: str | None = None
    quote: str | None = None
    contract_size: float = 1.0
    calendar: str = "24/7"
    tick_size: float | None = None
    lot_size: float | None = None
    specs_source: str | None = None
    spot: str | None = None
    listed_at: pd.Timestamp | None = None
    delisted_at: pd.Timestamp | None = None
    margin_tiers: tuple[MarginTier, ...] | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> PerpetualContract:
        # Immutable, so sharing is safe; pandas deep-copies ``attrs`` on every column access.
        return self

    @property
    def funding_delta(self) -> pd.Timedelta:
        """:attr:`funding_interval` as a time span."""
        return parse_timeframe(self.funding_interval).delta


@dataclass(frozen=True)
class PerpetualFiles:
    """Where the bundled files of one perpetual are (paths resolved against the data folder).

    ``bars`` and ``mark`` are patterns holding ``{timeframe}``; ``funding`` is one file.
    """

    bars: str
    mark: str | None
    funding: Path

    def klines(self, folder: Path, kind: Literal["ohlcv", "mark"]) -> dict[str, Path]:
        """The existing kline files of one kind, by canonical timeframe."""
        pattern = self.bars if kind == "ohlcv" else self.mark
        if pattern is None:
            return {}
        where = folder / pattern
        head, tail = where.name.split(_TF_FIELD, 1)
        regex = re.compile(re.escape(head) + r"(?P<tf>[0-9]+[a-zA-Z])" + re.escape(tail) + "$")
        found: dict[str, Path] = {}
        if not where.parent.is_dir():
            return found
        for path in sorted(where.parent.iterdir()):
            match = regex.match(path.name)
            if match is not None and path.is_file():
                found[parse_timeframe(match.group("tf")).name] = path
        return found


def _manifest_error(manifest: Path, symbol: str, detail: str, fix: str) -> DataError:
    return DataError(
        f"{manifest}: [perpetuals.{symbol}] {detail}. Fix: {fix}",
        source=str(manifest),
        rule="manifest perpetual",
    )


def _text(table: dict[str, object], key: str) -> str | None:
    value = table.get(key)
    return None if value is None else str(value)


def _positive(table: dict[str, object], key: str, manifest: Path, symbol: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _manifest_error(
            manifest,
            symbol,
            f"{key} = {value!r} is not a positive number",
            f"write {key} as a number such as 0.1, or leave it out when unknown",
        )
    return float(value)


def _stamp(table: dict[str, object], key: str, manifest: Path, symbol: str) -> pd.Timestamp | None:
    value = table.get(key)
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        raise _manifest_error(
            manifest,
            symbol,
            f"{key} = {value!r} is not a time",
            "write e.g. '2019-09-08T17:55:00Z'",
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_perpetual_table(
    symbol: str, table: dict[str, object], manifest: Path, spot_symbols: set[str]
) -> tuple[PerpetualContract, PerpetualFiles]:
    """Check one ``[perpetuals.SYMBOL]`` table and return its terms and file links.

    Raises
    ------
    DataError
        Naming the manifest, the table, the key and the fix: an unknown key (with the closest
        known one), a missing required key, a contract other than linear/inverse, a bad funding
        interval, a non-positive size, a file pattern without ``{timeframe}``, or a ``spot``
        link to a symbol the manifest's ``[symbols]`` does not hold.
    """
    for key in table:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _manifest_error(
                manifest, symbol, f"unknown key {key!r}", f"{hint}known keys: {', '.join(_KEYS)}"
            )
    for key in _REQUIRED:
        if table.get(key) is None:
            raise _manifest_error(
                manifest, symbol, f"misses {key!r}", f"add it (keys: {', '.join(_REQUIRED)})"
            )
    if table.get("market", "perpetual") != "perpetual":
        raise _manifest_error(
            manifest, symbol, f"market = {table['market']!r}",
            "a [perpetuals] table describes a perpetual: write market = 'perpetual' or leave "
            "it out; spot series belong in [symbols]",
        )  # fmt: skip
    contract = str(table["contract"])
    if contract not in ("linear", "inverse"):
        raise _manifest_error(
            manifest, symbol, f"contract = {contract!r}", "use 'linear' or 'inverse'"
        )
    try:
        interval = parse_timeframe(str(table["funding_interval"])).name
        calendar = normalize_calendar(str(table.get("calendar", "24/7")))
    except ConfigError as exc:
        raise _manifest_error(manifest, symbol, str(exc), "use e.g. '8h' and '24/7'") from None
    spot = _text(table, "spot")
    if spot is not None and spot not in spot_symbols:
        raise _manifest_error(
            manifest,
            symbol,
            f"spot = {spot!r} is not a [symbols] table",
            f"link one of {sorted(spot_symbols)} or leave spot out",
        )
    for key in ("bars", "mark"):
        pattern = _text(table, key)
        if pattern is not None and Path(pattern).name.count(_TF_FIELD) != 1:
            raise _manifest_error(
                manifest,
                symbol,
                f"{key} = {pattern!r} has no {_TF_FIELD} in its file name",
                f"write e.g. 'perp/perp/{symbol}-{_TF_FIELD}.csv.gz'",
            )
    size = _positive(table, "contract_size", manifest, symbol)
    tiers = None
    if table.get("tiers") is not None:
        rows = table["tiers"]
        try:
            if not isinstance(rows, list):
                raise ConfigError(f"tiers is a {type(rows).__name__}, not a list of tables")
            tiers = margin_tiers(rows, "tiers")
        except ConfigError as exc:
            raise _manifest_error(
                manifest, symbol, str(exc),
                f"write each band as its own [[perpetuals.{symbol}.tiers]] table with floor, "
                "cap, rate (and amount, max_leverage when the venue gives them)",
            ) from None  # fmt: skip
    terms = PerpetualContract(
        symbol=symbol,
        contract="linear" if contract == "linear" else "inverse",
        settle=str(table["settle"]),
        funding_interval=interval,
        venue=_text(table, "venue"),
        exchange_symbol=_text(table, "exchange_symbol"),
        ccxt_symbol=_text(table, "ccxt_symbol"),
        quote=_text(table, "quote"),
        contract_size=1.0 if size is None else size,
        calendar=calendar,
        tick_size=_positive(table, "tick_size", manifest, symbol),
        lot_size=_positive(table, "lot_size", manifest, symbol),
        specs_source=_text(table, "specs_source"),
        spot=spot,
        listed_at=_stamp(table, "listed_at", manifest, symbol),
        delisted_at=_stamp(table, "delisted_at", manifest, symbol),
        margin_tiers=tiers,
    )
    files = PerpetualFiles(
        bars=str(table["bars"]), mark=_text(table, "mark"), funding=Path(str(table["funding"]))
    )
    return terms, files
