"""The TOML form of an :class:`~quantlib.models.ml.walkforward.MLConfig`.

A configuration file holds :class:`MLConfig` fields at the top level and one
``[members.<name>]`` table of :class:`~quantlib.models.ml.nets.ModelSpec` fields per member
(see ``configs/ml.example.toml``); without ``[members.*]`` tables the default members are used.
Unknown keys are refused with the closest known name.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantlib._typing import PathLike
from quantlib.exceptions import ConfigError

if TYPE_CHECKING:
    from quantlib.models.ml.walkforward import MLConfig

__all__ = ["load_ml_config", "parse_ml_config"]


def _unknown(keys: set[str], known: set[str], where: str) -> None:
    for key in sorted(keys - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: setting {key!r} is unknown{hint}")


def parse_ml_config(data: Mapping[str, Any], *, source: str = "ML config") -> MLConfig:
    """An :class:`MLConfig` from a TOML-shaped mapping (top-level fields, ``members`` tables).

    Raises
    ------
    ConfigError
        For an unknown key (with the closest known one), a member that is not a table, or an
        invalid value (naming the field).

    Examples
    --------
    >>> config = parse_ml_config({"horizon": 2, "members": {"lr": {"kind": "logistic"}},
    ...                           "ensemble_of": ["lr"]})
    >>> config.horizon, list(config.members), config.members["lr"].kind
    (2, ['lr'], 'logistic')
    """
    from quantlib.models.ml.nets import ModelSpec
    from quantlib.models.ml.walkforward import MLConfig

    _unknown(set(data), set(MLConfig.model_fields), source)
    fields = dict(data)
    if "members" in fields:
        tables = fields["members"]
        if not isinstance(tables, Mapping) or not tables:
            raise ConfigError(
                f"{source}: members must be [members.<name>] tables of ModelSpec fields, got "
                f"{tables!r}"
            )
        members = {}
        for name, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigError(
                    f"{source}: [members.{name}] must be a table of ModelSpec fields, got {table!r}"
                )
            try:
                members[str(name)] = ModelSpec(**table)
            except ConfigError as exc:
                raise ConfigError(f"{source} [members.{name}]: {exc}") from None
        fields["members"] = members
    try:
        return MLConfig(**fields)
    except ConfigError as exc:
        # In a file the fields are top-level keys: name them as written there.
        raise ConfigError(f"{source}: {str(exc).replace('MLConfig.', '')}") from None


def load_ml_config(path: PathLike | None) -> MLConfig:
    """The :class:`MLConfig` of a TOML file (see the module docstring); defaults for None."""
    from quantlib.models.ml.walkforward import MLConfig

    if path is None:
        return MLConfig()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"ML config {file} does not exist. Fix: pass an existing TOML file, e.g. "
            "configs/ml.example.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"ML config {file} is not valid TOML: {exc}") from None
    return parse_ml_config(data, source=str(file))
