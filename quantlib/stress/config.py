"""``StressSpec``: a stress-test configuration read from TOML, frozen, with a ``config_id``.

A TOML file (see ``configs/stress.example.toml``) names a portfolio of assets with weights,
optionally a strategy to replay instead of holding the portfolio, historical windows,
hypothetical shocks, a Monte Carlo block and the limits whose breaches a run reports. Unknown
keys are refused with the closest known name. ``config_id`` hashes every setting that changes
the numbers (the Dask ``scheduler`` does not).
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantlib._typing import PathLike
from quantlib.backtest.config import BacktestConfig, make_config, stable_hash
from quantlib.exceptions import ConfigError
from quantlib.stress.scenarios import DEFAULT_WINDOWS, Shock, Window

__all__ = [
    "LimitsSpec",
    "MonteCarloSpec",
    "ShockSpec",
    "StrategySpec",
    "StressSpec",
    "WindowSpec",
    "load_spec",
    "parse_spec",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowSpec(_Frozen):
    """A user-defined historical window (calendar days, UTC, both included)."""

    name: str = Field(min_length=1)
    start: dt.date
    end: dt.date
    description: str = ""

    def window(self) -> Window:
        return Window(self.name, pd.Timestamp(self.start), pd.Timestamp(self.end), self.description)


class ShockSpec(_Frozen):
    """A hypothetical shock (:class:`quantlib.stress.scenarios.Shock`)."""

    name: str = Field(min_length=1)
    moves: dict[str, float]
    beta_scaled: bool = True
    benchmark: str = "BTCUSDT"
    vol_multiplier: float = Field(1.0, ge=0.0)
    correlation_to_one: bool = False
    slippage_multiplier: float = Field(1.0, ge=0.0)
    horizon_days: int = Field(10, ge=1)
    lookback_days: int = Field(365, ge=30)
    as_of: dt.date | None = None

    def shock(self) -> Shock:
        return Shock(
            name=self.name,
            moves=dict(self.moves),
            beta_scaled=self.beta_scaled,
            benchmark=self.benchmark,
            vol_multiplier=self.vol_multiplier,
            correlation_to_one=self.correlation_to_one,
            slippage_multiplier=self.slippage_multiplier,
            horizon_days=self.horizon_days,
            lookback_days=self.lookback_days,
            as_of=None if self.as_of is None else pd.Timestamp(self.as_of, tz="UTC"),
        )


class MonteCarloSpec(_Frozen):
    """Monte Carlo settings; the history resampled is ``history_start..history_end`` (days on
    which every portfolio asset traded)."""

    methods: tuple[Literal["bootstrap", "garch"], ...] = ("bootstrap", "garch")
    n_paths: int = Field(10_000, ge=1)
    horizon_days: int = Field(365, ge=1)
    mean_block_length: float = Field(10.0, ge=1.0)
    seed: int = Field(0, ge=0)
    history_start: dt.date | None = None
    history_end: dt.date | None = None
    scheduler: str | None = Field(None, description="Dask scheduler; not part of config_id")


class LimitsSpec(_Frozen):
    """The limits a run checks; a breach is reported and stored."""

    max_drawdown: float = Field(0.35, gt=0.0, lt=1.0, description="as a positive fraction")
    ruin_level: float = Field(0.5, gt=0.0, lt=1.0, description="equity / initial equity")
    max_ruin_probability: float = Field(0.01, ge=0.0, le=1.0)
    max_breach_probability: float = Field(0.05, ge=0.0, le=1.0)


class StrategySpec(_Frozen):
    """A registered strategy replayed through the historical windows instead of the portfolio."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeframe: str = "1d"
    warmup: str = "200D"


class StressSpec(_Frozen):
    """A whole stress test (see the module docstring).

    Examples
    --------
    >>> spec = parse_spec({"name": "demo", "weights": {"BTCUSDT": 1.0}})
    >>> len(spec.windows()), spec.config_id == parse_spec(spec.model_dump()).config_id
    (4, True)
    >>> parse_spec({"name": "x", "weights": {"BTCUSDT": 1.0}, "limit": {}})
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: stress config key 'limit' is unknown; did you mean 'limits'?
    """

    name: str = Field(min_length=1, max_length=100)
    weights: dict[str, float] = Field(min_length=1)
    initial_equity: float = Field(100_000.0, gt=0.0)
    backtest: dict[str, Any] = Field(default_factory=dict)
    default_windows: bool = True
    extra_windows: tuple[WindowSpec, ...] = ()
    shocks: tuple[ShockSpec, ...] = ()
    montecarlo: MonteCarloSpec | None = None
    limits: LimitsSpec = LimitsSpec()
    strategy: StrategySpec | None = None

    @model_validator(mode="after")
    def _check(self) -> StressSpec:
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) > 1 + 1e-9:
            raise ValueError(
                f"weights must be >= 0 and sum to at most 1 (the rest is cash), got {self.weights}"
            )
        names = [w.name for w in self.windows()] + [s.name for s in self.shocks]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"scenario names must be unique; repeated: {twice}")
        self.backtest_config()
        return self

    @property
    def config_id(self) -> str:
        """12 hex digits hashing every setting that changes the results."""
        payload = self.model_dump(mode="json")
        if payload["montecarlo"] is not None:
            payload["montecarlo"].pop("scheduler")
        return stable_hash(payload)

    @property
    def assets(self) -> list[str]:
        return list(self.weights)

    def backtest_config(self) -> BacktestConfig:
        """The engine settings (costs) of the replays; ``initial_equity`` sets the cash."""
        return make_config(**{"initial_cash": self.initial_equity, **self.backtest})

    def windows(self) -> list[Window]:
        """The default windows (unless turned off) followed by the extra ones."""
        defaults = list(DEFAULT_WINDOWS) if self.default_windows else []
        return defaults + [spec.window() for spec in self.extra_windows]


def _problems(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            known = list(StressSpec.model_fields)
            close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close and len(error["loc"]) == 1 else ""
            lines.append(f"stress config key {where!r} is unknown{hint}")
        else:
            prefix = f"stress config {where!r}" if where else "stress config"
            lines.append(f"{prefix}: {error['msg']}")
    return "; ".join(lines)


def parse_spec(data: dict[str, Any]) -> StressSpec:
    """A :class:`StressSpec` from a mapping (parsed TOML); errors become one ConfigError."""
    try:
        return StressSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    except ConfigError as exc:  # a bad backtest setting, raised by make_config
        raise ConfigError(f"stress config [backtest]: {exc}") from None


def load_spec(path: PathLike) -> StressSpec:
    """Read a TOML stress configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or a setting is unknown or invalid.

    Examples
    --------
    >>> from quantlib.config import PROJECT_ROOT
    >>> load_spec(PROJECT_ROOT / "configs" / "stress.example.toml").name
    'crypto-core'
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the stress config {str(file)!r} ({exc.strerror}). Fix: pass an "
            "existing TOML file, e.g. configs/stress.example.toml"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"stress config {str(file)!r} is not valid TOML: {exc}") from None
    return parse_spec(data)
