"""The event loop's raw output (:class:`Simulation`) and the :class:`BacktestResult` built from
it: the trade ledger, the equity and exposure curves, the positions and the blocked entries.

Part of :mod:`quantlib.backtest.engine` (which re-exports :class:`Simulation`): the engine
prepares the inputs and runs the kernel, this module turns the kernel's arrays into frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlib.backtest import _kernels as kernels
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import (
    BLOCK_COLUMNS,
    BLOCK_LIMITS,
    BLOCKS,
    EXIT_REASONS,
    TRADE_COLUMNS,
    BacktestResult,
)
from quantlib.data.timeframes import parse_timeframe

__all__ = ["ResultFrames", "Simulation", "assemble"]


@dataclass(frozen=True)
class Simulation:
    """The raw output of the event loop (arrays), before the frames of a BacktestResult.

    ``close`` holds the marks at each close (the mark price's close on a perpetual run given
    one); ``funding_events``, ``funding_stand_ins`` and ``notes`` are
    :class:`~quantlib.backtest.perpetual.PerpetualInputs`' counts and fallbacks.
    """

    config: BacktestConfig
    assets: list[str]
    frames: dict[str, pd.DataFrame]
    signals: dict[str, pd.DataFrame]
    grid: pd.DatetimeIndex
    timeframe: str
    close: np.ndarray
    equity: np.ndarray
    qty: np.ndarray
    gross: np.ndarray
    float_records: np.ndarray
    int_records: np.ndarray
    block_codes: np.ndarray
    block_sizes: np.ndarray
    funding_events: Mapping[str, int] = field(default_factory=dict)
    funding_stand_ins: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def closed_pnl(self) -> np.ndarray:
        """Net P&L of the closed trades, in entry order."""
        closed = self.int_records[:, kernels.I_EXIT_BAR] >= 0
        return np.asarray(self.float_records[closed, kernels.R_PNL], dtype=np.float64)


def assemble(sim: Simulation, strategy: str, params: Mapping[str, Any] | None) -> BacktestResult:
    """A :class:`BacktestResult` of the raw output of the event loop. Its frames (ledger,
    equity, positions, exposure, blocked entries) are built on first access
    (:class:`ResultFrames`)."""
    return BacktestResult(
        config=sim.config,
        strategy=strategy,
        params=dict(params or {}),
        timeframe=sim.timeframe,
        bars=sim.frames,
        skipped=_skipped(sim.block_codes[:, kernels.BL_REASON]),
        funding_events=dict(sim.funding_events),
        funding_stand_ins=dict(sim.funding_stand_ins),
        notes=sim.notes,
        source=ResultFrames(sim, strategy),
    )


@dataclass(frozen=True)
class ResultFrames:
    """Builds a :class:`BacktestResult`'s frames from the raw output of the event loop
    (its :class:`~quantlib.backtest.result.FrameSource`)."""

    sim: Simulation
    strategy: str

    @property
    def n_trades(self) -> int:
        return len(self.sim.float_records)

    def frame(self, name: str) -> Any:
        sim = self.sim
        if name == "trades":
            return _ledger(
                sim.float_records, sim.int_records, sim.assets, sim.grid, sim.close, sim.config,
                self.strategy, sim.timeframe, sim.signals,
            )  # fmt: skip
        if name == "equity":
            return pd.Series(sim.equity, index=sim.grid, name="equity")
        if name == "positions":
            return pd.DataFrame(sim.qty.T, index=sim.grid, columns=sim.assets)
        if name == "exposure":
            exposure = np.divide(
                sim.gross, sim.equity, out=np.zeros(len(sim.grid)), where=sim.equity > 0
            )
            return pd.Series(exposure, index=sim.grid, name="exposure")
        if name == "blocks":
            return _blocks(sim)
        raise KeyError(f"a backtest result has no frame {name!r}")


def _blocks(sim: Simulation) -> pd.DataFrame:
    logged, sizes, k = sim.block_codes, sim.block_sizes, kernels
    price = sizes[:, k.BS_PRICE]
    return pd.DataFrame(
        {
            "time": sim.grid[logged[:, k.BL_BAR]],
            "asset": np.array(sim.assets, dtype=object)[logged[:, k.BL_ASSET]],
            "reason": np.array(BLOCKS, dtype=object)[logged[:, k.BL_REASON]],
            "limit": np.array(BLOCK_LIMITS, dtype=object)[logged[:, k.BL_LIMIT]],
            "price": price,
            "intended_size": sizes[:, k.BS_INTENDED],
            "allowed_size": sizes[:, k.BS_ALLOWED],
            "intended_notional": sizes[:, k.BS_INTENDED] * price,
            "allowed_notional": sizes[:, k.BS_ALLOWED] * price,
        },
        columns=list(BLOCK_COLUMNS),
    )


_LIMITS = ("max_positions", "max_entries_per_day", "no_stop")


def _skipped(codes: np.ndarray) -> dict[str, int]:
    tally = np.bincount(codes, minlength=len(BLOCKS))
    counts = {reason: int(tally[i]) for i, reason in enumerate(BLOCKS)}
    counts["limits"] = sum(counts[reason] for reason in _LIMITS)
    return counts


def _ledger(
    frec: np.ndarray,
    irec: np.ndarray,
    assets: list[str],
    grid: pd.DatetimeIndex,
    close: np.ndarray,
    config: BacktestConfig,
    strategy: str,
    timeframe: str,
    signals: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    k = kernels
    side = irec[:, k.I_SIDE].astype(np.float64)
    asset_i = irec[:, k.I_ASSET]
    entry_bar = irec[:, k.I_ENTRY_BAR]
    exit_bar = irec[:, k.I_EXIT_BAR]
    is_open = exit_bar < 0
    reason = irec[:, k.I_REASON]
    size = frec[:, k.R_SIZE]
    entry_px = frec[:, k.R_ENTRY_PRICE]
    last_close = np.array(
        [row[np.flatnonzero(~np.isnan(row))[-1]] for row in close], dtype=np.float64
    )
    pnl = frec[:, k.R_PNL].copy()
    if is_open.any():
        mark = last_close[asset_i[is_open]]
        pnl[is_open] = (
            side[is_open] * size[is_open] * (mark - entry_px[is_open])
            - frec[is_open, k.R_ENTRY_FEE]
            - frec[is_open, k.R_FUNDING]
        )
    notional = entry_px * size
    distance = np.abs(entry_px - frec[:, k.R_STOP])
    risk = size * distance
    equity_at_entry = frec[:, k.R_EQUITY]
    bar = parse_timeframe(timeframe).delta  # the kernel's bar length (fills at the close)
    at_close = config.fill == "close"
    entry_ns = grid.asi8[entry_bar]
    exit_ns = grid.asi8[np.maximum(exit_bar, 0)]
    bars_held = np.where(is_open, len(grid) - 1, exit_bar) - entry_bar
    if at_close:
        # Signal fills happen at the signal bar's close; exits inside a bar or at its open
        # (stops, targets, time) come a bar's length after the close they are counted from.
        at_bar_close = np.isin(reason, (k.SIGNAL, k.REVERSE))
        entry_ns = entry_ns + bar.value
        exit_ns = np.where(at_bar_close, exit_ns + bar.value, exit_ns)
        bars_held = bars_held - ((~is_open) & (~at_bar_close)).astype(np.int64)
    entry_time = pd.DatetimeIndex(entry_ns.view("datetime64[ns]")).tz_localize("UTC")
    exit_time = pd.DatetimeIndex(
        np.where(is_open, np.datetime64("NaT", "ns"), exit_ns.view("datetime64[ns]"))
    ).tz_localize("UTC")
    low, high = frec[:, k.R_LOW], frec[:, k.R_HIGH]
    long = side > 0
    mae = np.where(long, low / entry_px - 1.0, 1.0 - high / entry_px)
    mfe = np.where(long, high / entry_px - 1.0, 1.0 - low / entry_px)
    tags = np.full(len(frec), "", dtype=object)
    for i, asset in enumerate(assets):
        if "tag" in signals[asset].columns:
            mine = asset_i == i
            if mine.any():
                # The tag of the signal that opened each trade: the last signal bar before entry.
                sig_tags = signals[asset]["tag"].reindex(grid).astype(object).to_numpy()
                sig_bar = np.maximum(entry_bar[mine] - (0 if at_close else 1), 0)
                tags[mine] = sig_tags[sig_bar]
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "asset": np.array(assets, dtype=object)[asset_i],
                "strategy": strategy,
                "timeframe": timeframe,
                "side": np.where(long, "long", "short"),
                "entry_time": entry_time,
                "exit_time": exit_time,
                "entry_price": entry_px,
                "exit_price": np.where(is_open, np.nan, frec[:, k.R_EXIT_PRICE]),
                "size": size,
                "notional": notional,
                "margin": frec[:, k.R_MARGIN],
                "stop": frec[:, k.R_STOP],
                "target": frec[:, k.R_TARGET],
                "entry_fee": frec[:, k.R_ENTRY_FEE],
                "exit_fee": np.where(is_open, 0.0, frec[:, k.R_EXIT_FEE]),
                "fees": frec[:, k.R_ENTRY_FEE] + np.where(is_open, 0.0, frec[:, k.R_EXIT_FEE]),
                "funding": frec[:, k.R_FUNDING],
                "pnl": pnl,
                "return": pnl / notional,
                "r_multiple": np.where(risk > 0, pnl / risk, np.nan),
                "mae": np.minimum(mae, 0.0),
                "mfe": np.maximum(mfe, 0.0),
                "exit_reason": np.array(EXIT_REASONS, dtype=object)[reason],
                "bars_held": bars_held,
                "equity_at_entry": equity_at_entry,
                "intended_size": frec[:, k.R_INTENDED],
                "risk_at_entry": risk / equity_at_entry,
                "intended_risk": frec[:, k.R_INTENDED] * distance / equity_at_entry,
                "tag": tags,
            },
            columns=list(TRADE_COLUMNS),
        )
    return frame
