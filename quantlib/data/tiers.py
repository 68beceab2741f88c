"""Maintenance-margin tiers of a perpetual contract: a table of notional bands, each with its
maintenance-margin rate and maintenance amount (Binance's leverage brackets: ``notionalFloor``,
``notionalCap``, ``maintMarginRatio``, ``cum``).

A position of notional N (units × mark price) in the band ``floor <= N < cap`` must keep

    maintenance margin = N × rate − amount

and the amounts make that continuous across the bands: ``amount_k = amount_{k−1} + floor_k ×
(rate_k − rate_{k−1})``, ``amount_0 = 0`` (Binance, "How to Calculate Liquidation Price of
COIN-M Futures Contracts", *Maintenance Amount*). No table ships with the repository: venues
publish them per symbol behind an API key (``GET /fapi/v1/leverageBracket``) and change them;
fetch one with ``quant data fetch binance SYMBOL --kind tiers``
(:func:`quantlib.data.fetch_tiers.fetch_tiers`), write one into a ``[[perpetuals.SYMBOL.tiers]]``
table of the manifest, or pass one to ``BacktestConfig(margin_tiers=...)``.
:func:`quantlib.data.tiers_store.load_margin_tiers` finds a symbol's table (the store first,
then the manifest).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from quantlib.exceptions import ConfigError

__all__ = ["MarginTier", "maintenance_margin", "margin_tiers", "tiers_frame"]

_KEYS = ("floor", "cap", "rate", "amount", "max_leverage")


@dataclass(frozen=True)
class MarginTier:
    """One notional band of a maintenance-margin table.

    Attributes
    ----------
    floor, cap : float
        The band ``floor <= notional < cap`` in the quote (settlement) asset; the last band's
        cap may be ``inf``.
    rate : float
        Maintenance-margin rate of the band (fraction of the notional).
    amount : float
        Maintenance amount (Binance's ``cum``): maintenance margin = notional × rate − amount.
    max_leverage : float or None
        The band's highest initial leverage, as the venue states it (recorded, not enforced by
        the backtest).
    """

    floor: float
    cap: float
    rate: float
    amount: float = 0.0
    max_leverage: float | None = None


def _row(row: object, k: int, where: str) -> dict[str, float | None]:
    if isinstance(row, MarginTier):
        return asdict(row)
    if not isinstance(row, Mapping):
        raise ConfigError(
            f"{where}: tier {k} is a {type(row).__name__}, not a table. Fix: write each tier as "
            "{floor, cap, rate[, amount][, max_leverage]}"
        )
    for key in row:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}: tier {k} has an unknown key {key!r}. Fix: {hint}keys are "
                f"{', '.join(_KEYS)}"
            )
    for key in ("floor", "rate"):
        if row.get(key) is None:
            raise ConfigError(f"{where}: tier {k} misses {key!r}. Fix: add it")
    out: dict[str, float | None] = {}
    for key in _KEYS:
        value = row.get(key)
        if value is None:
            out[key] = math.inf if key == "cap" else None  # no cap: the last band
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: tier {k} {key} = {value!r} is not a number")
        out[key] = float(value)
    return out


def margin_tiers(rows: Iterable[object], where: str = "margin tiers") -> tuple[MarginTier, ...]:
    """Check a maintenance-margin table and fill in the amounts it leaves out.

    Parameters
    ----------
    rows : iterable of MarginTier or mapping
        The bands in order, each ``{floor, cap, rate[, amount][, max_leverage]}``; a cap left
        out (or None) is no cap, allowed on the last band only.
    where : str
        Names the table in error messages.

    Returns
    -------
    tuple of MarginTier
        With every ``amount`` set (derived where absent).

    Raises
    ------
    ConfigError
        Naming the tier and the rule: no rows, an unknown key, the first floor not 0, a band
        that does not start at the previous cap, a cap not above its floor, a rate outside
        [0, 1), a leverage below 1, or a given amount that breaks the continuity of the
        maintenance margin (``amount_k = amount_{k−1} + floor_k (rate_k − rate_{k−1})``).

    Examples
    --------
    >>> table = margin_tiers([
    ...     {"floor": 0, "cap": 50_000, "rate": 0.004},
    ...     {"floor": 50_000, "cap": 250_000, "rate": 0.005},
    ... ])
    >>> table[1].amount  # 50 000 × (0.005 − 0.004)
    50.0
    """
    parsed = [_row(row, k, where) for k, row in enumerate(rows)]
    if not parsed:
        raise ConfigError(f"{where}: the table is empty. Fix: give at least one tier")
    tiers: list[MarginTier] = []
    prev_cap, prev_rate, prev_amount = 0.0, 0.0, 0.0
    for k, row in enumerate(parsed):
        floor, cap, rate = float(row["floor"] or 0.0), float(row["cap"] or 0.0), row["rate"]
        assert rate is not None  # required above
        if not math.isfinite(floor) or not math.isclose(floor, prev_cap, rel_tol=1e-9):
            expected = "0" if k == 0 else f"the cap of tier {k - 1}, {prev_cap:g}"
            raise ConfigError(
                f"{where}: tier {k} starts at floor {floor:g}, not at {expected}. Fix: list the "
                "bands in order, each starting where the one before ends"
            )
        if not cap > floor:
            raise ConfigError(f"{where}: tier {k} has cap {cap:g} <= floor {floor:g}")
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"{where}: tier {k} rate {rate!r} is outside [0, 1)")
        lev = row["max_leverage"]
        if lev is not None and not lev >= 1.0:
            raise ConfigError(f"{where}: tier {k} max_leverage {lev!r} is below 1")
        derived = prev_amount + floor * (rate - prev_rate)
        amount = row["amount"]
        if amount is None:
            amount = derived
        elif not math.isclose(amount, derived, rel_tol=1e-6, abs_tol=1e-6):
            raise ConfigError(
                f"{where}: tier {k} amount {amount:g} breaks the continuity of the maintenance "
                f"margin: amount_{k} = amount_{k - 1} + floor × (rate − previous rate) = "
                f"{derived:g}. Fix: correct it, or leave the amounts out to derive them"
            )
        tiers.append(MarginTier(floor, cap, rate, amount, lev))
        prev_cap, prev_rate, prev_amount = cap, rate, amount
        if not math.isfinite(cap) and k < len(parsed) - 1:
            raise ConfigError(f"{where}: tier {k} has no cap but is not the last tier")
    return tuple(tiers)


def maintenance_margin(tiers: tuple[MarginTier, ...], notional: float) -> float:
    """``notional × rate − amount`` of the band holding ``|notional|`` (the last band beyond
    the table's last cap).

    Examples
    --------
    >>> table = margin_tiers([{"floor": 0, "cap": 10_000, "rate": 0.01},
    ...                       {"floor": 10_000, "cap": float("inf"), "rate": 0.02}])
    >>> maintenance_margin(table, 5_000.0), maintenance_margin(table, 20_000.0)
    (50.0, 300.0)
    """
    size = abs(notional)
    tier = next((t for t in tiers if size < t.cap), tiers[-1])
    return size * tier.rate - tier.amount


def tiers_frame(tiers: tuple[MarginTier, ...]) -> pd.DataFrame:
    """The table as a frame: ``floor, cap, rate, amount, max_leverage``, one row per band."""
    return pd.DataFrame([asdict(t) for t in tiers], columns=list(_KEYS))
