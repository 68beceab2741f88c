"""``quant strategy new NAME``: a commented strategy file and its test file, ready to edit.

:func:`write_template` writes ``<strategies folder>/NAME.py`` (a pydantic model with a ``name``
ClassVar, bounded and described parameters, a causal ``signals(bars)`` or ``weights(bars)``,
``warmup_bars()`` and ``engine_defaults()``) and ``<strategies folder>/test_NAME.py`` (a
hand-worked case on a few bars and a truncation check with
:func:`quantlib.testing.assert_no_lookahead`). As written, the strategy passes
``quant strategy check NAME`` and its tests pass under pytest.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from quantlib.config import get_settings
from quantlib.exceptions import ConfigError

__all__ = ["NewStrategy", "class_name", "write_template"]


@dataclass(frozen=True)
class NewStrategy:
    """The two files :func:`write_template` wrote."""

    name: str
    kind: str
    strategy_file: Path
    test_file: Path


def class_name(name: str) -> str:
    """The class name of a strategy name: ``"my_momentum"`` → ``"MyMomentum"``.

    Examples
    --------
    >>> class_name("my_momentum2")
    'MyMomentum2'
    """
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _check_name(name: str) -> None:
    from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES
    from quantlib.strategy.registry import STRATEGIES

    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ConfigError(
            f"strategy name {name!r} is not a Python identifier. Fix: letters, digits and "
            "underscores, not starting with a digit (e.g. my_momentum)"
        )
    if name.startswith(("_", "test_")) or name != name.lower():
        raise ConfigError(
            f"strategy name {name!r}: use lower case, not starting with '_' or 'test_' (files "
            "named so are helpers and tests, never read as strategies). Fix: e.g. my_momentum"
        )
    for registry, what in ((STRATEGIES, "signal"), (PORTFOLIO_STRATEGIES, "portfolio")):
        if name in registry:
            try:
                where = registry.source(name).label
            except ConfigError as exc:
                where = str(exc)
            raise ConfigError(
                f"strategy name {name!r} is taken by a {what} strategy: {where}. Fix: pick "
                "another name"
            )


def write_template(
    name: str, *, portfolio: bool = False, folder: Path | None = None
) -> NewStrategy:
    """Write the template strategy ``name`` and its test file into ``folder`` (default: the
    user's strategies folder, ``$QUANT_HOME/strategies``).

    Raises
    ------
    ConfigError
        If ``name`` is not a lower-case Python identifier, starts with ``_`` or ``test_``, is
        the name of a strategy already (built-in, a user file, a package), or if either file
        exists (never overwritten).
    """
    _check_name(name)
    folder = folder or get_settings().strategies_dir
    kind = "portfolio" if portfolio else "signals"
    strategy_file, test_file = folder / f"{name}.py", folder / f"test_{name}.py"
    for path in (strategy_file, test_file):
        if path.exists():
            raise ConfigError(
                f"{path} exists; `quant strategy new` never overwrites a file. Fix: pick another "
                "name, or move the file away"
            )
    values = {"name": name, "cls": class_name(name)}
    texts = {
        path: Template(_template(f"{kind}_{role}.py.tmpl")).substitute(values)
        for path, role in ((strategy_file, "strategy"), (test_file, "test"))
    }
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        with path.open("x", encoding="utf-8") as handle:  # "x": fails rather than overwrite
            handle.write(text)
    return NewStrategy(name, kind, strategy_file, test_file)


def _template(file: str) -> str:
    return resources.files("quantlib.strategy").joinpath("templates", file).read_text("utf-8")
