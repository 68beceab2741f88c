"""A strategy's parameters as widget specifications, read from its pydantic model.

The Streamlit pages and the marimo workbooks build their parameter controls from
:func:`parameter_specs` (one :class:`ParamSpec` per field: its kind, default, bounds, choices and
description) and turn the controls' values back into parameters with :func:`coerce_params`,
so a user's strategy gets the same controls as a built-in one without any UI code of its own.

How a field's type becomes a control's kind:

==============================================  ==========  ==============================
field type                                      kind        control
==============================================  ==========  ==============================
``int``                                         ``int``     number, step 1
``float``                                       ``float``   number, step from the bounds
``bool``                                        ``bool``    checkbox
``Literal[...]``, an ``Enum``, ``bool | None``  ``choice``  drop-down (``None`` included
                                                            when the field allows it)
``str``                                         ``text``    text box
anything else (``list``, ``tuple``, ``dict``,   ``text``    text box holding JSON
a model, a union such as ``str | int``)                     (``ParamSpec.json``)
==============================================  ==========  ==============================

``X | None`` makes a parameter *optional* (an empty control means ``None``). Fields whose type
has no JSON form (a ``pandas.Series`` of funding rates set by code) get no control.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from quantlib.exceptions import ConfigError

__all__ = ["ParamKind", "ParamSpec", "coerce_params", "docstring_parameters", "parameter_specs"]

ParamKind = Literal["int", "float", "bool", "choice", "text"]

#: The step of a float control whose field has neither bounds nor a non-zero default.
DEFAULT_FLOAT_STEP = 0.01


@dataclass(frozen=True)
class ParamSpec:
    """What a control for one strategy parameter needs.

    Attributes
    ----------
    name : str
        The field's name (the keyword of the strategy's constructor).
    kind : {"int", "float", "bool", "choice", "text"}
        The control to draw (module docstring).
    default : Any
        The field's default (``None`` when the field is required or defaults to ``None``).
    required : bool
        The field has no default: the user must give a value.
    optional : bool
        ``None`` is an allowed value (the type is ``X | None``).
    minimum, maximum : float or int or None
        The bounds (``ge``/``gt``/``le``/``lt`` of the field); for an ``int`` a strict bound is
        turned into the inclusive one (``gt=0`` is ``minimum=1``).
    exclusive_minimum, exclusive_maximum : bool
        The float bound itself is not allowed (``gt``/``lt``).
    step : float or int or None
        The control's step: ``multiple_of`` when set, 1 for an int, else a power of ten about a
        hundredth of the range or a tenth of the default, whichever is finer.
    choices : tuple
        The allowed values of a ``choice`` (``None`` first when optional).
    description : str
        The field's ``description``, else its entry in the class docstring's numpydoc
        ``Parameters`` section, else empty.
    json : bool
        A ``text`` control holds JSON (lists, dicts, models, unions); ``False`` for plain text.
    accepts_text : bool
        A ``json`` control whose type includes ``str`` (``every``: ``"1W"`` or ``7``): its
        string default is shown as is, not quoted.
    annotation : str
        The field's type as written (``"tuple[str, ...]"``), for the help text.
    """

    name: str
    kind: ParamKind
    default: Any = None
    required: bool = False
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    description: str = ""
    json: bool = False
    accepts_text: bool = False
    annotation: str = ""

    @property
    def initial(self) -> Any:
        """The control's starting value: the default, as text for a ``text`` control (JSON
        when ``json``; ``""`` for ``None``); ``None`` for a required number or choice."""
        if self.kind != "text":
            return self.default
        if self.default is None:
            return ""
        if self.json and not (self.accepts_text and isinstance(self.default, str)):
            return json.dumps(to_jsonable_python(self.default))
        return str(self.default)

    @property
    def decimals(self) -> int:
        """Decimals a float control shows: enough for its step, at least 2."""
        if self.kind != "float" or not self.step:
            return 0
        return max(2, -math.floor(math.log10(self.step)))

    @property
    def bounds(self) -> str:
        """The bounds as a reader writes them, e.g. ``"> 0 and ≤ 0.5"`` (empty when none)."""
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '≥'} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '≤'} {self.maximum:g}")
        return " and ".join(parts)

    @property
    def help(self) -> str:
        """One paragraph for a control's tooltip: the description, type, bounds and defaults."""
        facts = [f"type {self.annotation}"] if self.annotation else []
        if self.bounds:
            facts.append(self.bounds)
        if self.required:
            facts.append("required")
        elif self.kind in ("text", "float", "int"):
            shown = self.initial if self.kind != "text" else self.initial or None
            facts.append(f"default {shown}")
        if self.optional:
            facts.append("empty means None")
        if self.json:
            facts.append("JSON" + (" or plain text" if self.accepts_text else ""))
        text = self.description.rstrip(".")
        return f"{text}. ({'; '.join(facts)})" if text else f"({'; '.join(facts)})"

    @property
    def digest(self) -> str:
        """A short hash of everything a control is drawn from: a widget keyed by it starts
        afresh when a strategy file changes this parameter's default, bounds or choices."""
        text = repr(
            (self.name, self.kind, self.initial, self.required, self.optional, self.minimum,
             self.maximum, self.step, tuple(map(str, self.choices)))
        )  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def parameter_specs(cls: type[BaseModel]) -> list[ParamSpec]:
    """One :class:`ParamSpec` per parameter of the strategy class ``cls``, in field order.

    Parameters
    ----------
    cls : type[pydantic.BaseModel]
        A signal or portfolio strategy class (built-in, a user's file, or a package's).

    Returns
    -------
    list[ParamSpec]
        Fields whose type has no JSON form (e.g. a ``pandas.Series``) are left out.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross
    >>> [(s.name, s.kind, s.default, s.minimum, s.step) for s in parameter_specs(SmaCross)]
    [('fast', 'int', 10, 1, 1), ('slow', 'int', 50, 2, 1)]
    """
    return list(_specs(cls))


