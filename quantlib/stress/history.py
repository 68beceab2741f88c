"""The history of stress runs: one row per (config, data) pair, and what changed between runs.

A run is keyed by its ``config_id`` and the hash of the data it read: rerunning the same
configuration on the same data adds nothing (:func:`record_run` returns the stored row), while
new data (or a changed configuration) adds a row. :func:`stress_history` lists the runs, each
compared with the previous run of the same stress test (same ``name``): metric deltas, new and
cleared breaches, and whether the configuration changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import JSON, DateTime, Engine, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from quantlib.db import create_tables, session

__all__ = ["HISTORY_COLUMNS", "StoredRun", "StressRun", "record_run", "stress_history"]

HISTORY_COLUMNS: tuple[str, ...] = (
    "run_id",
    "name",
    "config_id",
    "data_hash",
    "run_at",
    "n_breaches",
    "breaches",
    "new_breaches",
    "cleared_breaches",
    "config_changed",
    "changes",
    "report",
)
"""Columns of :func:`stress_history`."""


class StressRun(SQLModel, table=True):
    """One stress run (a row of ``stress_runs``). ``metrics`` maps a flat metric key (e.g.
    ``"historical.ftx_2022.pnl"``) to its value (None where undefined); ``breaches`` maps a
    breach key to its message. Times are UTC."""

    __tablename__ = "stress_runs"
    __table_args__ = (UniqueConstraint("config_id", "data_hash", name="uq_stress_runs_key"),)

    run_id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=100)
    config_id: str = Field(index=True, max_length=64)
    data_hash: str = Field(max_length=64)
    run_at: datetime = Field(sa_type=DateTime(timezone=True))
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    breaches: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    report: str = Field(default="", max_length=1000)


@dataclass(frozen=True)
class StoredRun:
    """A history row as plain values; ``created`` says whether this call inserted it."""

    run_id: int
    run_at: pd.Timestamp
    created: bool


def _as_utc(value: datetime) -> pd.Timestamp:
    # SQLite hands back naive datetimes; everything was stored in UTC.
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _ready(engine: Engine | None) -> Engine | None:
    create_tables(engine, [StressRun.__table__])  # type: ignore[attr-defined]
    return engine


def find_run(config_id: str, data_hash: str, engine: Engine | None = None) -> StoredRun | None:
    """The stored run of this configuration on this data, if any."""
    with session(_ready(engine)) as db:
        row = db.exec(
            select(StressRun).where(
                StressRun.config_id == config_id, StressRun.data_hash == data_hash
            )
        ).first()
        if row is None or row.run_id is None:
            return None
        return StoredRun(row.run_id, _as_utc(row.run_at), created=False)


def record_run(
    *,
    name: str,
    config_id: str,
    data_hash: str,
    run_at: pd.Timestamp,
    config: dict[str, Any],
    metrics: dict[str, float],
    breaches: dict[str, str],
    report: str,
    engine: Engine | None = None,
) -> StoredRun:
    """Insert the run unless ``(config_id, data_hash)`` is stored already (one transaction).

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> args = dict(name="demo", config_id="abc", data_hash="d1", config={}, metrics={"x": 1.0},
    ...             breaches={}, report="r.html", engine=engine)
    >>> record_run(run_at=pd.Timestamp("2024-01-01", tz="UTC"), **args).created
    True
    >>> record_run(run_at=pd.Timestamp("2024-01-02", tz="UTC"), **args).created
    False
    """
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    db_engine = _ready(engine)
    try:
        with session(db_engine) as db:
            query = select(StressRun).where(
                StressRun.config_id == config_id, StressRun.data_hash == data_hash
            )
            stored = db.exec(query).first()
            if stored is not None and stored.run_id is not None:
                return StoredRun(stored.run_id, _as_utc(stored.run_at), created=False)
            row = StressRun(
                name=name,
                config_id=config_id,
                data_hash=data_hash,
                run_at=run_at.tz_convert("UTC").to_pydatetime(),
                config=config,
                metrics=clean,
                breaches=dict(breaches),
                report=report,
            )
            db.add(row)
            db.flush()
            assert row.run_id is not None
            return StoredRun(row.run_id, _as_utc(row.run_at), created=True)
    except IntegrityError:
        # A concurrent run inserted the same key between the check and the insert.
        found = find_run(config_id, data_hash, engine)
        if found is None:  # pragma: no cover - the key exists, or the insert would have worked
            raise
        return found


def _deltas(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    changes = {}
    for key in sorted(set(before) & set(after)):
        old, new = before[key], after[key]
        if old is None or new is None:
            continue
        if abs(float(new) - float(old)) > 1e-12:
            changes[key] = float(new) - float(old)
    return changes


def stress_history(name: str | None = None, *, engine: Engine | None = None) -> pd.DataFrame:
    """Past stress runs, oldest first, each compared with the previous run of the same name.

    Returns
    -------
    DataFrame
        Columns :data:`HISTORY_COLUMNS`: ``breaches``, ``new_breaches`` and
        ``cleared_breaches`` are sorted lists of breach keys, ``changes`` maps each metric
        that moved to its change (new − previous), ``config_changed`` compares config ids
        (False for a first run).

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> common = dict(name="demo", config_id="abc", config={}, report="", engine=engine)
    >>> _ = record_run(data_hash="d1", run_at=pd.Timestamp("2024-01-01", tz="UTC"),
    ...                metrics={"pnl": -0.1}, breaches={"dd": "too deep"}, **common)
    >>> _ = record_run(data_hash="d2", run_at=pd.Timestamp("2024-01-02", tz="UTC"),
    ...                metrics={"pnl": -0.3}, breaches={"ruin": "ruined"}, **common)
    >>> row = stress_history(engine=engine).iloc[-1]
    >>> row["new_breaches"], row["cleared_breaches"], round(row["changes"]["pnl"], 6)
    (['ruin'], ['dd'], -0.2)
    """
    with session(_ready(engine)) as db:
        query = select(StressRun)
        if name is not None:
            query = query.where(StressRun.name == name)
        rows = [r.model_dump() for r in db.exec(query.order_by(col(StressRun.run_id))).all()]
    records = []
    previous: dict[str, dict[str, Any]] = {}
    for row in rows:
        before = previous.get(row["name"])
        now_breaches = set(row["breaches"])
        old_breaches = set(before["breaches"]) if before else set()
        records.append(
            {
                "run_id": row["run_id"],
                "name": row["name"],
                "config_id": row["config_id"],
                "data_hash": row["data_hash"],
                "run_at": _as_utc(row["run_at"]),
                "n_breaches": len(now_breaches),
                "breaches": sorted(now_breaches),
                "new_breaches": sorted(now_breaches - old_breaches) if before else [],
                "cleared_breaches": sorted(old_breaches - now_breaches) if before else [],
                "config_changed": before is not None and before["config_id"] != row["config_id"],
                "changes": _deltas(before["metrics"], row["metrics"]) if before else {},
                "report": row["report"],
            }
        )
        previous[row["name"]] = row
    return pd.DataFrame(records, columns=list(HISTORY_COLUMNS))
