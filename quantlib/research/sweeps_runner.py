"""Where the research workflows run their tasks: a Dask scheduler resolved for one ``with``
block (:func:`task_runner`). Sweeps, walk-forward tests, random-entry baselines and Monte
Carlo stress paths all run through it.

Schedulers (``scheduler=``):

* ``None``: the Dask scheduler at ``QUANT_DASK_SCHEDULER`` if it is set, else ``"threads"``;
* ``"threads"``: a local thread pool in this process (the numba event loop releases the GIL);
* ``"processes"``: a local process pool; ``"sync"``: one thread, for debugging;
* ``"distributed"``: a temporary ``dask.distributed.LocalCluster``, closed afterwards;
* an address (``"tcp://host:8786"``) or a ``distributed.Client``: that cluster.

Part of :mod:`quantlib.research.sweeps`, which re-exports :class:`TaskRunner` and
:func:`task_runner`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dask.base import compute as dask_compute

from quantlib._validation import check_choice
from quantlib.config import get_settings
from quantlib.exceptions import ConfigError

if TYPE_CHECKING:
    from dask.delayed import Delayed

__all__ = ["TaskRunner", "task_runner"]

_LOCAL_SCHEDULERS = ("threads", "processes", "sync")
_SCHEDULERS = (*_LOCAL_SCHEDULERS, "distributed")
# A progress bar only for computations that take longer than this (seconds).
_PROGRESS_AFTER = 1.0
# How long to keep trying to reach a scheduler at an address.
_CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class TaskRunner:
    """A resolved Dask scheduler: ``compute(tasks)`` runs delayed tasks, ``workers`` is the
    number of tasks it runs at once (used to size batches), ``name`` says which it is."""

    name: str
    workers: int
    compute: Callable[[Sequence[Delayed]], list[Any]] = field(repr=False)


@contextmanager
def task_runner(scheduler: object = None, *, progress: bool = True) -> Iterator[TaskRunner]:
    """Resolve ``scheduler`` (see the module docstring) for the length of a ``with`` block.

    A cluster or client opened here (``"distributed"``, an address) is closed when the block
    ends; a ``Client`` passed in is left open. With ``progress``, a progress bar is printed
    for computations that last more than a second (``dask.diagnostics.ProgressBar``, or
    ``distributed.progress`` on a cluster).

    Raises
    ------
    ConfigError
        If ``scheduler`` is none of the accepted values (with the closest name).

    Examples
    --------
    >>> from dask.delayed import delayed
    >>> with task_runner("sync", progress=False) as runner:
    ...     runner.compute([delayed(sum)([1, 2])])
    [3]
    """
    if scheduler is None:
        scheduler = get_settings().dask_scheduler or "threads"
    if isinstance(scheduler, str) and scheduler in _LOCAL_SCHEDULERS:
        name = scheduler
        workers = 1 if name == "sync" else os.cpu_count() or 1

        def local(tasks: Sequence[Delayed]) -> list[Any]:
            if not tasks:
                return []
            bar: Any = nullcontext()
            if progress:
                from dask.diagnostics.progress import ProgressBar

                bar = ProgressBar(minimum=_PROGRESS_AFTER)  # type: ignore[no-untyped-call]
            with bar:
                return list(dask_compute(*tasks, scheduler=name))  # type: ignore[no-untyped-call]

        yield TaskRunner(name, workers, local)
        return

    from distributed import Client, LocalCluster
    from distributed import progress as show_progress

    # distributed has no type hints: its objects are handled as Any.
    cluster: Any = None
    client: Any
    if isinstance(scheduler, Client):
        client, owned = scheduler, False
    elif scheduler == "distributed":
        cluster = LocalCluster(processes=True, dashboard_address=None)  # type: ignore[no-untyped-call]
        client, owned = Client(cluster), True  # type: ignore[no-untyped-call]
    elif isinstance(scheduler, str) and "://" in scheduler:
        try:
            client, owned = Client(scheduler, timeout=_CONNECT_TIMEOUT), True  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}). Fix: start it, "
                "correct QUANT_DASK_SCHEDULER, or pass scheduler='threads'"
            ) from exc
    else:
        check_choice("scheduler", scheduler, [*_SCHEDULERS, "tcp://host:port"])
        raise AssertionError("unreachable")  # pragma: no cover

    def remote(tasks: Sequence[Delayed]) -> list[Any]:
        if not tasks:
            return []
        futures = client.compute(list(tasks))
        if progress:
            show_progress(futures)  # type: ignore[no-untyped-call]
        return list(client.gather(futures))

    try:
        workers = max(sum(client.nthreads().values()), 1)
        yield TaskRunner(f"distributed {client.scheduler.address}", workers, remote)
    finally:
        if owned:
            client.close()
        if cluster is not None:
            cluster.close()
