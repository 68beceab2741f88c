"""The catalog of strategy classes outside the package: the user's files in
``$QUANT_HOME/strategies/`` and installed packages' ``quantlib.strategies`` entry points (see
:mod:`quantlib.strategy.user` for what makes a class a strategy and how files are read)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from quantlib.config import get_settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "USER_PACKAGE",
    "StrategySource",
    "UserCatalog",
    "user_catalog",
]

Kind = Literal["signals", "weights"]
Origin = Literal["built-in", "user", "package"]

USER_PACKAGE = "quant_user_strategies"
"""The package the user's strategy files are executed in (``quant_user_strategies.<stem>``)."""

ENTRY_POINT_GROUP = "quantlib.strategies"
"""The entry-point group through which installed packages add strategies."""

RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class StrategySource:
    """Where a strategy class comes from."""

    name: str
    cls: type[BaseModel]
    kind: Kind
    origin: Origin
    location: str
    """The file path (user), ``module:attribute`` (built-in) or entry point (package)."""
    path: Path | None = None
    """The file that defines it (user strategies; package ones when the module has a file)."""
    sha256: str | None = None
    """The sha256 of that file's bytes, as executed (None for built-ins)."""

    @property
    def label(self) -> str:
        """One line saying where the strategy comes from."""
        if self.origin == "built-in":
            return f"built-in ({self.location})"
        if self.origin == "user":
            return f"user file {self.location}"
        return f"package {self.location}"


@dataclass
class _File:
    """One strategy file as last read."""

    path: Path
    stat_key: tuple[int, int, int]
    sha256: str
    sources: list[StrategySource] = field(default_factory=list)
    error: str | None = None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stat_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _strategy_classes(
    namespace: dict[str, Any], module: str
) -> Iterator[tuple[type[BaseModel], Kind]]:
    """The strategy classes defined in ``module`` (not the ones it imported)."""
    for obj in list(namespace.values()):
        if not (isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel):
            continue
        if obj.__module__ != module or "name" in obj.model_fields:
            continue
        if not isinstance(getattr(obj, "name", None), str):
            continue
        if callable(getattr(obj, "signals", None)):
            yield obj, "signals"
        if callable(getattr(obj, "weights", None)):
            yield obj, "weights"


def _user_package(folder: Path) -> types.ModuleType:
    """The ``quant_user_strategies`` package, its ``__path__`` the strategies folder (so that a
    strategy file can import a helper beside it with ``from . import _helpers``)."""
    package = sys.modules.get(USER_PACKAGE)
    if package is None:
        package = types.ModuleType(USER_PACKAGE, "The user's strategy files.")
        sys.modules[USER_PACKAGE] = package
    package.__path__ = [str(folder)]
    return package


def _execute(path: Path, source: bytes, folder: Path) -> types.ModuleType:
    """Execute ``source`` (the bytes of ``path``) as ``quant_user_strategies.<stem>``."""
    _user_package(folder)
    name = f"{USER_PACKAGE}.{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = USER_PACKAGE
    previous = sys.modules.get(name)
    sys.modules[name] = module  # pydantic resolves the annotations through sys.modules
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return module


