"""The asset universe: the bundled symbols, read from the data folder's ``manifest.toml``,
and their sectors (the manifest's ``sector`` keys, overridable per symbol).

Every app, workbook, benchmark and library default that offers "the bundled assets" asks
:func:`universe` instead of typing the symbols out, so that adding a series to the data folder
(its file and its manifest table) adds it everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from quantlib.config import Settings, get_settings
from quantlib.data.catalog import available_series, bundled_manifest, normalize_symbol
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError

__all__ = ["ROADMAP_ORDER", "sectors", "universe"]

# The order of the roadmap's (the seed strategy's) assets: backtests give position slots and
# shared cash in asset order, so this order is part of the seed's figures. Symbols of the
# manifest not listed here follow in the manifest's order.
ROADMAP_ORDER: tuple[str, ...] = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "ADAUSDT",
    "MATICUSDT",
    "AVAXUSDT",
    "LINKUSDT",
)

_KINDS = ("spot", "perpetual", "equity", "all")


def universe(
    kind: str = "spot",
    timeframe: str | None = None,
    *,
    quote: str | None = "USDT",
    active: bool = False,
    settings: Settings | None = None,
) -> tuple[str, ...]:
    """The bundled symbols of one kind of market, in the roadmap's order.

    Parameters
    ----------
    kind : {"spot", "perpetual", "equity", "all"}, default "spot"
        The manifest's ``market`` of the symbols ("all": any market). ``"perpetual"``: the
        contracts of the manifest's ``[perpetuals]`` tables (named like their spot series).
    timeframe : str, optional
        Only symbols with a bundled file of this timeframe (``SYMBOL-TF.csv.gz``; for
        perpetuals a last-price kline file).
    quote : str or None, default "USDT"
        Only symbols quoted in this currency (None: any quote).
    active : bool, default False
        Leave out symbols whose trading has ended (a ``delisted_at`` in the manifest).
    settings : Settings, optional
        Where the bundled data lives (default: the global settings).

    Returns
    -------
    tuple of str
        Symbols in :data:`ROADMAP_ORDER`, then the others in the manifest's order.

    Raises
    ------
    ConfigError
        If ``kind`` is not one of the kinds above.

    Examples
    --------
    >>> universe()
    ('BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'ADAUSDT', 'MATICUSDT', 'AVAXUSDT', 'LINKUSDT')
    >>> universe(timeframe="5m"), universe(active=True)[-2:]
    (('BTCUSDT', 'ETHUSDT'), ('AVAXUSDT', 'LINKUSDT'))
    >>> universe("equity", quote=None)
    ('SPY',)
    >>> universe("perpetual", timeframe="4h")
    ('LINKUSDT',)
    """
    if kind not in _KINDS:
        raise ConfigError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
    settings = settings or get_settings()
    table = bundled_manifest(settings)
    folder = settings.bundled_dir
    tf = parse_timeframe(timeframe).name if timeframe is not None else None
    found = []
    if kind == "perpetual":
        table = {}  # perpetuals live in their own tables
        for info in available_series(settings, market="perpetual"):
            terms = info.contract
            if info.origin != "bundled" or terms is None or info.symbol in found:
                continue
            if quote is not None and terms.quote != quote:
                continue
            if active and terms.delisted_at is not None:
                continue
            if tf is not None and info.timeframe != tf:
                continue
            found.append(terms.symbol)
    for symbol, meta in table.items():
        if kind != "all" and meta.get("market") != kind:
            continue
        if quote is not None and meta.get("quote") != quote:
            continue
        if active and meta.get("delisted_at") is not None:
            continue
        if tf is not None and not (folder / f"{symbol}-{tf}.csv.gz").is_file():
            continue
        found.append(symbol)
    rank = {symbol: i for i, symbol in enumerate(ROADMAP_ORDER)}
    return tuple(sorted(found, key=lambda s: rank.get(s, len(rank))))


def sectors(
    overrides: Mapping[str, str] | None = None, *, settings: Settings | None = None
) -> dict[str, str]:
    """The sector of every symbol: the manifest's ``sector`` keys, then ``overrides``.

    Cross-sectional strategies (sector momentum) group assets by these labels. The bundled
    manifest names four crypto sectors: ``store_of_value`` (BTC), ``smart_contract_l1`` (ETH,
    SOL, ADA, AVAX), ``scaling`` (MATIC) and ``oracles`` (LINK).

    Parameters
    ----------
    overrides : mapping of str to str, optional
        Sector by symbol, replacing the manifest's label or adding a symbol the manifest does
        not classify (symbols are normalised: ``"sol/usdt"`` is ``"SOLUSDT"``).
    settings : Settings, optional
        Where the bundled data lives (default: the global settings).

    Returns
    -------
    dict of str to str
        Sector by symbol: the manifest's classified symbols in the order of :func:`universe`
        (``kind="all"``, any quote), then symbols only ``overrides`` names, in its order.

    Raises
    ------
    ConfigError
        If ``overrides`` is not a mapping of symbol to a non-empty label.

    Examples
    --------
    >>> table = sectors()
    >>> table["BTCUSDT"], table["SOLUSDT"], table["LINKUSDT"], table["MATICUSDT"]
    ('store_of_value', 'smart_contract_l1', 'oracles', 'scaling')
    >>> sectors({"sol/usdt": "high_throughput_l1", "DOTUSDT": "interop"})["SOLUSDT"]
    'high_throughput_l1'
    """
    extra = _sector_overrides(overrides)
    settings = settings or get_settings()
    table = bundled_manifest(settings)
    out: dict[str, str] = {}
    for symbol in universe("all", quote=None, settings=settings):
        label = table[symbol].get("sector")
        if isinstance(label, str) and label.strip():
            out[symbol] = label.strip()
    for symbol, label in extra.items():
        out[symbol] = label
    return out


def _sector_overrides(overrides: Mapping[str, str] | None) -> dict[str, str]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            f"sector overrides must be a mapping of symbol to sector, got "
            f"{type(overrides).__name__}. Fix: pass e.g. {{'SOLUSDT': 'smart_contract_l1'}}"
        )
    out: dict[str, str] = {}
    for symbol, label in overrides.items():
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(
                f"sector overrides: the sector of {symbol!r} must be a non-empty string, got "
                f"{label!r}. Fix: name its sector, e.g. {{{symbol!r}: 'oracles'}}"
            )
        out[normalize_symbol(symbol)] = label.strip()
    return out
