"""The live engine's TOML configuration (``quant live run --config FILE``).

See ``configs/live.paper.toml`` for a commented example. ``mode = "paper"`` (the default)
replays stored bars into the paper exchange; ``mode = "live"`` polls closed bars from a ccxt
exchange and trades through it with keys from the vault (never from this file).

Types are strict, as TOML writes them: ``sandbox = "no"`` is an error, not ``False`` (a quoted
word is a string, and a string is not a boolean); a number in quotes is an error, not a number;
``inf`` and ``nan`` are refused wherever a number goes (omit a key to keep its default, e.g. no
notional cap). The ``[risk]`` table is checked the same way before
:class:`~quantlib.live.risk_gate.RiskLimits` applies its own bounds. Every problem names the
file's key (``exchange.sandbox``, ``strategy.0.fraction``) and ends with the fix; the values
it quotes pass through :func:`~quantlib.live.redact.redact` like the logs.

Strategies: ``strategy`` names a built-in strategy, one of the user's files
(``$QUANT_HOME/strategies``) or an installed package's; the engine pins a file by its sha256 at
start (:mod:`~quantlib.live.strategy_pins`), and an optional ``sha256 = "..."`` in the
``[[strategy]]`` table requires exactly that file (and accepts a file that changed since the
journal's last run).

Perpetuals: a ``[contracts."BTC/USDT:USDT"]`` table per perpetual a strategy trades sets its
``leverage`` and ``margin_mode`` (both required: they are set on the exchange before the first
order); in paper mode it also names its ``funding`` (a bundled or stored series, or a file, for
``quantlib.data.load_funding``) or a constant ``funding_rate`` per ``funding_interval``, and
optionally its ``mark`` series (``load_ohlcv(..., market="mark")``); the replay then loads the
strategy's ``data`` as the perpetual's own bars (``market="perpetual"``).
"""

from __future__ import annotations

import difflib
import math
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from quantlib.exceptions import ConfigError
from quantlib.live.perpetual import check_linear_perpetual
from quantlib.live.redact import redact
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.types import StrategyMode

__all__ = ["ContractEntry", "LiveConfig", "StrategyEntry", "load_live_config"]

EXAMPLE = "configs/live.paper.toml"


