"""``BacktestResult``: the trade ledger, equity, positions and the configuration behind them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from quantlib import results
from quantlib.backtest.config import BacktestConfig, stable_hash
from quantlib.results import UNBUILT, BuiltOnAccess, FramesOnAccess

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary

__all__ = [
    "BLOCKS",
    "BLOCK_COLUMNS",
    "BLOCK_LIMITS",
    "EXIT_REASONS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "FrameSource",
    "SizingSummary",
    "run_config_id",
]

# Why an entry was not taken, or taken smaller than the sizer asked ("capped"): the block
# log's ``reason``, in kernel code order.
BLOCKS: tuple[str, ...] = (
    "max_positions",
    "max_entries_per_day",
    "no_stop",
    "no_cash",
    "below_min_notional",
    "heat",
    "drawdown_halt",
    "daily_loss_limit",
    "kelly_no_edge",
    "notional_cap",
    "no_size",
    "capped",
    "stop_gapped",
    "expired",
)
# The cap that bound a "capped" (or a "no_cash"/"notional_cap") entry: the block log's ``limit``.
BLOCK_LIMITS: tuple[str, ...] = ("", "cash", "max_position_notional", "max_side_notional")
BLOCK_COLUMNS: tuple[str, ...] = (
    "time",
    "asset",
    "reason",
    "limit",
    "price",
    "intended_size",
    "allowed_size",
    "intended_notional",
    "allowed_notional",
)

EXIT_REASONS: tuple[str, ...] = (
    "open",
    "signal",
    "stop",
    "target",
    "trailing_stop",
    "liquidation",
    "time",
    "reverse",
    "window_end",
)
TRADE_COLUMNS: tuple[str, ...] = (
    "asset",
    "strategy",
    "timeframe",
    "side",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "size",
    "notional",
    "margin",
    "stop",
    "target",
    "entry_fee",
    "exit_fee",
    "fees",
    "funding",
    "pnl",
    "return",
    "r_multiple",
    "mae",
    "mfe",
    "exit_reason",
    "bars_held",
    "tag",
    "equity_at_entry",
    "intended_size",
    "risk_at_entry",
    "intended_risk",
)


def run_config_id(
    config: BacktestConfig,
    strategy: str,
    params: Mapping[str, Any],
    assets: list[str],
    timeframe: str,
) -> str:
    """The ``config_id`` of a run: a hash of the engine settings, the strategy, its parameters,
    the assets and the timeframe."""
    return stable_hash(
        {
            "config": config.model_dump(mode="json"),
            "strategy": strategy,
            "params": dict(params),
            "assets": assets,
            "timeframe": timeframe,
        }
    )


class FrameSource(results.FrameSource, Protocol):
    """What a :class:`BacktestResult` builds its frames from on first access: the event
    loop's raw output (:class:`quantlib.backtest.simulation.ResultFrames`)."""

    @property
    def n_trades(self) -> int:
        """Entries taken (the ledger's rows), without building the ledger."""
        ...


_QUANTILES: tuple[tuple[str, float], ...] = (
    ("min", 0.0),
    ("25%", 0.25),
    ("median", 0.5),
    ("75%", 0.75),
    ("max", 1.0),
)


@dataclass(frozen=True)
class SizingSummary:
    """How the sizer's intent met the account: entries taken, capped and blocked, and the
    distribution of realised against intended size at entry.

    Attributes
    ----------
    entries : int
        Entries taken (positions opened).
    capped : dict
        Entries taken smaller than the sizer asked, by the cap that bound (``cash``,
        ``max_position_notional``, ``max_side_notional``).
    blocked : dict
        Entries not taken, by reason (only reasons that occurred).
    distribution : DataFrame
        Rows ``realised risk at entry`` (size × |entry − stop| / equity at entry),
        ``intended risk at entry`` (the same for the sizer's quantity before caps) and
        ``notional / equity at entry``; columns ``count`` (entries with a value) and the
        quantiles ``min``, ``25%``, ``median``, ``75%``, ``max`` (NaN when no entry has one).
    """

    entries: int
    capped: Mapping[str, int]
    blocked: Mapping[str, int]
    distribution: pd.DataFrame

    @classmethod
    def from_ledgers(cls, trades: pd.DataFrame, blocks: pd.DataFrame) -> SizingSummary:
        """Count and describe the entries of a trade ledger and its block log."""
        rows = {
            "realised risk at entry": trades["risk_at_entry"],
            "intended risk at entry": trades["intended_risk"],
            "notional / equity at entry": trades["notional"] / trades["equity_at_entry"],
        }
        table = {}
        for label, values in rows.items():
            finite = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            finite = finite[np.isfinite(finite)]
            quantiles = (
                np.quantile(finite, [q for _, q in _QUANTILES])
                if len(finite)
                else np.full(len(_QUANTILES), np.nan)
            )
            table[label] = [float(len(finite)), *quantiles.tolist()]
        distribution = pd.DataFrame.from_dict(
            table, orient="index", columns=["count", *(name for name, _ in _QUANTILES)]
        )
        distribution["count"] = distribution["count"].astype(int)
        reasons = blocks["reason"] if len(blocks) else pd.Series([], dtype=object)
        capped_rows = blocks[reasons == "capped"] if len(blocks) else blocks
        return cls(
            entries=len(trades),
            capped={str(k): int(v) for k, v in capped_rows["limit"].value_counts().items()}
            if len(capped_rows)
            else {},
            blocked={
                str(k): int(v) for k, v in reasons[reasons != "capped"].value_counts().items()
            },
            distribution=distribution,
        )

    @property
    def median_risk(self) -> float:
        """Median realised risk at entry, as a fraction of equity (NaN: no entry had a stop)."""
        return float(self.distribution["median"].to_numpy(np.float64)[0])

    @property
    def n_capped(self) -> int:
        return sum(self.capped.values())

    @property
    def n_blocked(self) -> int:
        return sum(self.blocked.values())

    def to_frame(self) -> pd.DataFrame:
        """The distribution table."""
        return self.distribution

    def __str__(self) -> str:
        capped = ", ".join(f"{k} {v}" for k, v in self.capped.items()) or "none"
        blocked = ", ".join(f"{k} {v}" for k, v in self.blocked.items()) or "none"
        table = self.distribution.to_string(float_format="{:.4f}".format)
        return (
            f"Entries taken {self.entries}; capped {self.n_capped} ({capped}); blocked "
            f"{self.n_blocked} ({blocked})\n{table}"
        )


