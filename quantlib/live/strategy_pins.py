"""The live engine pins the code of every strategy it runs: the bytes of its file at start.

A ``[[strategy]]`` entry names a built-in strategy, one of the user's files
(``$QUANT_HOME/strategies``) or an installed package's (:mod:`quantlib.strategy.user`). At start
:func:`pin_strategies` reads where each comes from once (the class and the sha256 of the bytes it
was executed from, :func:`~quantlib.strategy.user.strategy_source`) and keeps that class for the
whole run: the engine never reloads, also when the registry re-reads an edited file. It refuses,
before anything starts, with one :class:`~quantlib.exceptions.ConfigError` naming the file, what
is wrong and the fix:

* a file writable by others (``o+w``), or one in a folder writable by others without the sticky
  bit (the folder and each one above it): anyone on the host could change the code that trades;
* a file whose sha256 is not the ``sha256 = "..."`` pin of its ``[[strategy]]`` table;
* a user or package strategy without a passing ``quant strategy check`` of its current source
  in ``mode = "live"`` (real money); ``mode = "paper"`` runs it with a warning, recorded in the
  journal;
* (:func:`check_resume`) a file that changed since the previous run of the same journal recorded
  the slot's hash, unless the operator accepts the new hash: the **config pin** equal to the new
  hash accepts it. A pin, not a command-line flag, because it names the exact bytes accepted, per
  strategy, and stays in the reviewed configuration; a flag would accept whatever the files hold.

:func:`record_pins` stores each slot's record (:class:`~quantlib.live.status.PinnedSource`) under
``strategy.<name>.source`` and appends a ``strategy.pinned`` audit row. While running,
:class:`PinWatch` notices a pinned file changing on disk: the engine keeps running the pinned
code, alerts once (``strategy_changed``) and audits it (``strategy.file_changed``).

Every string that reaches the journal, the audit log, an alert or an error passes
:func:`~quantlib.live.redact.redact`, as log lines do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.config import LiveConfig, StrategyEntry
from quantlib.live.journal import Journal
from quantlib.live.redact import redact
from quantlib.live.status import K, PinnedSource
from quantlib.strategy.base import Strategy
from quantlib.strategy.registry import make_strategy
from quantlib.strategy.user import CheckStatus, StrategySource, check_status, strategy_source

__all__ = [
    "PinWatch",
    "StrategyPin",
    "check_resume",
    "file_problems",
    "pin_strategies",
    "record_pins",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyPin:
    """One ``[[strategy]]`` entry's code, as pinned at start."""

    slot: str
    """The entry's ``name``."""
    source: StrategySource
    """The class and the sha256 of the bytes it was executed from (None for a built-in)."""
    check: CheckStatus
    accept: str | None = None
    """The entry's ``sha256`` pin, if any."""

    @property
    def where(self) -> str:
        return f"strategy {self.slot!r} ({self.source.name}, {self.source.label})"

    def record(self, disk: str = "as pinned", disk_sha256: str | None = None) -> PinnedSource:
        label = self.check.label.removeprefix(f"{self.source.name}: ")
        return PinnedSource(
            strategy=self.source.name,
            origin=self.source.origin,
            location=self.source.location,
            path=None if self.source.path is None else str(self.source.path),
            sha256=self.source.sha256,
            check=self.check.state,
            check_label="" if self.check.state == "built-in" else label,
            disk=disk,
            disk_sha256=disk_sha256,
        )

    def build(self, params: Mapping[str, Any]) -> Strategy:
        """The strategy with ``params``, an instance of the pinned class (parameters checked as
        :func:`~quantlib.strategy.registry.make_strategy` does)."""
        strategy = make_strategy(self.source.name, params)
        cls: type = type(strategy)
        if cls is not self.source.cls:
            raise ConfigError(
                redact(
                    f"{self.where}: the file changed while the engine was starting (pinned "
                    f"sha256 {self.source.sha256}); nothing ran. Fix: start the engine again"
                )
            )
        return strategy


