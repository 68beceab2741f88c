"""One summary type for every result object (the result protocol).

Every result object in ``quantlib`` (a backtest, a walk-forward, a volatility or regime fit, a
stress scenario, a trained model, a VaR backtest...) has a ``summary()`` method that returns a
:class:`Summary`, as ``arch`` and ``statsmodels`` results do:

* ``str(summary)`` is a readable text block: a heading, one aligned ``name  value`` line per
  headline figure, then any tables and notes;
* ``summary.to_dict()`` gives the headline figures as a plain dict (JSON-ready for numbers);
* ``summary.to_frame()`` gives them as a one-column frame (index ``metric``, column ``value``);
* ``summary["sharpe"]``, ``summary.keys()``, ``summary.items()`` read single figures.

Concrete summaries are frozen dataclasses: :class:`ResultSummary` for most results, and
richer ones (such as :class:`quantlib.analytics.summary.PerformanceSummary`) that subclass
:class:`Summary` and keep typed attributes of their own.

>>> s = ResultSummary("Example", {"sharpe": 1.25, "n_trades": 12})
>>> s["sharpe"]
1.25
>>> print(s)
Example
sharpe                                    1.25
n_trades                                    12
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = [
    "UNBUILT",
    "BuiltOnAccess",
    "FrameSource",
    "FramesOnAccess",
    "ResultSummary",
    "Summary",
    "format_value",
]

_NAME_WIDTH = 32
_VALUE_WIDTH = 14


def format_value(value: Any) -> str:
    """How a figure is shown in ``str(summary)``: integers as they are, floats to 6 significant
    digits, ``None`` as an empty cell, anything else with ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(number) if math.isnan(number) or math.isinf(number) else f"{number:.6g}"
    return str(value)


class Summary(ABC):
    """What every ``summary()`` returns: headline figures with a heading, tables and notes.

    Subclasses provide :meth:`heading` and :meth:`to_dict`; they may add :meth:`tables` (named
    frames printed below the figures, e.g. parameter estimates) and :meth:`notes` (lines printed
    last: what was assumed, what is in or out of sample).
    """

    @abstractmethod
    def heading(self) -> str:
        """The first line of the text block: what was summarised, over which period."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The headline figures, name to value, in display order."""

    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Named tables shown below the figures (none by default)."""
        return MappingProxyType({})

    def notes(self) -> tuple[str, ...]:
        """Lines shown last (none by default)."""
        return ()

    def to_frame(self) -> pd.DataFrame:
        """:meth:`to_dict` as a one-column frame (index ``metric``, column ``value``)."""
        items = self.to_dict()
        return pd.DataFrame({"value": pd.Series(list(items.values()), dtype=object)}).set_axis(
            pd.Index(list(items), name="metric")
        )

    def __str__(self) -> str:
        lines = [self.heading()]
        for key, value in self.to_dict().items():
            lines.append(f"{key:<{_NAME_WIDTH}}{format_value(value):>{_VALUE_WIDTH}}")
        for name, table in self.tables().items():
            lines.append("")
            if name:
                lines.append(name)
            lines.append(table.to_string(float_format=lambda x: f"{x:.4f}"))
        lines.extend(self.notes())
        return "\n".join(lines)

    def __getitem__(self, key: str) -> Any:
        figures = self.to_dict()
        if key not in figures:
            raise KeyError(f"{key!r} is not a figure of this summary; it has {list(figures)}")
        return figures[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def keys(self) -> list[str]:
        """The figures' names, in display order."""
        return list(self.to_dict())

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` pairs, in display order."""
        return list(self.to_dict().items())

    def get(self, key: str, default: Any = None) -> Any:
        """A figure, or ``default`` when this summary has no figure of that name."""
        return self.to_dict().get(key, default)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython / marimo display
        printer.text(str(self))


@dataclass(frozen=True, eq=False)
class ResultSummary(Summary):
    """A summary built from its parts: a title, the figures, optional tables and notes.

    Figures are also readable as attributes (``summary.sharpe``) when their names are valid
    identifiers that do not clash with a method.
    """

    title: str
    figures: Mapping[str, Any]
    named_tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    remarks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", MappingProxyType(dict(self.figures)))
        object.__setattr__(self, "named_tables", MappingProxyType(dict(self.named_tables)))
        object.__setattr__(self, "remarks", tuple(self.remarks))

    def heading(self) -> str:
        return self.title

    def to_dict(self) -> dict[str, Any]:
        return dict(self.figures)

    def tables(self) -> Mapping[str, pd.DataFrame]:
        return self.named_tables

    def notes(self) -> tuple[str, ...]:
        return self.remarks

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("figures", "named_tables", "remarks", "title"):
            raise AttributeError(name)
        figures = self.__dict__.get("figures", {})
        if name in figures:
            return figures[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or figure {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResultSummary):
            return NotImplemented
        return (
            self.title == other.title
            and self.to_dict() == other.to_dict()
            and self.remarks == other.remarks
            and list(self.named_tables) == list(other.named_tables)
            and all(self.named_tables[k].equals(other.named_tables[k]) for k in self.named_tables)
        )

    __hash__ = None  # type: ignore[assignment]


# --- results whose frames are built on first access -------------------------------------------


class FrameSource(Protocol):
    """What a result builds its frames from on first access (an engine's raw arrays)."""

    def frame(self, name: str) -> Any:
        """The result's frame ``name``."""
        ...


class _Unbuilt:
    """The value of a result frame not built yet (one instance; pickles as itself)."""

    _instance: _Unbuilt | None = None

    def __new__(cls) -> _Unbuilt:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> str:
        return "UNBUILT"

    def __repr__(self) -> str:
        return "<built on first access>"


UNBUILT = _Unbuilt()


class BuiltOnAccess:
    """A frame field of a frozen result dataclass whose default is built from the result's
    ``source`` (a :class:`FrameSource`) on first access, then kept; a field given a value keeps
    that value.

    A data descriptor: the dataclass ``__init__`` stores what it is given (or ``UNBUILT``)
    through :meth:`__set__`, and :meth:`__get__` builds an ``UNBUILT`` value, so the field
    reads like the plain attribute it was and ``dataclasses.replace`` still takes frames. A run
    that needs only a number (a final equity, a count) builds no frame.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return UNBUILT  # the field's default
        value = obj.__dict__.get(self.name, UNBUILT)
        if value is UNBUILT:
            value = obj.source.frame(self.name)
            obj.__dict__[self.name] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        # A field declared with ``field(default=BuiltOnAccess())`` gets the descriptor itself
        # as its default value.
        obj.__dict__[self.name] = UNBUILT if isinstance(value, BuiltOnAccess) else value


class FramesOnAccess:
    """Base of a frozen result dataclass with :class:`BuiltOnAccess` fields and a ``source``
    field: a result given neither the frames nor a source is refused, and a pickle or a copy
    holds every frame built and no source."""

    @classmethod
    def lazy_frames(cls) -> tuple[str, ...]:
        """The names of the fields built on first access."""
        return tuple(
            name
            for klass in reversed(cls.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, BuiltOnAccess)
        )

    def __post_init__(self) -> None:
        if getattr(self, "source", None) is None:
            missing = [n for n in self.lazy_frames() if self.__dict__.get(n, UNBUILT) is UNBUILT]
            if missing:
                raise TypeError(
                    f"{type(self).__name__} needs {missing} or a source to build them from"
                )

    def __getstate__(self) -> dict[str, Any]:
        for name in self.lazy_frames():
            getattr(self, name)
        return {**self.__dict__, "source": None}
