"""The perpetual part of the live journal: funding payments and each contract's margin state.

Two tables, created beside the others (``create_all`` makes a missing table and leaves an
existing one alone, so a journal written before perpetuals gains them on open, with nothing to
migrate):

``live_funding``
    One row per funding payment: ``symbol``, ``funding_time`` (epoch ms), ``rate``, ``units``
    (the signed position at the funding time), ``mark``, ``amount`` (quote; positive paid,
    negative received) and ``source`` (``paper:mark``, ``paper:last``, ``exchange``). The
    UNIQUE key ``(symbol, funding_time)`` makes recording idempotent: a crash between the
    exchange read and the engine's next step, and the replay that follows, record a payment
    once, whoever writes first (:meth:`FundingLedger.record_funding` returns False for a
    payment it already holds).
``live_contracts``
    The leverage, margin mode, margin, maintenance-margin rate and liquidation price the
    exchange last reported for each perpetual, written when they change (not every bar); the
    journal's positions carry the first three of them
    (:class:`~quantlib.live.journal_tables.JournalPosition`).

Every write is one transaction with its audit row, as everywhere in the journal; the
``source`` text passes :func:`~quantlib.live.redact.redact`. A value that is not a finite
number (a malformed exchange answer) is refused with :class:`~quantlib.live.errors.LiveError`
before anything is written.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from sqlalchemy import BigInteger, Table, UniqueConstraint
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, func, insert, select, update

from quantlib.live.errors import JournalUnavailable, LiveError
from quantlib.live.journal_base import _RETRIES, JournalBase
from quantlib.live.journal_tables import JournalPosition, database_label, table_of
from quantlib.live.perpetual import ContractPosition, FundingPayment
from quantlib.live.redact import redact

__all__ = [
    "PERPETUAL_TABLES",
    "ContractRecord",
    "FundingLedger",
    "LiveContractRow",
    "LiveFundingRow",
]

# A reported value that moved less than this (relative) is not a change worth a row.
_SAME = 1e-9


class LiveFundingRow(SQLModel, table=True):
    """One funding payment; ``(symbol, funding_time)`` is unique (idempotent recording)."""

    __tablename__ = "live_funding"
    __table_args__ = (UniqueConstraint("symbol", "funding_time", name="uq_live_funding_time"),)

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(index=True, max_length=50)
    funding_time: int = Field(sa_type=BigInteger)
    rate: float | None = None
    units: float | None = None
    mark: float | None = None
    amount: float
    source: str = Field(default="exchange", max_length=40)
    recorded_at: int = Field(sa_type=BigInteger)


class LiveContractRow(SQLModel, table=True):
    """The margin state of one perpetual as the exchange last reported it."""

    __tablename__ = "live_contracts"

    symbol: str = Field(primary_key=True, max_length=50)
    leverage: float
    margin_mode: str = Field(max_length=16)
    margin: float | None = None
    maintenance_margin: float | None = None
    liquidation_price: float | None = None
    updated_at: int = Field(sa_type=BigInteger)


PERPETUAL_TABLES: tuple[Table, ...] = (table_of(LiveFundingRow), table_of(LiveContractRow))
"""The tables this module declares (created by :class:`~quantlib.live.journal.Journal`)."""


ContractRecord = LiveContractRow
"""What :meth:`FundingLedger.contracts` hands out: the stored row (detached, read-only use)."""


def _number(value: float | None, what: str, *, optional: bool = True) -> float | None:
    """``value`` as a finite float (None kept where allowed), else a LiveError naming it."""
    if value is None and optional:
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        out = math.nan
    if not math.isfinite(out):
        raise LiveError(
            f"{what} is {value!r}, not a finite number; the exchange's answer is malformed "
            "and is not recorded"
        )
    return out


def _nan_to_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class FundingLedger(JournalBase):
    """Funding payments and contract states, a part of :class:`~quantlib.live.journal.Journal`."""

    # -- funding ------------------------------------------------------------------------------

    def record_funding(self, payment: FundingPayment, *, actor: str = "engine") -> bool:
        """Record one funding payment once; False (nothing written) when the journal already
        holds this symbol's payment at this funding time.

        Raises
        ------
        LiveError
            If the amount (or a given rate, units or mark) is not a finite number.
        """
        where = f"funding of {payment.symbol} at {payment.time}"
        values: dict[str, Any] = {
            "symbol": payment.symbol,
            "funding_time": int(payment.time),
            "rate": _number(payment.rate, f"{where}: rate"),
            "units": _number(payment.units, f"{where}: units"),
            "mark": _number(payment.mark, f"{where}: mark"),
            "amount": _number(payment.amount, f"{where}: amount", optional=False),
            "source": redact(str(payment.source))[:40],
        }
        for _ in range(_RETRIES):
            try:
                return self._record_funding_once(values, actor)
            except IntegrityError:
                if self._has_funding(payment.symbol, int(payment.time)):
                    return False  # another writer recorded it first
        raise JournalUnavailable(
            f"could not record the {where} in {database_label(self._engine)}: concurrent "
            f"writers conflicted {_RETRIES} times. Fix: run one engine per journal"
        )

    def _has_funding(self, symbol: str, at: int) -> bool:
        with self._read(f"look up the funding of {symbol} at {at}") as s:
            return _funding_row(s, symbol, at) is not None

    def _record_funding_once(self, values: dict[str, Any], actor: str) -> bool:
        symbol, at = values["symbol"], values["funding_time"]
        with self._write(f"record the funding of {symbol} at {at}") as s:
            if _funding_row(s, symbol, at) is not None:
                return False
            s.exec(insert(LiveFundingRow).values(**values, recorded_at=self._clock()))
            self._audit(s, actor, "funding", values)
        return True

    def funding_payments(self, symbol: str | None = None, since: int = 0) -> list[FundingPayment]:
        """Recorded funding payments (of ``symbol``, at funding times >= ``since``), oldest
        first."""
        query = (
            select(LiveFundingRow)
            .where(col(LiveFundingRow.funding_time) >= since)
            .order_by(col(LiveFundingRow.funding_time), col(LiveFundingRow.symbol))
        )
        if symbol is not None:
            query = query.where(col(LiveFundingRow.symbol) == symbol)
        with self._read("read funding payments") as s:
            rows = s.exec(query).all()
        return [
            FundingPayment(r.symbol, r.funding_time, r.amount, r.rate, r.units, r.mark, r.source)
            for r in rows
        ]

    def funding_paid(self) -> dict[str, float]:
        """Funding paid per symbol (positive: paid, negative: received), summed in SQL."""
        with self._read("sum funding payments") as s:
            rows = s.exec(
                select(LiveFundingRow.symbol, func.sum(LiveFundingRow.amount)).group_by(
                    col(LiveFundingRow.symbol)
                )
            ).all()
        return {str(symbol): float(total or 0.0) for symbol, total in rows}

    def last_funding_time(self, symbol: str) -> int | None:
        """The latest funding time recorded for ``symbol`` (where the next read starts)."""
        with self._read(f"read the last funding time of {symbol}") as s:
            found = s.exec(
                select(func.max(LiveFundingRow.funding_time)).where(
                    col(LiveFundingRow.symbol) == symbol
                )
            ).first()
        return None if found is None else int(found)

    # -- contract states ----------------------------------------------------------------------

    def record_contract(self, position: ContractPosition, *, actor: str = "engine") -> bool:
        """Store ``position``'s leverage, margin mode, margin, maintenance-margin rate and
        liquidation price when any of them changed; True when a row was written.

        Raises
        ------
        LiveError
            If the leverage is not a finite number (a NaN margin or liquidation price is
            stored as none).
        """
        lev = _number(position.leverage, f"{position.symbol}: leverage", optional=False)
        values: dict[str, Any] = {
            "leverage": lev,
            "margin_mode": str(position.margin_mode.value),
            "margin": _nan_to_none(position.margin),
            "maintenance_margin": _nan_to_none(position.maintenance_margin),
            "liquidation_price": _nan_to_none(position.liquidation_price),
        }
        with self._write(f"record the contract state of {position.symbol}") as s:
            row = s.get(LiveContractRow, position.symbol)
            if row is not None and all(
                _same(getattr(row, key), value) for key, value in values.items()
            ):
                return False
            now = self._clock()
            if row is None:
                s.exec(
                    insert(LiveContractRow).values(symbol=position.symbol, **values, updated_at=now)
                )
            else:
                s.exec(
                    update(LiveContractRow)
                    .where(col(LiveContractRow.symbol) == position.symbol)
                    .values(**values, updated_at=now)
                )
            self._audit(s, actor, "contract.state", {"symbol": position.symbol, **values})
        return True

    def contracts(self) -> dict[str, LiveContractRow]:
        """The stored contract state of every perpetual, by symbol."""
        with self._read("read contract states") as s:
            rows = s.exec(select(LiveContractRow).order_by(col(LiveContractRow.symbol))).all()
        return {row.symbol: row for row in rows}

    def _with_contracts(self, positions: dict[str, JournalPosition]) -> dict[str, JournalPosition]:
        """``positions`` with each perpetual's leverage, margin mode and liquidation price."""
        stored = self._select("read contract states", _CONTRACT_TERMS, {}) if positions else []
        contracts = {row.symbol: row for row in stored}
        return {
            symbol: replace(
                position,
                leverage=row.leverage,
                margin_mode=row.margin_mode,
                liquidation_price=row.liquidation_price,
            )
            if (row := contracts.get(symbol)) is not None
            else position
            for symbol, position in positions.items()
        }


_CONTRACTS = table_of(LiveContractRow)
_CONTRACT_TERMS = sa_select(
    _CONTRACTS.c.symbol,
    _CONTRACTS.c.leverage,
    _CONTRACTS.c.margin_mode,
    _CONTRACTS.c.liquidation_price,
)
"""What :meth:`FundingLedger._with_contracts` reads of every contract (on the driver, see
:mod:`quantlib.live.journal_driver`): it runs after each fill."""


def _funding_row(s: Session, symbol: str, at: int) -> int | None:
    return s.exec(
        select(LiveFundingRow.id).where(
            col(LiveFundingRow.symbol) == symbol, col(LiveFundingRow.funding_time) == at
        )
    ).first()


def _same(stored: object, value: object) -> bool:
    if stored is None or value is None or isinstance(value, str):
        return stored == value
    a, b = float(stored), float(value)  # type: ignore[arg-type]
    return abs(a - b) <= _SAME * max(abs(a), abs(b), 1.0)
