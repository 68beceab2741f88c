"""The trial registry: every configuration ever tried, so that a Sharpe ratio can be deflated by
the honest number of trials behind it.

A *trial* is one configuration (strategy, parameters, engine settings: one ``config_id``) run
on one period of one data set, in sample (while searching) or out of sample (a walk-forward
test window). Sweeps and walk-forward runs record their trials here when asked; the deflated
Sharpe ratio of whatever was finally selected then uses :func:`trials_sharpe_variance`, which
counts the trials of every fold and every earlier run, not only those of the last search.

Rows are keyed by ``(run_id, config_id, fold, in_sample)``: recording the same run twice adds
nothing, while a second run (a new ``run_id``) adds its trials to the count. Nothing here reads
the clock: ``recorded_at`` is passed in (a command line passes ``pd.Timestamp.now("UTC")``) or
taken from the data (the end of the latest period recorded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, ColumnElement, DateTime, Engine, UniqueConstraint, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from quantlib._validation import check_event_frame, check_int
from quantlib.db import create_tables, session
from quantlib.exceptions import ConfigError

__all__ = [
    "TRIAL_COLUMNS",
    "Trial",
    "TrialStats",
    "load_trials",
    "record_trials",
    "trial_count",
    "trials_sharpe_variance",
]

TRIAL_COLUMNS: tuple[str, ...] = (
    "strategy",
    "params",
    "config_id",
    "assets",
    "timeframe",
    "period_start",
    "period_end",
    "fold",
    "in_sample",
    "sharpe",
    "n_obs",
    "skew",
    "kurtosis",
)
"""Columns of a frame of trials to record (``SweepResult.trial_frame()`` builds one)."""

_PRODUCER = "SweepResult.trial_frame() or WalkForwardResult.trial_frame()"
_RETRIES = 3


class Trial(SQLModel, table=True):
    """One configuration tried on one period (a row of the ``trials`` table).

    ``sharpe`` is the **per-period** Sharpe ratio of the daily returns (not annualised),
    ``skew`` and ``kurtosis`` (excess, normal = 0) are their sample moments and ``n_obs`` their
    number; ``assets`` joins the asset names with commas. Times are UTC.
    """

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("run_id", "config_id", "fold", "in_sample", name="uq_trials_key"),
    )

    trial_id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=200)
    strategy: str = Field(index=True, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    config_id: str = Field(index=True, max_length=64)
    assets: str = Field(max_length=1000)
    timeframe: str = Field(max_length=16)
    period_start: datetime = Field(sa_type=DateTime(timezone=True))
    period_end: datetime = Field(sa_type=DateTime(timezone=True))
    fold: str = Field(max_length=100)
    in_sample: bool
    sharpe: float | None = None
    n_obs: int
    skew: float | None = None
    kurtosis: float | None = None
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))


@dataclass(frozen=True)
class TrialStats:
    """What the deflated Sharpe ratio needs to know about the trials behind a selection.

    Attributes
    ----------
    n_trials : int
        Trials matching the filters (a trial whose Sharpe ratio is undefined still counts).
    n_finite : int
        Those with a finite Sharpe ratio (the variance is taken over them).
    sharpe_variance : float
        Sample variance (``ddof=1``) of their **per-period** Sharpe ratios; NaN below 2.
    mean_sharpe : float
        Their mean per-period Sharpe ratio; NaN without any.
    """

    n_trials: int
    n_finite: int
    sharpe_variance: float
    mean_sharpe: float

    def annualised_variance(self, periods_per_year: int = 365) -> float:
        """Variance of the annualised Sharpe ratios, ``sharpe_variance × periods_per_year``
        (what :func:`quantlib.analytics.summary.performance_summary` takes)."""
        return self.sharpe_variance * check_int("periods_per_year", periods_per_year, minimum=1)


def _utc(name: str, value: object) -> datetime:
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a timestamp, got {value!r}") from exc
    if pd.isna(stamp) or stamp.tzinfo is None:
        raise ConfigError(
            f"{name} must be a tz-aware timestamp, got {value!r}. Fix: pass e.g. "
            "pd.Timestamp.now('UTC') or a time from the data"
        )
    return stamp.tz_convert("UTC").to_pydatetime()


def _as_utc(value: datetime) -> pd.Timestamp:
    # SQLite hands back naive datetimes; everything was stored in UTC.
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python scalars, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _optional(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not run_id.strip():
        raise ConfigError(
            f"run_id must be a non-empty string naming the run, got {run_id!r}. Fix: pass e.g. "
            "run_id='sma-grid-2024-06'"
        )
    return run_id


def record_trials(
    trials: pd.DataFrame,
    *,
    run_id: str,
    recorded_at: pd.Timestamp | datetime | None = None,
    engine: Engine | None = None,
) -> int:
    """Store the trials of one run; rows already stored for this run are left as they are.

    Parameters
    ----------
    trials : pandas.DataFrame
        One row per trial with the columns :data:`TRIAL_COLUMNS` (see
        ``SweepResult.trial_frame()``); ``params`` holds dicts.
    run_id : str
        Names the run (a sweep, a walk-forward); part of each row's key.
    recorded_at : Timestamp, optional
        When the trials were run, tz-aware; default the latest ``period_end`` of ``trials``
        (the time the data reaches), so that nothing reads the clock.
    engine : sqlalchemy.Engine, optional
        Default: the settings' database (:func:`quantlib.db.get_engine`).

    Returns
    -------
    int
        The number of rows added (0 when the run was recorded before).

    Notes
    -----
    Idempotent per key ``(run_id, config_id, fold, in_sample)``: in-sample and out-of-sample
    runs of one configuration on one fold are two trials. The check and the inserts are one
    transaction; if a concurrent writer inserted the same key in between, the transaction is
    retried.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> frame = pd.DataFrame([{
    ...     "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}, "config_id": "abc",
    ...     "assets": "BTCUSDT", "timeframe": "1d",
    ...     "period_start": pd.Timestamp("2024-01-01", tz="UTC"),
    ...     "period_end": pd.Timestamp("2024-12-31", tz="UTC"), "fold": "full",
    ...     "in_sample": True, "sharpe": 0.05, "n_obs": 366, "skew": 0.1, "kurtosis": 2.0}])
    >>> record_trials(frame, run_id="demo", engine=engine)
    1
    >>> record_trials(frame, run_id="demo", engine=engine)
    0
    >>> trial_count("sma_cross", engine=engine)
    1
    """
    run = _check_run_id(run_id)
    frame = check_event_frame("trials", trials, TRIAL_COLUMNS, _PRODUCER)
    if frame.empty:
        return 0
    if recorded_at is None:
        stamp = max(_utc("period_end", value) for value in frame["period_end"])
    else:
        stamp = _utc("recorded_at", recorded_at)
    rows: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for record in frame.to_dict("records"):
        key = (str(record["config_id"]), str(record["fold"]), bool(record["in_sample"]))
        if key in rows:
            continue
        params = record["params"]
        if not isinstance(params, dict):
            raise ConfigError(
                f"trials: 'params' must hold dicts of parameter values, got {params!r}. "
                f"Fix: pass the frame from {_PRODUCER}"
            )
        rows[key] = {
            "run_id": run,
            "strategy": str(record["strategy"]),
            "params": _plain(params),
            "config_id": key[0],
            "assets": str(record["assets"]),
            "timeframe": str(record["timeframe"]),
            "period_start": _utc("period_start", record["period_start"]),
            "period_end": _utc("period_end", record["period_end"]),
            "fold": key[1],
            "in_sample": key[2],
            "sharpe": _optional(record["sharpe"]),
            "n_obs": int(record["n_obs"]),
            "skew": _optional(record["skew"]),
            "kurtosis": _optional(record["kurtosis"]),
            "recorded_at": stamp,
        }
    db_engine = _ready(engine)
    for attempt in range(_RETRIES):
        try:
            with session(db_engine) as db:
                query = select(Trial.config_id, Trial.fold, Trial.in_sample).where(
                    Trial.run_id == run
                )
                stored = {(c, f, bool(s)) for c, f, s in db.exec(query).all()}
                new = [Trial(**row) for key, row in rows.items() if key not in stored]
                db.add_all(new)
            return len(new)
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _ready(engine: Engine | None) -> Engine | None:
    table = Trial.__table__  # type: ignore[attr-defined]
    create_tables(engine, [table])
    return engine


def _conditions(
    strategy: str | None,
    run_id: str | Sequence[str] | None,
    assets: str | Sequence[str] | None,
    timeframe: str | None,
    in_sample: bool | None,
    fold: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if strategy is not None:
        conditions.append(col(Trial.strategy) == strategy)
    if run_id is not None:
        runs = [run_id] if isinstance(run_id, str) else list(run_id)
        conditions.append(col(Trial.run_id).in_(runs))
    if assets is not None:
        joined = assets if isinstance(assets, str) else ",".join(assets)
        conditions.append(col(Trial.assets) == joined)
    if timeframe is not None:
        conditions.append(col(Trial.timeframe) == timeframe)
    if in_sample is not None:
        conditions.append(col(Trial.in_sample) == bool(in_sample))
    if fold is not None:
        conditions.append(col(Trial.fold) == fold)
    return conditions


def trial_count(
    strategy: str | None = None,
    *,
    run_id: str | Sequence[str] | None = None,
    assets: str | Sequence[str] | None = None,
    timeframe: str | None = None,
    in_sample: bool | None = None,
    fold: str | None = None,
    engine: Engine | None = None,
) -> int:
    """How many trials the registry holds for the filters (None = any).

    Every row counts: each fold of a walk-forward and each run adds its trials, which is what
    the deflated Sharpe ratio of a final selection must be charged with. ``assets`` matches
    the comma-joined asset list exactly (``"BTCUSDT"`` or ``["BTCUSDT", "ETHUSDT"]``).

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> trial_count("sma_cross", engine=make_engine("sqlite://"))
    0
    """
    conditions = _conditions(strategy, run_id, assets, timeframe, in_sample, fold)
    with session(_ready(engine)) as db:
        query = select(func.count()).select_from(Trial).where(*conditions)
        return int(db.exec(query).one())


def trials_sharpe_variance(
    strategy: str | None = None,
    *,
    run_id: str | Sequence[str] | None = None,
    assets: str | Sequence[str] | None = None,
    timeframe: str | None = None,
    in_sample: bool | None = None,
    fold: str | None = None,
    engine: Engine | None = None,
) -> TrialStats:
    r"""The number of trials and the variance of their Sharpe ratios, for the deflated Sharpe.

    Parameters are the filters of :func:`trial_count`.

    Returns
    -------
    TrialStats
        ``n_trials`` and the per-period ``sharpe_variance`` go straight into
        :func:`quantlib.analytics.sharpe.deflated_sharpe_ratio`; ``annualised_variance()``
        into ``BacktestResult.summary(trials_sharpe_variance=...)``.

    Notes
    -----
    .. math:: \hat V = \frac{1}{K - 1} \sum_{k=1}^{K} (SR_k - \overline{SR})^2

    over the :math:`K` trials with a finite per-period Sharpe ratio :math:`SR_k`, while
    :math:`N` = ``n_trials`` counts them all.

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> trials_sharpe_variance(engine=make_engine("sqlite://")).n_trials
    0
    """
    conditions = _conditions(strategy, run_id, assets, timeframe, in_sample, fold)
    with session(_ready(engine)) as db:
        values = db.exec(select(Trial.sharpe).where(*conditions)).all()
    sharpes = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    finite = sharpes[np.isfinite(sharpes)]
    return TrialStats(
        n_trials=len(sharpes),
        n_finite=len(finite),
        sharpe_variance=float(np.var(finite, ddof=1)) if len(finite) >= 2 else math.nan,
        mean_sharpe=float(np.mean(finite)) if len(finite) else math.nan,
    )


def load_trials(
    strategy: str | None = None,
    *,
    run_id: str | Sequence[str] | None = None,
    assets: str | Sequence[str] | None = None,
    timeframe: str | None = None,
    in_sample: bool | None = None,
    fold: str | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The stored trials matching the filters, oldest first, times in UTC, NaN for missing
    moments (columns: ``trial_id``, ``run_id``, :data:`TRIAL_COLUMNS`, ``recorded_at``).

    Examples
    --------
    >>> from quantlib.db import make_engine
    >>> list(load_trials(engine=make_engine("sqlite://")).columns[:3])
    ['trial_id', 'run_id', 'strategy']
    """
    conditions = _conditions(strategy, run_id, assets, timeframe, in_sample, fold)
    with session(_ready(engine)) as db:
        rows = db.exec(select(Trial).where(*conditions).order_by(col(Trial.trial_id))).all()
        records = [row.model_dump() for row in rows]
    columns = ["trial_id", "run_id", *TRIAL_COLUMNS, "recorded_at"]
    frame = pd.DataFrame(records, columns=columns)
    for column in ("period_start", "period_end", "recorded_at"):
        frame[column] = pd.DatetimeIndex([_as_utc(v) for v in frame[column]], tz="UTC")
    for column in ("sharpe", "skew", "kurtosis"):
        frame[column] = frame[column].astype(np.float64)
    return frame
