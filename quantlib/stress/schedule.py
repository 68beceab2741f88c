"""Scheduled stress reruns with APScheduler 3.x, for a long-running process.

:func:`schedule_stress` reruns :func:`quantlib.stress.run.run_stress` on a fixed interval
(``every="6h"``) or a cron expression (``cron="0 */6 * * *"``, UTC):

* ``max_instances=1``: a run that is still going when the next one falls due makes the
  scheduler skip that one (no overlapping runs, so no two writers of one report);
* ``coalesce=True`` with ``misfire_grace_time``: after a pause (a suspended machine, a long
  run) the missed runs collapse into one run, which still starts if it is late by less than the
  grace time;
* SIGTERM and SIGINT shut the scheduler down with ``wait=True``: a run in progress finishes
  (its report and history row are written) before the process exits.

Each run is idempotent (same config and data: no new history row), so an extra run is harmless.
The HTML report is written by the ``write_report`` the caller injects (the command line passes
:func:`quantlib.reports.stress_report.write_stress_report`; this layer does not import reports).

For production, a systemd timer or cron can replace the long-running process::

    # crontab: every 6 hours, on the hour (UTC machine clock)
    0 */6 * * * cd /srv/quant && .venv/bin/quant stress run --config configs/stress.toml \
        --out reports/stress >> /var/log/quant-stress.log 2>&1

    # /etc/systemd/system/quant-stress.service
    [Service]
    Type=oneshot
    WorkingDirectory=/srv/quant
    ExecStart=/srv/quant/.venv/bin/quant stress run --config configs/stress.toml \
        --out reports/stress

    # /etc/systemd/system/quant-stress.timer
    # (enable with: systemctl enable --now quant-stress.timer)
    [Timer]
    OnCalendar=*-*-* 00/6:00:00 UTC
    Persistent=true
    [Install]
    WantedBy=timers.target

(``Persistent=true`` is systemd's misfire handling: one catch-up run after downtime.)
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from quantlib._typing import PathLike
from quantlib.exceptions import ConfigError

__all__ = ["JOB_ID", "build_scheduler", "make_trigger", "parse_every", "schedule_stress"]

JOB_ID = "stress"
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_every(every: str) -> timedelta:
    """``"6h"`` → 6 hours (units s, m, h, d).

    Examples
    --------
    >>> parse_every("6h"), parse_every("30m")
    (datetime.timedelta(seconds=21600), datetime.timedelta(seconds=1800))
    >>> parse_every("6 hours")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: every must look like 6h, 30m, 1d or 45s, got '6 hours'
    """
    match = _EVERY.match(str(every))
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"every must look like 6h, 30m, 1d or 45s, got {every!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def make_trigger(
    *, every: str | None = None, cron: str | None = None, start: datetime | None = None
) -> Any:
    """An APScheduler trigger (UTC): an interval from ``start`` or a crontab expression.

    Exactly one of ``every`` and ``cron`` must be given.

    Examples
    --------
    >>> start = datetime(2025, 1, 1, tzinfo=UTC)
    >>> make_trigger(every="6h", start=start).get_next_fire_time(None, start).isoformat()
    '2025-01-01T06:00:00+00:00'
    >>> make_trigger(cron="0 */6 * * *").get_next_fire_time(None, start).isoformat()
    '2025-01-01T00:00:00+00:00'
    """
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if (every is None) == (cron is None):
        raise ConfigError(
            f"give exactly one of every and cron, got every={every!r}, cron={cron!r}. Fix: "
            "--every 6h or --cron '0 */6 * * *'"
        )
    if every is not None:
        origin = start or datetime.now(UTC)
        # The first run comes one interval after the start, like cron's next slot.
        return IntervalTrigger(
            seconds=parse_every(every).total_seconds(), start_date=origin + parse_every(every),
            timezone=UTC,
        )  # fmt: skip
    assert cron is not None
    try:
        return CronTrigger.from_crontab(cron, timezone=UTC)
    except ValueError as exc:
        raise ConfigError(
            f"cron {cron!r} is not a 5-field crontab expression ({exc}). Fix: e.g. '0 */6 * * *'"
        ) from None


def build_scheduler(
    job: Callable[[], Any],
    trigger: Any,
    *,
    blocking: bool = True,
    misfire_grace_time: int = 3600,
) -> Any:
    """A Blocking- (or Background-) scheduler with ``job`` on ``trigger``: one instance at a
    time, missed runs coalesced, late runs within ``misfire_grace_time`` seconds still run."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    kind = BlockingScheduler if blocking else BackgroundScheduler
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_time}
    scheduler = kind(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults=defaults,
    )
    scheduler.add_job(
        job,
        trigger,
        id=JOB_ID,
        name="stress run",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=misfire_grace_time,
        replace_existing=True,
    )
    return scheduler


def _install_sigterm(scheduler: Any) -> list[threading.Thread]:
    """Make SIGTERM and SIGINT shut ``scheduler`` down gracefully; returns the list that will
    hold the shutdown thread (so a caller or a test can join it)."""
    stoppers: list[threading.Thread] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Shut down from a helper thread: shutdown(wait=True) joins the running job, and a
        # signal handler must return quickly to the blocking scheduler's main loop.
        if stoppers:
            return
        thread = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        stoppers.append(thread)
        thread.start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stoppers


def schedule_stress(
    config: PathLike,
    out_dir: PathLike,
    *,
    every: str | None = None,
    cron: str | None = None,
    clock: Callable[[], datetime] | None = None,
    blocking: bool = True,
    misfire_grace_time: int = 3600,
    on_result: Callable[[Any], None] | None = None,
    write_report: Callable[[Any, Path], object] | None = None,
) -> Any:
    """Rerun the stress test of the TOML file ``config`` on a schedule, writing into ``out_dir``.

    Parameters
    ----------
    every, cron : str
        ``"6h"`` or a crontab expression in UTC (exactly one).
    clock : callable, optional
        Returns the current aware time (default ``datetime.now(UTC)``); used for the trigger's
        start and the ``now`` of each run (tests pass a fake one).
    blocking : bool, default True
        True: run in the foreground until SIGTERM/SIGINT (the command line). False: start a
        ``BackgroundScheduler`` and return it (the caller shuts it down).
    on_result : callable, optional
        Called with each :class:`~quantlib.stress.run.StressOutcome`.
    write_report : callable, optional
        Passed to each :func:`~quantlib.stress.run.run_stress`: writes the run's HTML report,
        e.g. :func:`quantlib.reports.stress_report.write_stress_report`. Default: none.

    Returns
    -------
    The scheduler (after it has shut down when ``blocking``).
    """
    from quantlib.stress.config import load_spec
    from quantlib.stress.run import run_stress

    load_spec(config)  # fail now, not at the first run, on a bad file
    now_of = clock or (lambda: datetime.now(UTC))
    folder = Path(out_dir)

    def job() -> None:
        # The file is read on each run, so an edited config takes effect at the next one.
        outcome = run_stress(
            load_spec(config), folder, now=pd.Timestamp(now_of()), write_report=write_report
        )
        if on_result is not None:
            on_result(outcome)

    trigger = make_trigger(every=every, cron=cron, start=now_of())
    scheduler = build_scheduler(
        job, trigger, blocking=blocking, misfire_grace_time=misfire_grace_time
    )
    if blocking:
        _install_sigterm(scheduler)
    scheduler.start()
    return scheduler