@functools.lru_cache(maxsize=256)
def _specs(cls: type[BaseModel]) -> tuple[ParamSpec, ...]:
    docs = docstring_parameters(cls)
    specs = (_spec(name, info, docs.get(name, "")) for name, info in cls.model_fields.items())
    return tuple(spec for spec in specs if spec is not None)


def _spec(name: str, info: FieldInfo, documented: str) -> ParamSpec | None:
    annotation = info.annotation
    args = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    optional = type(None) in args
    types_ = [a for a in args if a is not type(None)]
    required = info.is_required()
    default = None if required else info.get_default(call_default_factory=True)
    common: dict[str, Any] = {
        "name": name,
        "default": default,
        "required": required,
        "optional": optional,
        "description": (info.description or documented).strip(),
        "annotation": _type_name(annotation),
    }
    only = types_[0] if len(types_) == 1 else None
    if only is bool:
        if optional:
            return ParamSpec(kind="choice", choices=(None, True, False), **common)
        return ParamSpec(kind="bool", **common)
    if only in (int, float):
        return ParamSpec(kind="int" if only is int else "float", **_numeric(info, only, default),
                         **common)  # fmt: skip
    choices = _choices(only)
    if choices:
        return ParamSpec(kind="choice", choices=((None,) if optional else ()) + choices, **common)
    if only is str:
        return ParamSpec(kind="text", **common)
    try:  # a type with no JSON form (pandas objects set by code) gets no control
        TypeAdapter(annotation if annotation is not None else Any).json_schema()
    except Exception:
        return None
    return ParamSpec(kind="text", json=True, accepts_text=str in types_, **common)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return re.sub(r"\b(typing|collections\.abc)\.", "", str(annotation)).replace("NoneType", "None")