class _Strict(BaseModel):
    # strict: no "no" -> False, no "1.5" -> 1.5; allow_inf_nan=False: no inf or nan limits.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class StrategyEntry(_Strict):
    """One strategy on one symbol."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    strategy: str
    symbol: str = Field(description="exchange symbol, e.g. BTC/USDT")
    data: str = Field(description="bundled/stored series or file for the replay and warm-up")
    # TOML writes the mode as its value ("auto"); strict mode would want the enum member.
    mode: Annotated[StrategyMode, Field(strict=False)] = StrategyMode.SUPERVISED
    fraction: float = Field(1.0, gt=0.0, le=1.0)
    lookback: int = Field(500, ge=2)
    params: dict[str, Any] = Field(default_factory=dict)
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="user/package strategy: the sha256 its file must have (pins the code; "
        "also accepts a file that changed since this journal's last run)",
    )


class ContractEntry(_Strict):
    """One perpetual: its leverage and margin mode, and (paper) its funding and mark series."""

    leverage: float = Field(ge=1.0, le=125.0)
    margin_mode: Literal["isolated", "cross"]
    funding: str | None = Field(None, description="paper: funding series (load_funding)")
    funding_rate: float | None = Field(None, description="paper: constant rate per interval")
    funding_interval: str = "8h"
    mark: str | None = Field(None, description="paper: mark-price series (market='mark')")


class FeedSettings(_Strict):
    timeframe: str = "1h"
    start: str | None = Field(None, description="replay: first bar to trade (earlier = warm-up)")
    end: str | None = None
    speed: float = Field(0.0, ge=0.0, description="replay speed factor; 0 = as fast as possible")
    poll_seconds: float = Field(10.0, gt=0.0, description="live: seconds between polls")


class PaperSettings(_Strict):
    taker_fee: float = Field(0.001, ge=0.0, lt=0.1)
    maker_fee: float = Field(0.001, ge=-0.01, lt=0.1)
    slippage_bps: float = Field(1.0, ge=0.0)
    latency_ms: int = Field(0, ge=0)
    max_fill_fraction: float = Field(1.0, gt=0.0, le=1.0)
    reject_rate: float = Field(0.0, ge=0.0, lt=1.0)
    seed: int = 0


class ExchangeSettings(_Strict):
    id: str = "binance"
    credentials: str | None = Field(None, description="name of the keys in the vault")
    sandbox: bool = True


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strict_problem(annotation: Any, value: object) -> tuple[str, str] | None:
    """Where (a sub-key or "") and what is wrong with a TOML ``value`` for ``annotation``."""
    problem = _scalar_problem(annotation, value)
    if problem is not None:
        return "", problem
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        if not isinstance(value, dict):
            return "", f'must be a table such as {{ "BTC/USDT" = 0.5 }}, got {value!r}'
        for key, item in value.items():
            problem = _scalar_problem(args[1], item)
            if problem is not None:
                return f"[{key!r}]", problem
    strings = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if origin is tuple and args[:1] == (str,) and not strings:
        return "", f"must be a list of quoted strings, got {value!r}"
    return None


def _scalar_problem(annotation: Any, value: object) -> str | None:
    if annotation is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"must be a whole number, got {value!r}"
    if annotation is float:
        if not _is_number(value):
            return f"must be a number (without quotes), got {value!r}"
        if not math.isfinite(float(value)):  # type: ignore[arg-type]
            return f"must be a finite number, got {value!r} (omit the key to keep its default)"
        return None
    return None


class LiveConfig(_Strict):
    """Everything ``quant live run`` needs."""

    mode: Literal["paper", "live"] = "paper"
    capital: float = Field(10_000.0, gt=0.0)
    proposal_ttl_minutes: float = Field(15.0, gt=0.0)
    price_tolerance: float = Field(0.005, gt=0.0, lt=1.0)
    heartbeat_seconds: float = Field(1.0, gt=0.0)
    feed: FeedSettings = FeedSettings()
    paper: PaperSettings = PaperSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    risk: RiskLimits = RiskLimits()
    alerts: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "log"}])
    strategy: list[StrategyEntry] = Field(min_length=1)
    contracts: dict[str, ContractEntry] = Field(default_factory=dict)

    @field_validator("contracts")
    @classmethod
    def _linear(cls, value: dict[str, ContractEntry]) -> dict[str, ContractEntry]:
        for symbol in value:
            try:
                check_linear_perpetual(symbol)
            except ConfigError as exc:
                raise PydanticCustomError("contract_symbol", str(exc)) from None
        return value

    @model_validator(mode="after")
    def _perpetuals_complete(self) -> LiveConfig:
        missing = sorted({s.symbol for s in self.strategy if ":" in s.symbol} - set(self.contracts))
        if missing:
            raise PydanticCustomError(
                "contract_missing",
                f"strategies trade the perpetual(s) {missing} without a [contracts] table",
            )
        if self.mode == "paper":
            unfunded = [
                s
                for s, c in self.contracts.items()
                if not (c.funding or c.funding_rate is not None)
            ]
            if unfunded:
                raise PydanticCustomError(
                    "contract_funding",
                    f"contracts {unfunded} have no funding for the paper exchange",
                )
        return self

    @field_validator("risk", mode="before")
    @classmethod
    def _strict_risk(cls, value: Any) -> Any:
        # RiskLimits (risk_gate.py) validates leniently and allows an infinite default cap;
        # a file is held to the strict rule here, then RiskLimits applies its own bounds.
        if not isinstance(value, dict):
            return value
        problems = []
        for key, item in value.items():
            field = RiskLimits.model_fields.get(key)
            found = None if field is None else _strict_problem(field.annotation, item)
            if found is not None:
                problems.append(f"risk.{key}{found[0]}: {found[1]}")
        if problems:
            raise PydanticCustomError("strict_risk", "; ".join(problems))
        return value


#: A fix for each kind of pydantic error that a hand-written TOML file can hit.
_FIXES = {
    "bool_type": "write true or false, without quotes",
    "finite_number": "write a finite number (omit the key to keep its default)",
    "float_type": "write a number, without quotes",
    "float_parsing": "write a number, without quotes",
    "int_type": "write a whole number, without quotes",
    "int_from_float": "write a whole number",
    "string_type": "write a quoted string",
    "string_pattern_mismatch": "write the value in the form stated (a sha256 is the 64 "
    "lowercase hex digits that the refusal or `quant live status` printed)",
    "list_type": 'write a list, e.g. ["BTC/USDT"]',
    "dict_type": "write a table",
    "model_type": "write a table",
    "missing": "add the key",
    "strict_risk": "correct the [risk] values named",
    "contract_symbol": 'name a linear perpetual, e.g. [contracts."BTC/USDT:USDT"]',
    "contract_missing": 'add [contracts."SYMBOL"] with leverage and margin_mode',
    "contract_funding": 'add funding = "BTCUSDT" (a series) or funding_rate = 0.0001',
}


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the table at ``loc`` (for a "did you mean"), or [] if unknown."""
    model: type[BaseModel] = LiveConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _problem(error: Any) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "strict_risk":
        return f"{error['msg']}. Fix: {_FIXES['strict_risk']}"
    if error["type"] in ("contract_symbol", "contract_missing", "contract_funding"):
        return f"{key}: {error['msg']}. Fix: {_FIXES[error['type']]}"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{key}: {error['msg']}. Fix: {hint}remove or rename the key"
    fix = _FIXES.get(error["type"], "use a value inside the bound stated")
    return f"{key}: {error['msg']} (got {error.get('input')!r:.60}). Fix: {fix}"


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and validate a live configuration; every problem in one :class:`ConfigError`."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the live config {str(file)!r} ({exc.strerror}). Fix: pass an "
            f"existing TOML file, e.g. {EXAMPLE}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"live config {str(file)!r} is not valid TOML: {exc}. Fix: correct the syntax "
            f"at that line ({EXAMPLE} is a valid example)"
        ) from None
    try:
        return LiveConfig.model_validate(data)
    except ValidationError as exc:
        # The message quotes the values it refuses; an alert's webhook token must not be one.
        problems = [_problem(e) for e in exc.errors()]
        raise ConfigError(redact(f"live config {str(file)!r}: " + "; ".join(problems))) from None
