"""Argument checks shared by every public function; messages name the argument, the value and
the fix (with a "did you mean" for mistyped options).

:func:`check_returns` (one return series) and :func:`check_returns_frame` (one column per asset)
are the one home of return-series validation: analytics, risk and models all call them."""

from __future__ import annotations

import difflib
import math
from collections.abc import Hashable, Mapping, Sequence

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
    "check_returns",
    "check_returns_frame",
    "check_time_index",
    "describe_settings_errors",
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


def describe_settings_errors(exc: ValidationError, model: type[BaseModel], what: str) -> str:
    """One message for every problem pydantic found in an engine's settings (``what``:
    "backtest", "portfolio"): an unknown setting gets the closest known name."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(field, list(model.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{what} setting {field!r} is unknown{hint}")
        else:
            where = f"{what} setting {field!r}: " if field else f"{what} settings: "
            problems.append(f"{where}{error['msg']}")
    return "; ".join(problems)


# The wording of check_returns' errors, one template per check; a caller whose users know other
# words overrides some through ``messages=`` (fields: name, kind, dtype, error, count, label, pos,
# n, min_obs, std).
_RETURNS_MESSAGES: dict[str, str] = {
    "type": "{name} must be a pandas Series, got {kind}",
    "numeric": "{name} must hold numbers, got dtype {dtype}",
    "nan": (
        "{name} holds {count} NaN or infinite value(s), the first at {label} (position {pos}). "
        "Fix: drop or fill them first (e.g. {name}.dropna())"
    ),
    "empty": "{name} is empty. Fix: pass at least one observation",
    "short": "{name} needs at least {min_obs} observations, got {n}. Fix: pass a longer series",
    "order": (
        "{name}: the index must be unique and increasing. Fix: {name}.sort_index() and drop "
        "duplicated dates"
    ),
    "scale": (
        "{name} has a standard deviation of {std:.3g} per period, which looks like percent "
        "returns. Fix: pass fractions (0.01 = 1%)"
    ),
}


def check_time_index(name: str, series: pd.Series) -> pd.DatetimeIndex:
    """The index of ``series`` if it is a strictly increasing tz-aware DatetimeIndex."""
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{name} must have a DatetimeIndex, got {type(index).__name__}. "
            "Fix: index it by timestamp",
            rule="not a DatetimeIndex",
        )
    if index.tz is None:
        raise DataError(
            f"{name} has a tz-naive index. Fix: series.tz_localize('UTC') if the times are UTC",
            rule="tz-naive index",
        )
    if not index.is_monotonic_increasing or not index.is_unique:
        diffs = np.diff(index.asi8)
        pos = int(np.argmax(diffs <= 0)) + 1
        raise DataError(
            f"{name} index is not strictly increasing: {index[pos]} at position {pos} does "
            f"not come after {index[pos - 1]}. Fix: series.sort_index() and drop duplicates",
            rule="index not strictly increasing",
            position=pos,
        )
    return index


def check_returns(
    name: str,
    returns: object,
    *,
    min_obs: int = 1,
    time_index: bool = False,
    arrays: bool = False,
    increasing: bool = False,
    max_std: float | None = None,
    type_error: type[ConfigError] | type[DataError] = ConfigError,
    messages: Mapping[str, str] | None = None,
) -> pd.Series:
    """``returns`` as a finite float64 Series with at least ``min_obs`` observations.

    Parameters
    ----------
    name : str
        The argument's name, as the caller's user wrote it (it starts every message).
    returns : object
        A pandas Series (with ``arrays=True`` also a 1-D numpy array or a list of floats, given
        a RangeIndex; a DataFrame is refused with the fix).
    min_obs : int
        Fewest observations accepted.
    time_index : bool
        Require a strictly increasing tz-aware DatetimeIndex (see :func:`check_time_index`);
        the result's index is converted to UTC.
    increasing : bool
        Require a unique increasing index of any kind.
    max_std : float, optional
        Refuse a series whose standard deviation per period is above this (percent returns
        passed where fractions are expected).
    type_error : ConfigError or DataError
        The exception raised for a value of the wrong type.
    messages : mapping, optional
        Caller-specific wording: templates replacing those of ``_RETURNS_MESSAGES`` by key.

    Raises
    ------
    ConfigError
        For a wrong type (or ``type_error``).
    DataError
        For non-numeric, NaN or infinite values, too few observations, a bad index or a scale
        that looks like percent.
    """
    text = _RETURNS_MESSAGES if messages is None else {**_RETURNS_MESSAGES, **messages}
    if arrays and isinstance(returns, pd.DataFrame):
        raise ConfigError(
            f"{name} must be one return series (a pandas Series or 1-D array), got a DataFrame "
            f"with columns {list(returns.columns)}. Fix: pass one column, e.g. df['close']."
            "pct_change().dropna()"
        )
    if isinstance(returns, pd.Series):
        series = returns
    elif arrays and isinstance(returns, np.ndarray | list | tuple):
        try:
            raw = np.asarray(returns, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} must hold numbers", rule="not numeric") from exc
        if raw.ndim != 1:
            raise DataError(f"{name} must be 1-D, got shape {raw.shape}", rule="not 1-D")
        series = pd.Series(raw)
    else:
        kind = type(returns).__name__
        if arrays:
            raise ConfigError(
                f"{name} must be a pandas Series, a 1-D numpy array or a list of floats, got {kind}"
            )
        message = text["type"].format(name=name, kind=kind)
        if type_error is DataError:
            raise DataError(message, rule="returns type")
        raise ConfigError(message)
    if len(series) == 0 and min_obs >= 1:
        raise DataError(text["empty"].format(name=name, n=0, min_obs=min_obs), rule="empty")
    index = check_time_index(name, series).tz_convert("UTC") if time_index else series.index
    try:
        values = series.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        message = text["numeric"].format(name=name, dtype=series.dtype, error=exc)
        raise DataError(message, rule="not numeric") from exc
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.argmax(bad))
        count = int(bad.sum())
        message = text["nan"].format(name=name, count=count, label=index[pos], pos=pos)
        raise DataError(message, rule="not finite", position=pos)
    if len(values) < min_obs:
        message = text["short"].format(name=name, n=len(values), min_obs=min_obs)
        raise DataError(message, rule="too few observations")
    if increasing and not (index.is_unique and index.is_monotonic_increasing):
        raise DataError(text["order"].format(name=name), rule="index order")
    if max_std is not None and float(np.std(values)) > max_std:
        message = text["scale"].format(name=name, std=np.std(values))
        raise DataError(message, rule="returns scale")
    return pd.Series(values, index=index, name=series.name)


def check_returns_frame(
    name: str, returns: object, *, min_obs: int = 1, fix_nan: str | None = None
) -> pd.DataFrame:
    """``returns`` as a finite float64 DataFrame (one column of returns per asset) with at least
    ``min_obs`` rows; the frame counterpart of :func:`check_returns`, with its wording."""
    if not isinstance(returns, pd.DataFrame):
        raise ConfigError(
            f"{name} must be a DataFrame with one column of returns per asset, got "
            f"{type(returns).__name__}. Fix: pd.concat({{'BTC': r1, 'ETH': r2}}, axis=1)"
        )
    if returns.shape[1] == 0:
        raise DataError(f"{name} has no columns. Fix: pass one column per asset", rule="empty")
    try:
        values = returns.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must hold numbers in every column", rule="not numeric") from exc
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        column: Hashable = returns.columns[col]
        fix = fix_nan or f"drop or fill them first (e.g. {name}.dropna())"
        raise DataError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first at "
            f"{returns.index[row]}, column {column!r} (position {row}). Fix: {fix}",
            rule="not finite",
            position=row,
        )
    if len(values) < min_obs:
        raise DataError(
            f"{name} needs at least {min_obs} rows, got {len(values)}. Fix: pass a longer history",
            rule="too few observations",
        )
    return pd.DataFrame(values, index=returns.index, columns=returns.columns)
