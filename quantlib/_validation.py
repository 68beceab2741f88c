"""Argument checks shared by every public function; messages name the argument, the value and
the fix (with a "did you mean" for mistyped options)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from quantlib.data.schema import validate
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "check_choice",
    "check_event_frame",
    "check_float",
    "check_int",
    "describe_spec_errors",
    "ohlcv_arrays",
]


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """``value`` as an int, refusing bools, floats with a fraction and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive: bool = True,
) -> float:
    """``value`` as a finite float within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    low_bad = minimum is not None and (number < minimum if inclusive else number <= minimum)
    high_bad = maximum is not None and (number > maximum if inclusive else number >= maximum)
    if low_bad or high_bad:
        sign = "" if inclusive else "strictly "
        bounds = " and ".join(
            part
            for part in (
                f">= {minimum}" if minimum is not None else "",
                f"<= {maximum}" if maximum is not None else "",
            )
            if part
        )
        raise ConfigError(f"{name} must be {sign}{bounds}, got {value!r}")
    return number


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``; otherwise an error with the closest match."""
    if isinstance(value, str) and value in choices:
        return value
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}{hint}")


def ohlcv_arrays(
    df: pd.DataFrame, caller: str, *, min_bars: int = 1
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Validate ``df`` and return its index and contiguous float64 OHLCV arrays.

    Raises
    ------
    DataError
        If ``df`` breaks the OHLCV contract or has fewer than ``min_bars`` bars.
    """
    validate(df, f"{caller} input")
    if len(df) < min_bars:
        raise DataError(
            f"{caller} input: needs at least {min_bars} bars, got {len(df)}. Fix: pass a longer "
            "series or shorter window parameters",
            source=f"{caller} input",
            rule="too few bars",
        )
    arrays = {
        name: np.ascontiguousarray(df[name].to_numpy(dtype=np.float64))
        for name in ("open", "high", "low", "close", "volume")
    }
    return pd.DatetimeIndex(df.index), arrays


def check_event_frame(
    name: str,
    value: object,
    columns: Sequence[str],
    producer: str,
    *,
    error: type[ConfigError] | type[DataError] = ConfigError,
) -> pd.DataFrame:
    """``value`` if it is a DataFrame with ``columns``; otherwise an error naming ``producer``,
    the function whose output is expected (e.g. ``"quantlib.smc.swings.swings(df, ...)"``)."""
    if not isinstance(value, pd.DataFrame):
        raise error(f"{name} must be a DataFrame from {producer}, got {type(value).__name__}")
    missing = [c for c in columns if c not in value.columns]
    if missing:
        raise error(
            f"{name} is missing column(s) {missing}. Fix: pass the frame returned by {producer}"
        )
    return value


def describe_spec_errors(exc: ValidationError, spec: type[BaseModel]) -> str:
    """One message for every problem pydantic found in a frozen ``spec`` model: unknown
    settings and bad choices get the closest valid name ("did you mean")."""
    name = spec.__name__
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(field, list(spec.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{name} setting {field!r} is unknown{hint}")
        elif error["type"] == "literal_error":
            choices = list(spec.model_fields[field].annotation.__args__)  # type: ignore[union-attr]
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{name}.{field} must be one of {choices}, got {value!r}{hint}")
        elif field:
            problems.append(f"{name}.{field}={value!r}: {error['msg']}")
        else:
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
