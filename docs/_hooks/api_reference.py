"""MkDocs hook: the API reference pages, one per public package, generated from ``__all__``.

A package's ``__all__`` is its public API, but mkdocstrings cannot always read it from the
package alone: some names are served lazily (``quantlib.stress``: PEP 562 ``__getattr__``), and
some functions share their name with the submodule that defines them (``quantlib.zones.levels``
is both). So each page is written here, on every build: the package's docstring, then one
section per defining submodule rendering exactly the names of ``__all__`` it defines. Names
that a package serves for old imports from another package (``quantlib.backtest.sweep``) link
to their home instead of being documented twice. Packages without ``__all__``
(``quantlib.research``, ``quantlib.live``) get one section per submodule that has one.

``api_pages()`` is also what tests/docs/ checks; every page is ``reference/api/<package>.md``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from typing import Any

PACKAGES = (
    "data",
    "zones",
    "smc",
    "confluence",
    "indicators",
    "strategy",
    "backtest",
    "research",
    "analytics",
    "risk",
    "models",
    "portfolio",
    "allocation",
    "stress",
    "live",
    "reports",
    "testing",
)

_SECTION = """::: {module}
    options:
      show_root_heading: true
      heading_level: 2
{members}"""


def _griffe_root() -> Any:
    import griffe

    return griffe.load("quantlib", search_paths=["."], resolve_aliases=True, resolve_external=False)


def _griffe_module(root: Any, module: str) -> Any:
    return root if module == "quantlib" else root[module.removeprefix("quantlib.")]


def defining_module(package: str, name: str, root: Any) -> str:
    """The module whose source defines ``package.name`` (following re-exports and the names a
    package serves lazily through its ``__getattr__``)."""
    pkg = importlib.import_module(package)
    obj = getattr(pkg, name)
    if inspect.ismodule(obj) and obj.__name__ == f"{package}.{name}":
        # A lazily served function named like its submodule: once that submodule is imported,
        # the package attribute is the module; the name in __all__ means its function.
        obj = getattr(obj, name)
    if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__name__", "") == name:
        return str(obj.__module__)
    member = _griffe_module(root, package).members.get(name)
    if member is not None and member.is_alias:
        try:
            return str(member.final_target.parent.path)
        except Exception:  # a re-export griffe cannot follow: found below
            pass
    elif member is not None and not member.is_module:
        return package
    # Served lazily: the loaded module that holds this very object and defines it in its source.
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("quantlib.") or vars(module).get(name) is not obj:
            continue
        source = _griffe_module(root, module_name).members.get(name)
        if source is not None and not source.is_alias and not source.is_module:
            return module_name
    raise LookupError(f"cannot find where {package}.{name} is defined")


def _members(names: list[str]) -> str:
    return "      members:\n" + "".join(f"        - {n}\n" for n in names)


def _plan(short: str, root: Any) -> tuple[dict[str, list[str] | None], list[tuple[str, str]]]:
    """The sections of a package's page (defining module -> names, ``None``: its whole
    ``__all__``) and the names it serves from another package (name, defining module)."""
    package = f"quantlib.{short}"
    pkg = importlib.import_module(package)
    names: list[str] | None = getattr(pkg, "__all__", None)
    groups: dict[str, list[str] | None] = {}
    if names is None:
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            module = f"{package}.{info.name}"
            if info.name.startswith("_") or info.ispkg:
                continue
            if getattr(importlib.import_module(module), "__all__", None) is not None:
                groups[module] = None
        return groups, []
    elsewhere: list[tuple[str, str]] = []
    for name in names:
        module = defining_module(package, name, root)
        if module == package or module.startswith(package + "."):
            group = groups.setdefault(module, [])
            assert group is not None
            group.append(name)
        else:
            elsewhere.append((name, module))
    return groups, elsewhere


def _documented(plans: dict[str, tuple[dict[str, list[str] | None], Any]]) -> set[str]:
    paths: set[str] = set()
    for groups, _ in plans.values():
        for module, names in groups.items():
            members = importlib.import_module(module).__all__ if names is None else names
            paths.update(f"{module}.{name}" for name in members)
    return paths


def package_page(
    short: str,
    groups: dict[str, list[str] | None],
    elsewhere: list[tuple[str, str]],
    documented: set[str],
) -> str:
    """The Markdown of ``reference/api/<short>.md``."""
    package = f"quantlib.{short}"
    parts = [f"# {package}\n", f"::: {package}\n    options:\n      members: false\n"]
    if not hasattr(importlib.import_module(package), "__all__"):
        parts.append(
            f"`{package}` has no package-level names: import from its submodules "
            f"(`from {package}.SUBMODULE import NAME`). Each section below is one submodule "
            "and the names of its `__all__`.\n"
        )
    # A name from another package is documented here unless its home page documents it.
    groups = {
        module: list(names) if names is not None else None for module, names in groups.items()
    }
    links = []
    for name, module in elsewhere:
        if f"{module}.{name}" in documented:
            links.append((name, module))
        else:
            group = groups.setdefault(module, [])
            assert group is not None
            group.append(name)
    for module in sorted(groups):
        names = groups[module]
        members = "" if names is None else _members(names)
        parts.append(_SECTION.format(module=module, members=members))
    if links:
        lines = "".join(
            f"- `{package}.{name}`: [`{module}.{name}`][{module}.{name}]\n"
            for name, module in links
        )
        parts.append(
            f"## Served here for old imports\n\nThese names moved out of `{package}`; "
            f"importing them from it still works and gives the same object:\n\n{lines}"
        )
    return "\n".join(parts)


def api_pages() -> dict[str, str]:
    """Every generated page, by its path under docs/."""
    root = _griffe_root()
    plans = {short: _plan(short, root) for short in PACKAGES}
    documented = _documented(plans)
    return {
        f"reference/api/{short}.md": package_page(short, *plans[short], documented)
        for short in PACKAGES
    }


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site's files (before the nav is built from them)."""
    from mkdocs.structure.files import File

    for path, content in api_pages().items():
        files.append(File.generated(config, path, content=content))
    return files