def file_problems(path: Path) -> list[str]:
    """What makes ``path`` unsafe to pin: writable by others, or in a folder (it or one above)
    writable by others without the sticky bit. Empty where POSIX modes do not apply."""
    if os.name != "posix":
        return []
    problems = []
    mode = path.stat().st_mode
    if mode & stat.S_IWOTH:
        problems.append(
            f"strategy file {path} is writable by others (mode {stat.S_IMODE(mode):04o}): "
            "anyone on this host could change the code the engine trades with. "
            f"Fix: chmod o-w {path}"
        )
    folders = dict.fromkeys([*path.absolute().parents, *path.resolve().parents])  # symlinks
    for folder in folders:
        mode = folder.stat().st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            problems.append(
                f"strategy file {path} sits in folder {folder}, writable by others without the "
                f"sticky bit (mode {stat.S_IMODE(mode):04o}): anyone could replace the file. "
                f"Fix: chmod o-w {folder} (or chmod +t {folder})"
            )
    return problems


def _pin(entry: StrategyEntry, mode: str) -> tuple[StrategyPin, list[str]]:
    source = strategy_source(entry.strategy, "signals")
    if source.origin == "built-in":
        pin = StrategyPin(entry.name, source, CheckStatus(source.name, "built-in"))
        if entry.sha256 is not None:
            return pin, [
                f"{pin.where} is built in: it has no file to pin. Fix: remove sha256 from "
                f"the [[strategy]] table named {entry.name!r}"
            ]
        return pin, []
    check = check_status(source.name, "signals")
    if check.sha256 != source.sha256:  # the file changed between the two reads
        check = CheckStatus(source.name, "unchecked", source.sha256)
    pin = StrategyPin(entry.name, source, check, entry.sha256)
    problems = [] if source.path is None else file_problems(source.path)
    if entry.sha256 is not None and entry.sha256 != source.sha256:
        problems.append(
            f"{pin.where} has sha256 {source.sha256}, but its [[strategy]] table pins "
            f"sha256 = {entry.sha256!r}. Fix: review the file's change; if it is yours, set "
            f'sha256 = "{source.sha256}" in that table, else restore the file'
        )
    if not check.trusted:
        if mode == "live":
            problems.append(
                f'{pin.where} is {check.state}: mode = "live" trades real money only with '
                f"strategies whose current source passed their check. Fix: run `quant strategy "
                f'check {source.name}` (and fix what it finds), or trade it in mode = "paper"'
            )
        else:
            log.warning(
                "%s",
                redact(f"{pin.where} is {check.state}; paper trading it anyway ({check.label})"),
            )
    return pin, problems


def pin_strategies(config: LiveConfig) -> list[StrategyPin]:
    """The pinned code of each of ``config``'s strategies (see the module docstring); every
    problem of every entry in one :class:`~quantlib.exceptions.ConfigError`."""
    pins, problems = [], []
    for entry in config.strategy:
        pin, found = _pin(entry, config.mode)
        pins.append(pin)
        problems.extend(found)
    if problems:
        raise ConfigError(redact("refusing to start: " + "; ".join(problems)))
    return pins


def check_resume(pins: Sequence[StrategyPin], journal: Journal) -> list[tuple[StrategyPin, str]]:
    """Refuse a file that changed since this journal's last run recorded the slot's hash, unless
    the slot's config pin accepts the new hash; the accepted changes as ``(pin, old sha256)``.
    Reads only: a refusal leaves the journal as it was."""
    accepted, problems = [], []
    for pin in pins:
        new = pin.source.sha256
        previous = PinnedSource.from_json(journal.get_state(K.strategy_source(pin.slot)))
        if previous is None or previous.strategy != pin.source.name:
            continue  # a new slot, or the configuration now names another strategy
        if not previous.sha256 or not new or previous.sha256 == new:
            continue
        if pin.accept == new:
            accepted.append((pin, previous.sha256))
            continue
        problems.append(
            f"{pin.where} changed since this journal's last run: that run pinned sha256 "
            f"{previous.sha256[:12]}, the file now has {new[:12]}. Fix: review the change, "
            f'then accept it with sha256 = "{new}" in the [[strategy]] table named '
            f"{pin.slot!r} (or restore the file)"
        )
    if problems:
        raise ConfigError(redact("refusing to start: " + "; ".join(problems)))
    return accepted