@dataclass(frozen=True)
class BacktestResult(FramesOnAccess):
    """What one backtest produced.

    Attributes
    ----------
    trades : DataFrame
        One row per position, in entry order (columns ``TRADE_COLUMNS``): times are fill times
        (a bar's open, or its close with ``fill="close"``; an exit inside a bar is stamped at
        that bar's open); ``pnl`` is net of both fees and funding; ``return`` = pnl / notional;
        ``r_multiple`` = pnl / (size × |entry − stop|); ``mae``/``mfe`` are the worst/best
        excursions as fractions of the entry price. A position still open after the last bar
        has ``exit_reason="open"``, no exit price and its pnl marked to the last close without
        an exit fee. ``bars_held`` counts bar lengths from the fill to the exit. Sizing at
        entry: ``equity_at_entry`` (the equity the sizer saw), ``intended_size`` (the sizer's
        quantity before any cap), ``risk_at_entry`` = size × |entry − stop| / equity at entry
        (the realised risk to the stop; NaN without a stop) and ``intended_risk``, the same
        for the intended size.
    equity : Series
        Account equity marked at each bar's close (cash + margin + unrealised P&L).
    positions : DataFrame
        Signed quantity held per asset at each close.
    exposure : Series
        Gross notional of open positions / equity at each close.
    config : BacktestConfig
        The settings of the run; ``strategy`` and ``params`` name the signal rules.
    skipped : dict
        Block-log rows counted by reason (``BLOCKS``): entries not taken, and ``capped`` =
        entries taken smaller than the sizer asked; plus ``limits`` = those stopped by
        ``max_positions``, ``max_entries_per_day`` or a missing stop under risk sizing.
    blocks : DataFrame
        The block log (columns ``BLOCK_COLUMNS``), in order: one row per entry not taken or
        shrunk by a cap, with the ``time`` of the fill attempt, ``asset``, ``reason``, the
        ``limit`` that bound (``cash``, ``max_position_notional``, ``max_side_notional``; empty
        for other reasons), the fill ``price``, and the sizer's ``intended_size`` beside the
        ``allowed_size`` (0 when blocked; NaN intended: the entry was not sized) and their
        notionals. Reasons: ``capped`` (taken, smaller), ``no_cash`` (nothing affordable),
        ``stop_gapped`` (the fill was already past the signal's stop), ``expired`` (a market
        entry that could not fill one timeframe after its decision, ``order_expiry="time"``),
        and the risk rules' and limits' own.
    funding_events, funding_stand_ins : dict
        Perpetual runs, per asset: the funding events within the asset's bars, and how many
        of them were priced at the perpetual's last price because no mark price covered them
        (all of them when the run was given no mark prices). Empty on spot.
    notes : tuple of str
        The fallbacks the run took on its data (no mark price, a mark timeframe that cannot
        decide liquidation, bars without a mark bar), one sentence each; part of
        :meth:`assumptions`.
    source : FrameSource, optional
        The event loop's raw output. ``trades``, ``equity``, ``positions``, ``exposure`` and
        ``blocks`` not given are built from it on first access (a run that only needs the
        final equity or the count of trades builds no frame); pickling and copying build
        them all and drop it.
    """

    config: BacktestConfig
    strategy: str
    params: Mapping[str, Any]
    timeframe: str
    bars: Mapping[str, pd.DataFrame] = field(repr=False)
    trades: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    equity: pd.Series = field(default=BuiltOnAccess())  # type: ignore[arg-type]
    positions: pd.DataFrame = field(default=BuiltOnAccess())  # type: ignore[assignment]
    exposure: pd.Series = field(default=BuiltOnAccess())  # type: ignore[arg-type]
    skipped: Mapping[str, int] = field(default_factory=dict)
    blocks: pd.DataFrame = field(default=BuiltOnAccess(), repr=False)  # type: ignore[assignment]
    funding_events: Mapping[str, int] = field(default_factory=dict)
    funding_stand_ins: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: FrameSource | None = field(default=None, repr=False, compare=False)

    @property
    def config_id(self) -> str:
        """Hash of the engine settings, the strategy and its parameters."""
        return run_config_id(
            self.config, self.strategy, self.params, list(self.bars), self.timeframe
        )

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.bars)

    @property
    def final_equity(self) -> float:
        """Equity after the last bar (open positions marked to the last close, no exit fee)."""
        return float(self.equity.iloc[-1])

    @property
    def n_trades(self) -> int:
        """Every entry, a position still open included."""
        if self.__dict__.get("trades", UNBUILT) is UNBUILT and self.source is not None:
            return self.source.n_trades
        return len(self.trades)

    @property
    def open_position(self) -> bool:
        """Whether a position is still open after the last bar."""
        return bool((self.trades["exit_reason"] == "open").any())

    @property
    def funding_paid(self) -> float:
        """Funding paid over the run, in the quote currency (signed: positive = paid, negative
        = received), the open position's included."""
        return float(self.trades["funding"].sum())

    @property
    def fees_paid(self) -> float:
        """Fees paid over the run, in the quote currency: every entry fee and the exit fees of
        the closed positions (liquidation fees included; slippage is in the fill prices)."""
        return float(self.trades["fees"].sum())

    def assumptions(self) -> tuple[str, ...]:
        """The engine's rules for this configuration (``config.describe_rules()``), then what
        this run's data made of them: the funding events charged per asset and how many were
        priced at the last price for want of a mark price, and each fallback the run took."""
        lines = list(self.config.describe_rules())
        if self.funding_events:
            counts = "; ".join(
                f"{asset} {n:,} events, {self.funding_stand_ins.get(asset, 0):,} of them "
                "priced at the perpetual's last price (no mark price at that time)"
                for asset, n in self.funding_events.items()
            )
            lines.append(f"Funding events within the bars: {counts}.")
        return (*lines, *self.notes)

    @cached_property
    def data_sha256(self) -> dict[str, str]:
        """SHA-256 of each asset's OHLCV values and timestamps (what the run actually saw)."""
        digests = {}
        for asset, bars in self.bars.items():
            digest = hashlib.sha256(pd.DatetimeIndex(bars.index).asi8.tobytes())
            for column in ("open", "high", "low", "close", "volume"):
                digest.update(np.ascontiguousarray(bars[column].to_numpy(np.float64)).tobytes())
            digests[asset] = digest.hexdigest()
        return digests

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return self.equity.index[0], self.equity.index[-1]

    def summary(
        self,
        *,
        benchmark: pd.Series | None = None,
        n_trials: int = 1,
        trials_sharpe_variance: float | None = None,
    ) -> PerformanceSummary:
        """Performance metrics of the equity curve and the trade ledger (daily returns,
        annualised with ``config.periods_per_year``): a :class:`~quantlib.results.Summary`
        whose ``str()`` is the aligned table and whose attributes keep the typed figures."""
        from quantlib.analytics.summary import performance_summary

        return performance_summary(
            self.equity,
            self.trades,
            benchmark=benchmark,
            periods_per_year=self.config.periods_per_year,
            n_trials=n_trials,
            trials_sharpe_variance=trials_sharpe_variance,
            exposure=self.exposure,
        )

    def to_frame(self) -> pd.DataFrame:
        """The trade ledger."""
        return self.trades

    def sizing(self) -> SizingSummary:
        """Entries taken, capped and blocked, and realised against intended risk at entry
        (:class:`SizingSummary`): whether the sizer's rule was applied as stated."""
        return SizingSummary.from_ledgers(self.trades, self.blocks)

    def describe(self) -> str:
        """One line naming the run, its period and its costs."""
        start, end = self.period
        paid = ""
        if self.config.market == "perpetual":
            paid = f"; fees paid {self.fees_paid:,.2f}, funding paid {self.funding_paid:,.2f}"
        return (
            f"{self.strategy} {dict(self.params)} on {', '.join(self.assets)} {self.timeframe}, "
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC; {self.config.describe_costs()}"
            f"{paid}; config {self.config_id}"
        )