def _choices(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(annotation)
    return ()


def _numeric(info: FieldInfo, kind: type, default: Any) -> dict[str, Any]:
    low = high = multiple = None
    low_open = high_open = False
    for rule in info.metadata:  # Ge, Gt, Le, Lt, Interval, MultipleOf (annotated_types)
        for attr in ("gt", "ge", "lt", "le", "multiple_of"):
            value = getattr(rule, attr, None)
            if not isinstance(value, int | float):
                continue
            if attr in ("gt", "ge"):
                low, low_open = float(value), attr == "gt"
            elif attr in ("lt", "le"):
                high, high_open = float(value), attr == "lt"
            else:
                multiple = float(value)
    if kind is int:
        # An int's strict bound is the next integer, inclusive.
        return {
            "minimum": None if low is None else math.floor(low) + 1 if low_open else math.ceil(low),
            "maximum": None
            if high is None
            else math.ceil(high) - 1
            if high_open
            else math.floor(high),
            "step": int(multiple or 1),
        }
    return {
        "minimum": low,
        "maximum": high,
        "exclusive_minimum": low_open,
        "exclusive_maximum": high_open,
        "step": multiple or _float_step(low, high, default),
    }


def _float_step(low: float | None, high: float | None, default: Any) -> float:
    """A power of ten: a hundredth of the range or a tenth of the default, the finer."""
    candidates = []
    if low is not None and high is not None and high > low:
        candidates.append(10.0 ** (math.floor(math.log10(high - low)) - 2))
    if isinstance(default, int | float) and default and math.isfinite(default):
        candidates.append(10.0 ** (math.floor(math.log10(abs(default))) - 1))
    return min(candidates) if candidates else DEFAULT_FLOAT_STEP


def docstring_parameters(cls: type) -> dict[str, str]:
    """Descriptions by name from the numpydoc ``Parameters`` sections of ``cls`` and its bases
    (the class's own entry wins; ``y, x : str`` documents both names).

    Examples
    --------
    >>> class Demo:
    ...     '''A demo.
    ...
    ...     Parameters
    ...     ----------
    ...     window : int, default 20
    ...         Bars in the window.
    ...     y, x : str
    ...         The two legs.
    ...     '''
    >>> docstring_parameters(Demo)
    {'window': 'Bars in the window.', 'y': 'The two legs.', 'x': 'The two legs.'}
    """
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        found.update(_parse_parameters(klass.__dict__.get("__doc__") or ""))
    return found


_HEADER = re.compile(r"^-{3,}\s*$")


def _parse_parameters(doc: str) -> dict[str, str]:
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, str] = {}
    inside = False
    names: list[str] = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and _HEADER.match(lines[i + 1]) and line.strip():
            inside = line.strip() == "Parameters"
            names = []
            continue
        if not inside or _HEADER.match(line) or not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            head = line.split(" : ", 1)[0]
            names = [n.strip() for n in head.split(",") if n.strip().isidentifier()]
            for name in names:
                out[name] = ""
        else:
            for name in names:
                out[name] = f"{out[name]} {line.strip()}".strip()
    return out


def coerce_params(
    cls: type[BaseModel], values: Mapping[str, Any], *, keep_defaults: bool = False
) -> dict[str, Any]:
    """The parameters that the controls' ``values`` stand for, ready for ``make_strategy``.

    Text holding JSON is parsed (text that is not JSON and does not start like it, such as
    ``1W``, is passed as is for the model to read), an empty control is ``None`` (an optional
    parameter) or the default, numbers get their field's type. Values equal to the default are
    left out unless ``keep_defaults``, so a run with untouched controls is the default run.
    Names that are not fields pass through (``make_strategy`` names them, with a "did you mean").

    Raises
    ------
    ConfigError
        Text that starts like JSON does not parse, or a required parameter is empty.

    Examples
    --------
    >>> from quantlib.strategy import SmaCross, ZoneFade
    >>> coerce_params(SmaCross, {"fast": 5.0, "slow": 50})
    {'fast': 5}
    >>> coerce_params(ZoneFade, {"levels": '["pdh", "pdl"]', "expiry_bars": None})
    {'levels': ['pdh', 'pdl']}
    >>> coerce_params(ZoneFade, {"levels": '["pdh", "pdl"'})
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: zone_fade parameter 'levels': '["pdh", "pdl"' is not JSON ...
    """
    specs = {spec.name: spec for spec in parameter_specs(cls)}
    owner = getattr(cls, "name", cls.__name__)
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            out[name] = value
            continue
        converted = _coerce(spec, value, owner)
        if converted is _DEFAULT or (not keep_defaults and _same(converted, spec.default)):
            if keep_defaults and not spec.required:
                out[name] = spec.default
            continue
        out[name] = converted
    return out


_DEFAULT = object()


def _coerce(spec: ParamSpec, value: Any, owner: str) -> Any:
    empty = value is None or (isinstance(value, str) and not value.strip())
    if empty and spec.kind != "choice":
        if spec.optional:
            return None
        if spec.required:
            raise ConfigError(
                f"{owner} parameter {spec.name!r} is required and empty. Fix: give it a value; "
                f"{spec.help}"
            )
        return _DEFAULT
    if spec.kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "text" and spec.json and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            # Plain text goes to the model, whose validators may accept it ("1W", "pdh,pdl");
            # text that starts like JSON and does not parse is a typo worth naming.
            if not value.lstrip().startswith(("[", "{", '"')):
                return value.strip()
            raise ConfigError(
                f"{owner} parameter {spec.name!r}: {value!r} is not JSON ({exc.msg}). Fix: "
                f"write it as JSON, e.g. {spec.initial or '[1, 2]'}"
            ) from None
    return value


def _same(value: Any, default: Any) -> bool:
    """``value`` stands for ``default`` (a list for a tuple, a dict for a model; not 1 for True)."""
    if isinstance(value, bool) != isinstance(default, bool):
        return False
    try:
        return bool(to_jsonable_python(value) == to_jsonable_python(default))
    except Exception:
        return False
