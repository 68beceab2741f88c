"""The live engine's TOML configuration (``quant live run --config FILE``).

See ``configs/live.paper.toml`` for a commented example. ``mode = "paper"`` (the default)
replays stored bars into the paper exchange; ``mode = "live"`` polls closed bars from a ccxt
exchange and trades through it with keys from the vault (never from this file).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quantlib.exceptions import ConfigError
from quantlib.live.risk_gate import RiskLimits
from quantlib.live.types import StrategyMode

__all__ = ["LiveConfig", "StrategyEntry", "load_live_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyEntry(_Strict):
    """One strategy on one symbol."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    strategy: str
    symbol: str = Field(description="exchange symbol, e.g. BTC/USDT")
    data: str = Field(description="bundled/stored series or file for the replay and warm-up")
    mode: StrategyMode = StrategyMode.SUPERVISED
    fraction: float = Field(1.0, gt=0.0, le=1.0)
    lookback: int = Field(500, ge=2)
    params: dict[str, Any] = Field(default_factory=dict)


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


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and validate a live configuration; every problem in one :class:`ConfigError`."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the live config {str(file)!r} ({exc.strerror}). Fix: pass an "
            "existing TOML file, e.g. configs/live.paper.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"live config {str(file)!r} is not valid TOML: {exc}") from None
    try:
        return LiveConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError(f"live config {str(file)!r}: " + "; ".join(problems)) from None