def _describe(exc: BaseException, path: Path) -> str:
    """``exc`` as one line naming the file and line where it happened."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None and exc.__traceback__ is not None:
        for frame in reversed(inspect.getinnerframes(exc.__traceback__)):
            if frame.filename == str(path):
                line = frame.lineno
                break
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {type(exc).__name__}: {exc}"


class UserCatalog:
    """The strategies of one folder and of the installed packages, read again when they change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[Path, _File] = {}
        self._packages: list[StrategySource] | None = None
        self._package_errors: list[str] = []
        self._lock = threading.RLock()

    def refresh(self) -> UserCatalog:
        """Read new and changed files, forget deleted ones; returns itself."""
        with self._lock:
            paths = (
                sorted(
                    p
                    for p in self.folder.glob("*.py")
                    if not p.name.startswith(("_", "test_", ".")) and p.is_file()
                )
                if self.folder.is_dir()
                else []
            )
            for gone in set(self._files) - set(paths):
                sys.modules.pop(f"{USER_PACKAGE}.{gone.stem}", None)
                del self._files[gone]
            for path in paths:
                self._read(path)
        return self

    def _read(self, path: Path) -> None:
        try:
            key = _stat_key(path)
        except OSError:
            self._files.pop(path, None)
            return
        known = self._files.get(path)
        # A file modified within the last two seconds is hashed even when its stat looks the
        # same: a second write inside one tick of the file system's clock keeps mtime and
        # (for an edit of equal length) size (git's "racy" index entries, same remedy).
        racy = time.time_ns() - key[0] < RACY_NS
        if known is not None and known.stat_key == key and not racy:
            return
        try:
            source = path.read_bytes()
        except OSError as exc:
            self._files[path] = _File(path, key, "", error=f"{path}: cannot read it: {exc}")
            return
        digest = _sha256(source)
        if known is not None and known.sha256 == digest and known.error is None:
            known.stat_key = key
            return
        entry = _File(path, key, digest)
        try:
            module = _execute(path, source, self.folder)
        except Exception as exc:
            entry.error = _describe(exc, path)
        else:
            entry.sources = [
                StrategySource(
                    name=cls.name,  # type: ignore[attr-defined]
                    cls=cls,
                    kind=kind,
                    origin="user",
                    location=str(path),
                    path=path,
                    sha256=digest,
                )
                for cls, kind in _strategy_classes(module.__dict__, module.__name__)
            ]
        self._files[path] = entry

    def _package_sources(self) -> list[StrategySource]:
        """The installed packages' strategies (read once per process: installing a package
        needs a restart anyway)."""
        if self._packages is not None:
            return self._packages
        sources: list[StrategySource] = []
        errors: list[str] = []
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = point.dist
            where = f"{point.value} ({dist.name} {dist.version})" if dist else point.value
            try:
                obj = point.load()
            except Exception as exc:
                errors.append(f"entry point {point.name} = {where}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(obj, types.ModuleType):
                found = list(_strategy_classes(vars(obj), obj.__name__))
            else:
                found = list(_strategy_classes({"cls": obj}, getattr(obj, "__module__", "")))
            if not found:
                errors.append(
                    f"entry point {point.name} = {where}: no strategy class there (a pydantic "
                    "model with a name ClassVar and a signals or weights method)"
                )
            for cls, kind in found:
                file = inspect.getsourcefile(cls)
                path = Path(file) if file else None
                digest = _sha256(path.read_bytes()) if path and path.is_file() else None
                sources.append(
                    StrategySource(cls.name, cls, kind, "package", where, path, digest)  # type: ignore[attr-defined]
                )
        self._packages, self._package_errors = sources, errors
        return sources

    def sources(self, kind: Kind) -> list[StrategySource]:
        """Every user and package strategy of ``kind`` (clashing names included, in file order)."""
        found = [s for f in self._files.values() for s in f.sources if s.kind == kind]
        return found + [s for s in self._package_sources() if s.kind == kind]

    def errors(self) -> list[str]:
        """One line per strategy file or entry point that failed to load."""
        self._package_sources()
        return [f.error for f in self._files.values() if f.error] + list(self._package_errors)


_CATALOGS: dict[Path, UserCatalog] = {}
_CATALOGS_LOCK = threading.Lock()


def user_catalog(folder: Path | None = None) -> UserCatalog:
    """The catalog of ``folder`` (default: ``Settings.strategies_dir``), refreshed now."""
    folder = (folder or get_settings().strategies_dir).resolve()
    with _CATALOGS_LOCK:
        catalog = _CATALOGS.setdefault(folder, UserCatalog(folder))
    return catalog.refresh()
