"""``BacktestConfig``: every setting that changes a backtest's numbers, frozen and hashed.

Costs are on by default: a taker fee of 0.1% per side (maker 0.1%) and 1 bp of slippage on
every market or stop fill. Funding applies only to ``market="perpetual"``, where it is required:
a constant rate here, or a rate series passed to the run (``run_backtest(funding=...)``; the
bundled perpetuals' series load with ``quantlib.data.load_funding``), charged on the mark price
(``run_backtest(mark=...)``) at each funding time. Every fee is charged in the quote asset (the
settlement asset of a linear perpetual). Margin is isolated by default, with one
maintenance-margin rate; ``margin_tiers`` gives a contract's table of notional bands
(:mod:`quantlib.data.tiers`) and ``margin_mode="cross"`` one balance for all positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from quantlib._hashing import stable_hash
from quantlib._validation import describe_settings_errors
from quantlib.data.tiers import MarginTier, margin_tiers
from quantlib.exceptions import ConfigError
from quantlib.execution.costs import FeeAsset, check_fee_asset
from quantlib.risk.limits import check_levels
from quantlib.risk.sizing import FixedFraction, Kelly, RiskPerTrade, VolTarget

__all__ = ["BacktestConfig", "SizerSpec", "make_config", "stable_hash"]

SizerSpec = Annotated[FixedFraction | RiskPerTrade | Kelly | VolTarget, Field(discriminator="kind")]
TierTable = tuple[MarginTier, ...]
# Settings added after configs were first stored: left out of ``model_dump`` (so out of every
# config_id and run id) while they hold their defaults, so older configs keep their ids.
_LATER_DEFAULTS: dict[str, object] = {
    "margin_mode": "isolated",
    "margin_tiers": None,
    "fee_asset": "quote",
}


class BacktestConfig(BaseModel):
    """The settings of one backtest run (unknown fields are refused).

    Examples
    --------
    >>> print(BacktestConfig().describe_costs())  # doctest: +NORMALIZE_WHITESPACE
    fill next_open; taker fee 0.100%, maker fee 0.100% per side; slippage 1.0 bps;
    funding off (spot)
    >>> BacktestConfig(fee=0.001).config_id == BacktestConfig().config_id
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_cash: float = Field(10_000.0, gt=0.0)
    fee: float = Field(0.001, ge=0.0, lt=0.1, description="taker fee per side (fraction)")
    maker_fee: float = Field(0.001, ge=-0.01, lt=0.1, description="maker fee (limit/target fills)")
    slippage: float = Field(1.0, ge=0.0, description="slippage in basis points of the price")
    slippage_range: float = Field(0.0, ge=0.0, le=1.0, description="extra, fraction of bar range")
    fill: Literal["next_open", "close"] = "next_open"
    market: Literal["spot", "perpetual"] = "spot"
    funding_rate: float | None = Field(None, description="constant rate per funding interval")
    funding_interval: str = "8h"
    leverage: float = Field(1.0, ge=1.0, le=125.0)
    maintenance_margin: float = Field(0.004, ge=0.0, lt=1.0)
    liquidation_fee: float = Field(0.005, ge=0.0, lt=1.0)
    margin_mode: Literal["isolated", "cross"] = Field(
        "isolated",
        description=(
            "'isolated': each position is liquidated on its own margin; 'cross' (perpetual "
            "markets): one balance for all positions, the account liquidated on its equity"
        ),
    )
    margin_tiers: TierTable | dict[str, TierTable] | None = Field(
        None,
        description=(
            "maintenance-margin tiers (floor, cap, rate, amount per notional band), one table "
            "for every asset or a mapping asset -> table; None: the single maintenance_margin"
        ),
    )
    fee_asset: FeeAsset = Field(
        "quote", description="the asset fees are charged in: the backtest charges the quote"
    )
    tick_size: float = Field(0.0, ge=0.0)
    lot_size: float = Field(0.0, ge=0.0)
    min_notional: float = Field(0.0, ge=0.0)
    order_ttl: int = Field(1, ge=1, description="bars a limit/stop entry order rests")
    order_expiry: Literal["bars", "time"] = Field(
        "bars",
        description=(
            "'bars': a market entry fills at the asset's next bar however late (after a data "
            "gap too), a limit/stop entry rests order_ttl bars; 'time': a market entry fills "
            "only at the bar one timeframe after its decision, a limit/stop entry only within "
            "order_ttl timeframes, else it is dropped (market entries logged as 'expired')"
        ),
    )
    cash_allocation: Literal["pro_rata", "asset_order"] = Field(
        "pro_rata",
        description=(
            "how entries filling in the same bar share free cash that cannot cover them all: "
            "'pro_rata' in proportion to what each asks, 'asset_order' first come first served"
        ),
    )
    max_positions: int | None = Field(None, ge=1)
    max_entries_per_day: int | None = Field(None, ge=1)
    max_hold: str | None = Field(None, description="e.g. '24h': exit at the first open after")
    max_heat: float | None = Field(
        None, gt=0.0, description="cap on open risk to the stops / equity; blocks entries"
    )
    drawdown_scale_start: float = Field(
        0.0, ge=0.0, lt=1.0, description="drawdown from which sizes shrink (linearly)"
    )
    max_drawdown_halt: float | None = Field(
        None, gt=0.0, lt=1.0, description="drawdown from peak equity that halts entries"
    )
    daily_loss_limit: float | None = Field(
        None, gt=0.0, lt=1.0, description="loss since the UTC day's start that halts entries"
    )
    max_position_notional: float | None = Field(
        None, gt=0.0, description="cap on one position's notional / equity (per asset)"
    )
    max_side_notional: float | None = Field(
        None, gt=0.0, description="cap on all longs' (or all shorts') notional / equity"
    )
    sizer: SizerSpec = FixedFraction()
    periods_per_year: int = Field(365, ge=1, description="annualisation of daily returns")

    @field_validator("funding_interval", "max_hold")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            delta = pd.Timedelta(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a duration; write e.g. '8h' or '24h'") from exc
        if delta <= pd.Timedelta(0):
            raise ValueError(f"{value!r} must be a positive duration")
        return value

    @field_validator("margin_tiers", mode="before")
    @classmethod
    def _tiers(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, Mapping):
            return {str(k): margin_tiers(v, f"margin_tiers[{k!r}]") for k, v in value.items()}
        return margin_tiers(value, "margin_tiers")  # type: ignore[arg-type]

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key, default in _LATER_DEFAULTS.items():
            if getattr(self, key) == default:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _margin_settings(self) -> BacktestConfig:
        check_fee_asset(self.fee_asset, self.market)
        if self.fee_asset != "quote":
            raise ValueError(
                f"fee_asset={self.fee_asset!r}: the backtest charges every fee in the quote "
                "asset (fees in the base are modelled by the paper exchange only). Fix: drop "
                "fee_asset or pass 'quote'"
            )
        if self.market != "perpetual":
            for key in ("margin_mode", "margin_tiers"):
                if getattr(self, key) != _LATER_DEFAULTS[key]:
                    raise ValueError(
                        f"{key} applies to perpetual markets; the run is spot. Fix: pass "
                        f"market='perpetual', or drop {key}"
                    )
        return self

    @model_validator(mode="after")
    def _drawdown_levels(self) -> BacktestConfig:
        check_levels(
            "drawdown_scale_start",
            self.drawdown_scale_start,
            "max_drawdown_halt",
            self.max_drawdown_halt,
            may_equal=False,
        )
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting (the same settings, the same id)."""
        return stable_hash(self.model_dump(mode="json"))

    def describe_costs(self) -> str:
        """One line stating the fill policy and every cost, for every output."""
        if self.market == "perpetual" and self.funding_rate is not None:
            funding = (
                f"funding {self.funding_rate:.4%} per {self.funding_interval} on the mark price "
                "(perpetual)"
            )
        elif self.market == "perpetual":
            funding = "funding from the rate series given to the run, on the mark price (perpetual)"
        else:
            funding = "funding off (spot)"
        text = (
            f"fill {self.fill}; taker fee {self.fee:.3%}, maker fee {self.maker_fee:.3%} per side; "
            f"slippage {self.slippage:.1f} bps"
        )
        if self.slippage_range:
            text += f" + {self.slippage_range:.2%} of the bar range"
        if self.leverage > 1 or self.margin_mode == "cross":
            text += f"; leverage {self.leverage:g}x {self.margin_mode}"
        return f"{text}; {funding}"

    def describe_rules(self) -> tuple[str, ...]:
        """The engine's assumptions for this configuration, one sentence each, for every
        report (the rules ``run_backtest`` documents, with the choices this config makes).

        Examples
        --------
        >>> BacktestConfig().describe_rules()[-1]
        'Funding: not modelled (spot market).'
        """
        fill = (
            "Signals fill at the signal bar's close."
            if self.fill == "close"
            else "Signals decided at a bar's close fill at the next bar's open."
        )
        if self.order_expiry == "time":
            expiry = (
                "Pending orders expire by the clock: a market entry fills only at the bar one "
                "timeframe after its decision, else it is dropped and logged as expired; "
                f"limit/stop entries rest {self.order_ttl} timeframe(s)."
            )
        else:
            expiry = (
                "Pending market entries have no time limit: after a data gap they fill at the "
                f"first bar after it; limit/stop entries rest {self.order_ttl} bar(s)."
            )
        allocation = (
            "Entries filling in the same bar split free cash that cannot cover them all pro "
            "rata to what each asks"
            if self.cash_allocation == "pro_rata"
            else "Entries filling in the same bar take free cash in the order of the assets"
        )
        margin = (
            f"Isolated margin up to {self.leverage:g}x; liquidation modelled (maintenance "
            f"margin {self.maintenance_margin:.2%}, fee {self.liquidation_fee:.2%})."
            if self.leverage > 1
            else "No leverage (1x): a long is never liquidated; a short is liquidated at "
            "its margin."
        )
        if self.market == "perpetual" and self.leverage <= 1:
            margin = margin.replace(
                "never liquidated", "liquidated only once funding spends its margin"
            )
        if self.margin_tiers is not None or self.margin_mode == "cross":
            margin = self._describe_margin()
        if self.market == "perpetual":
            funding = (
                "Funding (perpetual): a position pays side × rate × units × mark price at every "
                "funding time T with entry < T <= exit; the mark price at T is the open of the "
                "mark bar opening at T, else the last mark close before T, and the perpetual's "
                "last price stands in where no mark price covers T. A position held at a bar's "
                "close pays the funding time at the next bar's open; one filled at T does not "
                "pay T. Funding times strictly inside a bar (e.g. 08:00 and 16:00 in a daily "
                "bar) are paid by every position held at any moment inside that bar, since an "
                "intrabar fill's time is unknown. Funding comes out of free cash, then out of "
                "the position's isolated margin (moving its liquidation price closer). "
                "Liquidation and the marking of open positions use the mark price's bars when "
                "they have the bars' timeframe (or a finer one, aggregated), else the last "
                "price."
            )
        else:
            funding = "Funding: not modelled (spot market)."
        return (
            fill,
            "Inside a bar the adverse extreme comes first: a bar reaching stop and target "
            "exits at the stop unless a lower-timeframe path shows otherwise.",
            "A limit entry filled inside a bar takes no target exit in that bar (unless a "
            "lower-timeframe path proves the target came after the fill); its stop may "
            "trigger.",
            "An entry whose fill is already past its own stop is not taken (logged as "
            "stop_gapped).",
            expiry,
            "Margin and entry fee must fit in free cash: an entry the cash cap shrinks is "
            "logged as capped with its intended and allowed size.",
            f"{allocation}; position slots go in the order of the assets.",
            margin,
            funding,
        )

    def _describe_margin(self) -> str:
        """The margin rule of a config with tiers or cross margin (see ``run_backtest``)."""
        if self.margin_tiers is None:
            rate = f"maintenance margin {self.maintenance_margin:.2%} of the notional"
        else:
            tables = (
                f"each contract's tiers ({', '.join(self.margin_tiers)})"
                if isinstance(self.margin_tiers, dict)
                else f"a table of {len(self.margin_tiers)} tier(s)"
            )
            rate = f"maintenance margin = notional x rate - amount of its band, from {tables}"
        if self.margin_mode == "isolated":
            return (
                f"Isolated margin up to {self.leverage:g}x; liquidation on the mark price "
                f"modelled ({rate}, taken at the liquidation price's band; fee "
                f"{self.liquidation_fee:.2%})."
            )
        return (
            f"Cross margin up to {self.leverage:g}x: one balance for all positions ({rate}). "
            "Once per bar, after its stops and targets, the account is tested with every "
            "position at its mark bar's adverse extreme at once: if its equity (cash + margins "
            "+ unrealised P&L on the mark) is at or below the sum of maintenance margins there, "
            "every position is liquidated at the marks where equity first meets it on the "
            "straight path from the bar's mark opens (at the opens when it opens below), "
            f"paying the liquidation fee ({self.liquidation_fee:.2%}, capped at the equity "
            "left); the account never ends below zero."
        )


def make_config(**settings: Any) -> BacktestConfig:
    """A :class:`BacktestConfig` from keyword settings, with pydantic's errors turned into one
    ConfigError that names each bad field (and the closest known name for a mistyped one).

    Examples
    --------
    >>> make_config(fees=0.001)
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: backtest setting 'fees' is unknown; did you mean 'fee'?
    """
    try:
        return BacktestConfig(**settings)
    except ValidationError as exc:
        raise ConfigError(describe_settings_errors(exc, BacktestConfig, "backtest")) from None
