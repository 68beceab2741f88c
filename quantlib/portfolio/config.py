"""``PortfolioConfig``: every setting that changes a rebalanced book's numbers, frozen and hashed.

Costs are on by default, as in :class:`~quantlib.backtest.config.BacktestConfig`: a taker fee
of 0.1% of each order's notional and 1 bp of slippage; short spot legs pay a borrow rate of
10% a year; perpetual legs (``perpetual=``) pay or receive funding instead of borrow, from a
funding series given to the run or a constant ``funding_rate`` (never a silent zero).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quantlib._hashing import stable_hash
from quantlib._validation import describe_settings_errors
from quantlib.exceptions import ConfigError

__all__ = ["DEFAULT_BORROW_RATE", "REBALANCE_RULES", "PortfolioConfig", "make_portfolio_config"]

REBALANCE_RULES: tuple[str, ...] = ("bar", "1D", "1W", "1M")
"""Calendar rebalancing rules: every decision row (``"bar"``), or the last bar of each UTC
day, ISO week (Monday to Sunday) or calendar month."""

DEFAULT_BORROW_RATE = 0.10
"""Borrow rate of a short spot leg, a year (10%): above what spot-margin venues charge for
large caps most of the time, so that a short book is not flattered; set your venue's rate."""


class PortfolioConfig(BaseModel):
    """The settings of one portfolio run (unknown fields are refused).

    Examples
    --------
    >>> print(PortfolioConfig().describe_costs())  # doctest: +NORMALIZE_WHITESPACE
    fill next_open; taker fee 0.100% per order; slippage 1.0 bps; borrow 10.00% a year on
    short legs
    >>> PortfolioConfig(fill="open").fill
    'next_open'
    >>> PortfolioConfig(rebalance="1W").config_id == PortfolioConfig().config_id
    False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_cash: float = Field(10_000.0, gt=0.0)
    fee: float = Field(0.001, ge=0.0, lt=0.1, description="taker fee per order (fraction)")
    slippage: float = Field(1.0, ge=0.0, description="slippage in basis points of the price")
    fill: Literal["next_open", "close"] = Field(
        "next_open",
        description="'next_open' (default; 'open' is accepted): a decision at a bar's close "
        "trades at the next bar's open; 'close': at the same close (labelled in every output)",
    )
    rebalance: Literal["bar", "1D", "1W", "1M"] | None = Field(
        "bar",
        description="'bar': every decision row; '1D'/'1W'/'1M': the last bar of each UTC "
        "day/ISO week/month; None: when a weight drifts beyond drift_band",
    )
    drift_band: float | None = Field(
        None, gt=0.0, lt=1.0, description="absolute weight drift that triggers a rebalance"
    )
    max_gross_leverage: float = Field(1.0, gt=0.0, le=10.0, description="cap on Σ|weight|")
    allow_short: bool = False
    borrow_rate: float = Field(
        DEFAULT_BORROW_RATE, ge=0.0, lt=10.0, description="a year, on short notional"
    )
    lot_size: dict[str, float] = Field(default_factory=dict, description="per asset, units")
    tick_size: dict[str, float] = Field(default_factory=dict, description="per asset, price")
    min_notional: dict[str, float] = Field(default_factory=dict, description="per asset, quote")
    periods_per_year: int | None = Field(
        None, ge=1, description="annualisation of daily returns (None: the data's calendar)"
    )
    perpetual: tuple[str, ...] = Field(
        (),
        description="assets traded as linear perpetual futures: they pay funding (longs pay a "
        "positive rate, shorts receive it) and no borrow",
    )
    funding_rate: float | None = Field(
        None,
        gt=-1.0,
        lt=1.0,
        description="constant rate per funding_interval for perpetual legs without a series",
    )
    funding_interval: str = Field("8h", description="funding period of funding_rate")

    @field_validator("fill", mode="before")
    @classmethod
    def _open_means_next_open(cls, value: object) -> object:
        return "next_open" if value == "open" else value

    @field_validator("lot_size", "tick_size", "min_notional")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for asset, step in value.items():
            if not step >= 0.0:
                raise ValueError(f"{asset!r}: {step!r} must be a number >= 0")
        return value

    @field_validator("perpetual", mode="before")
    @classmethod
    def _asset_names(cls, value: object) -> object:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple | set | frozenset):
            names = sorted({str(name) for name in value})
            if any(not name for name in names):
                raise ValueError("an empty asset name; list the perpetual assets by name")
            return tuple(names)
        return value

    @field_validator("funding_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            step = pd.Timedelta(value)
        except ValueError:
            step = pd.Timedelta(0)
        if step <= pd.Timedelta(0):
            raise ValueError(f"{value!r} is not a positive duration (e.g. '8h', '4h', '1h')")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PortfolioConfig:
        if self.funding_rate is not None and not self.perpetual:
            raise ValueError(
                "funding_rate applies to perpetual legs only and no asset is perpetual. Fix: "
                "name them, e.g. perpetual=('BTCUSDT',), or drop funding_rate"
            )
        if self.rebalance is None and self.drift_band is None:
            raise ValueError(
                "rebalance=None rebalances on drift and needs drift_band (e.g. 0.05); or set "
                f"rebalance to one of {REBALANCE_RULES}"
            )
        if self.rebalance is not None and self.drift_band is not None:
            raise ValueError(
                "drift_band applies with rebalance=None only; set rebalance=None for drift-band "
                "rebalancing, or drop drift_band"
            )
        if self.max_gross_leverage > 1.0 and not self.allow_short:
            raise ValueError(
                "max_gross_leverage above 1 needs allow_short=True: the book borrows no cash "
                "(longs are paid from cash and short proceeds)"
            )
        return self

    @property
    def config_id(self) -> str:
        """A stable 12-hex-digit hash of every setting (the same settings, the same id)."""
        return stable_hash(self.model_dump(mode="json"))

    def describe_costs(self) -> str:
        """One line stating the fill policy and every cost, for every output.

        Examples
        --------
        >>> PortfolioConfig(perpetual=("BTCUSDT",), funding_rate=0.0001).describe_costs()
        ... # doctest: +NORMALIZE_WHITESPACE
        'fill next_open; taker fee 0.100% per order; slippage 1.0 bps; borrow 10.00% a year on
        short spot legs; funding 0.0100% per 8h on perpetual legs (BTCUSDT)'
        """
        text = (
            f"fill {self.fill}; taker fee {self.fee:.3%} per order; slippage "
            f"{self.slippage:.1f} bps; borrow {self.borrow_rate:.2%} a year on short "
            + ("spot legs" if self.perpetual else "legs")
        )
        if not self.perpetual:
            return text
        legs = ", ".join(self.perpetual)
        if self.funding_rate is None:
            return f"{text}; funding from the series given to the run on perpetual legs ({legs})"
        return (
            f"{text}; funding {self.funding_rate:.4%} per {self.funding_interval} on perpetual "
            f"legs ({legs})"
        )

    def describe_rules(self) -> tuple[str, ...]:
        """The engine's assumptions for this configuration, one sentence each.

        Examples
        --------
        >>> PortfolioConfig(rebalance="1M").describe_rules()[1]
        'Rebalance at the close of the last bar of each calendar month (UTC), and at the first bar.'
        """
        fill = (
            "Target weights trade at the close they are decided at."
            if self.fill == "close"
            else "Target weights decided at a bar's close trade at the next bar's open."
        )
        periods = {"1D": "UTC day", "1W": "ISO week (UTC)", "1M": "calendar month (UTC)"}
        if self.rebalance is None:
            when = (
                f"Rebalance when an actual weight is more than {self.drift_band:g} from its "
                "target at a close (and at the first decision)."
            )
        elif self.rebalance == "bar":
            when = "Rebalance at every decision row of the weights (NaN rows: no decision)."
        else:
            when = (
                f"Rebalance at the close of the last bar of each {periods[self.rebalance]}, "
                "and at the first bar."
            )
        return (
            fill,
            when,
            "Weights become units on the pre-trade value of the book at the trading price "
            "(this rebalance's fees not deducted); fees are charged on top of each order; "
            "sells go first, then buys in ascending notional; a cash shortfall shrinks the "
            "last buy, fees included (vectorbt's targetpercent rule with call_seq='auto').",
            "An asset enters the universe with its first bar and leaves after its last "
            "(delisting): its position is closed at its last close, and its target weight "
            "goes to the rest in proportion to their gross weight.",
            f"Gross weight is capped at {self.max_gross_leverage:g}; "
            + ("short legs allowed." if self.allow_short else "long only."),
            *self._perpetual_rules(),
        )

    def _perpetual_rules(self) -> tuple[str, ...]:
        if not self.perpetual:
            return ()
        return (
            "Perpetual legs ("
            + ", ".join(self.perpetual)
            + ") are linear contracts held at 1x: a long's notional is set aside from cash and "
            "a short's proceeds join it (margin leverage is not modelled here); they pay no "
            "borrow.",
            "A perpetual position held through a bar (traded at or before its open) pays, at "
            "the bar's close, units × that close × the summed rate of the funding times in "
            "(bar open, next bar open] (longs pay a positive rate, shorts receive it); a "
            "position traded at the close pays from the next bar on. run_backtest prices each "
            "funding time on the mark price instead.",
        )


def make_portfolio_config(**settings: Any) -> PortfolioConfig:
    """A :class:`PortfolioConfig` from keyword settings, with pydantic's errors turned into one
    ConfigError that names each bad field (and the closest known name for a mistyped one).

    Examples
    --------
    >>> make_portfolio_config(rebalnce="1W")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: portfolio setting 'rebalnce' is unknown; did you mean 'rebalance'?
    """  # noqa: E501
    try:
        return PortfolioConfig(**settings)
    except ValidationError as exc:
        raise ConfigError(describe_settings_errors(exc, PortfolioConfig, "portfolio")) from None