def record_pins(
    journal: Journal, pins: Sequence[StrategyPin], accepted: Sequence[tuple[StrategyPin, str]]
) -> None:
    """Store each slot's record (``strategy.<name>.source``) with a ``strategy.pinned`` audit
    row, and a ``strategy.change_accepted`` row for each change the config pin accepted."""
    for pin, old in accepted:
        journal.audit(
            "engine",
            "strategy.change_accepted",
            {
                "slot": pin.slot,
                "strategy": pin.source.name,
                "path": str(pin.source.path),
                "from": old,
                "to": pin.source.sha256,
                "by": "the sha256 pin of its [[strategy]] table",
            },
        )
    for pin in pins:
        record = pin.record()
        journal.set_state(K.strategy_source(pin.slot), record.to_json())
        detail: dict[str, Any] = {
            "slot": pin.slot,
            "strategy": record.strategy,
            "origin": record.origin,
            "path": record.path,
            "location": record.location,
            "sha256": record.sha256,
            "check": record.check,
        }
        if not pin.check.trusted:
            detail["warning"] = f"{record.check}: paper only; {record.check_label}"
        journal.audit("engine", "strategy.pinned", detail)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


_UNSEEN = object()


class PinWatch:
    """Notices a pinned file changing on disk while the engine runs (:meth:`check`, cheap: one
    ``stat`` per file, a hash only when the stat changed). The engine keeps the pinned code;
    the first change of a file is alerted and audited once, and its slots' records say so.
    A file back to its pinned bytes is noted, and a later change alerts again."""

    def __init__(
        self,
        pins: Sequence[StrategyPin],
        journal: Journal,
        send: Callable[[Alert], None],
        clock: Callable[[], int],
    ) -> None:
        self.journal, self.send, self.clock = journal, send, clock
        self._files: dict[Path, list[StrategyPin]] = {}
        for pin in pins:
            if pin.source.path is not None and pin.source.sha256 is not None:
                self._files.setdefault(pin.source.path, []).append(pin)
        self._seen: dict[Path, object] = {}
        self._changed: set[Path] = set()

    def check(self) -> None:
        for path, pins in self._files.items():
            try:
                st = path.stat()
                key: object = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                key = None
            if self._seen.get(path, _UNSEEN) == key:
                continue
            self._seen[path] = key
            now = None if key is None else _digest(path)
            pinned = pins[0].source.sha256
            if now == pinned:
                if path in self._changed:
                    self._changed.discard(path)
                    log.warning("%s", redact(f"strategy file {path} holds its pinned bytes again"))
                    self._store(pins, "as pinned", None)
                continue
            self._store(pins, "changed" if now else "missing", now)
            if path not in self._changed:
                self._changed.add(path)
                self._report(path, pins, now)

    def _store(self, pins: Sequence[StrategyPin], disk: str, sha: str | None) -> None:
        for pin in pins:
            record = pin.record(disk, sha)
            self.journal.set_state(K.strategy_source(pin.slot), record.to_json())

    def _report(self, path: Path, pins: Sequence[StrategyPin], now: str | None) -> None:
        pinned = pins[0].source.sha256 or ""
        what = "changed on disk" if now else "is gone from disk"
        accept = f' (sha256 = "{now}" in its [[strategy]] table)' if now else ""
        message = (
            f"strategy file {path} {what}; the engine runs the pinned version {pinned[:12]}; "
            f"a restart refuses the new file unless accepted{accept}"
        )
        log.warning("%s", redact(message))
        self.journal.audit(
            "engine",
            "strategy.file_changed",
            {
                "path": str(path),
                "slots": [p.slot for p in pins],
                "pinned": pinned,
                "on_disk": now,
                "message": message,
            },
        )
        details = {"path": str(path), "pinned": pinned, "on_disk": now}
        self.send(Alert(AlertKind.STRATEGY_CHANGED, message, self.clock(), details))
