"""The GARCH-family model spec of :mod:`quantlib.models.volatility`, with what every fit shares:
the ``arch`` model it builds and the check of the returns it is fitted on."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantlib._hashing import stable_hash
from quantlib._validation import check_returns, describe_spec_errors
from quantlib.exceptions import ConfigError, DataError

__all__ = ["DEFAULT_FIRST_FIT", "MIN_FIT_OBS", "GarchSpec"]

#: Fewest returns a GARCH fit is attempted on (fewer gives meaningless estimates).
MIN_FIT_OBS = 100
#: Default number of returns in the first fit of an expanding forecast.
DEFAULT_FIRST_FIT = 250

_VOL_NAMES = {"garch": "GARCH", "gjr": "GJR-GARCH", "egarch": "EGARCH"}
_DIST_NAMES = {"normal": "normal", "t": "Student-t", "skewt": "skew-t"}


class GarchSpec(BaseModel):
    """A GARCH-family model: volatility process, orders, error distribution and mean.

    ``model="gjr"`` is a GARCH with ``o`` asymmetric (leverage) terms; ``o`` defaults to 1 for
    ``"gjr"`` and ``"egarch"`` and must be 0 for ``"garch"``. Unknown fields and unknown
    options raise :class:`~quantlib.exceptions.ConfigError` with the closest valid name.

    Examples
    --------
    >>> spec = GarchSpec(model="gjr", dist="t")
    >>> spec.describe()
    'GJR-GARCH(p=1, o=1, q=1), Student-t errors, constant mean, fitted on 100 × returns'
    >>> spec.config_id == GarchSpec(model="gjr", o=1, dist="t").config_id
    True
    >>> GarchSpec(model="garhc")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: GarchSpec.model must be one of ...; did you mean 'garch'?
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Literal["garch", "gjr", "egarch"] = "garch"
    p: int = Field(1, ge=1, le=5, description="lags of the squared (or absolute) shock")
    o: int = Field(0, ge=0, le=5, description="asymmetric (leverage) lags")
    q: int = Field(1, ge=0, le=5, description="lags of the conditional variance")
    dist: Literal["normal", "t", "skewt"] = "normal"
    mean: Literal["constant", "zero"] = "constant"
    scale: float = Field(100.0, gt=0.0, description="returns are multiplied by this to fit")

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise ConfigError(describe_spec_errors(exc, GarchSpec)) from None

    @model_validator(mode="before")
    @classmethod
    def _default_o(cls, data: Any) -> Any:
        # The asymmetric order depends on the model, so it is filled before field validation.
        if isinstance(data, dict) and "o" not in data and data.get("model") in ("gjr", "egarch"):
            return {**data, "o": 1}
        return data

    @model_validator(mode="after")
    def _orders(self) -> GarchSpec:
        if self.model == "garch" and self.o:
            raise ValueError(f"o={self.o} asymmetric terms need model='gjr' (or 'egarch')")
        if self.model == "gjr" and self.o == 0:
            raise ValueError("model='gjr' needs o >= 1 (o=0 is a plain 'garch')")
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting (the same settings, the same id)."""
        return stable_hash(self.model_dump(mode="json"))

    def describe(self) -> str:
        """One line naming the model, for reports and summaries."""
        orders = f"p={self.p}, o={self.o}, q={self.q}" if self.o else f"p={self.p}, q={self.q}"
        return (
            f"{_VOL_NAMES[self.model]}({orders}), {_DIST_NAMES[self.dist]} errors, "
            f"{self.mean} mean, fitted on {self.scale:g} × returns"
        )

    def arch_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``arch.arch_model`` for this spec (rescaling off: we scale)."""
        return {
            "mean": "Constant" if self.mean == "constant" else "Zero",
            "vol": "EGARCH" if self.model == "egarch" else "GARCH",
            "p": self.p,
            "o": self.o,
            "q": self.q,
            "dist": {"normal": "normal", "t": "t", "skewt": "skewt"}[self.dist],
            "rescale": False,
        }


# The wording of the volatility models' return checks (fit_volatility: ...), kept for their users.
_MESSAGES = {
    "type": (
        "{name}: returns must be a pandas Series of fractional returns, got {kind}. Fix: pass "
        "e.g. df['close'].pct_change().dropna()"
    ),
    "numeric": "{name}: returns must be numeric ({error})",
    "nan": (
        "{name}: returns has {count} NaN/inf value(s), the first at {label} (position {pos}). "
        "Fix: drop them with returns.dropna() (the first pct_change() is always NaN)"
    ),
    "short": (
        "{name}: needs at least {min_obs} returns, got {n}. Fix: pass a longer series (a GARCH "
        "fit on fewer points is noise)"
    ),
    "order": (
        "{name}: the returns index must be unique and increasing. Fix: returns.sort_index() and "
        "drop duplicated dates"
    ),
    "scale": (
        "{name}: returns have a standard deviation of {std:.3g} per period, which looks like "
        "percent returns. Fix: pass fractions (0.01 = 1%); the spec's scale does the percent "
        "conversion"
    ),
}
_MESSAGES["empty"] = _MESSAGES["short"]


def _check_returns(returns: object, caller: str, *, min_obs: int) -> pd.Series:
    """``returns`` as a float64 Series with a unique increasing index, or a DataError."""
    return check_returns(
        caller,
        returns,
        min_obs=min_obs,
        increasing=True,
        max_std=1.0,
        type_error=DataError,
        messages=_MESSAGES,
    )


def _spec(spec: GarchSpec | None) -> GarchSpec:
    if spec is None:
        return GarchSpec()
    if not isinstance(spec, GarchSpec):
        raise ConfigError(
            f"spec must be a GarchSpec, got {spec!r}. Fix: GarchSpec(model='gjr', dist='t')"
        )
    return spec


def _arch(y: np.ndarray | pd.Series, spec: GarchSpec) -> Any:
    from arch import arch_model  # heavy import, only when a model is fitted

    return arch_model(y, **spec.arch_arguments())
