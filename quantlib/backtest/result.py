"""``BacktestResult``: the trade ledger, equity, positions and the configuration behind them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib.backtest.config import BacktestConfig, stable_hash

if TYPE_CHECKING:
    from quantlib.analytics.summary import PerformanceSummary

__all__ = ["BLOCKS", "EXIT_REASONS", "TRADE_COLUMNS", "BacktestResult", "run_config_id"]

# Why an entry was not taken (the block log's ``reason``), in kernel code order.
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


@dataclass(frozen=True)
class BacktestResult:
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
        an exit fee.
    equity : Series
        Account equity marked at each bar's close (cash + margin + unrealised P&L).
    positions : DataFrame
        Signed quantity held per asset at each close.
    exposure : Series
        Gross notional of open positions / equity at each close.
    config : BacktestConfig
        The settings of the run; ``strategy`` and ``params`` name the signal rules.
    skipped : dict
        Entries not taken, counted by reason (``BLOCKS``), plus ``limits`` = those stopped by
        ``max_positions``, ``max_entries_per_day`` or a missing stop under risk sizing.
    blocks : DataFrame
        The block log: one row per entry not taken (``time`` of the fill attempt, ``asset``,
        ``reason``), in order.
    """

    trades: pd.DataFrame
    equity: pd.Series
    positions: pd.DataFrame
    exposure: pd.Series
    config: BacktestConfig
    strategy: str
    params: Mapping[str, Any]
    timeframe: str
    bars: Mapping[str, pd.DataFrame] = field(repr=False)
    skipped: Mapping[str, int] = field(default_factory=dict)
    blocks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

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
        return len(self.trades)

    @property
    def open_position(self) -> bool:
        """Whether a position is still open after the last bar."""
        return bool((self.trades["exit_reason"] == "open").any())

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
        annualised with ``config.periods_per_year``)."""
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

    def describe(self) -> str:
        """One line naming the run, its period and its costs."""
        start, end = self.period
        return (
            f"{self.strategy} {dict(self.params)} on {', '.join(self.assets)} {self.timeframe}, "
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC; {self.config.describe_costs()}; "
            f"config {self.config_id}"
        )
