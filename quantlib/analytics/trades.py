r"""Statistics of a trade ledger: how often trades win, by how much, and how they end.

The ledger is the frame the backtest engine writes, one row per trade, with at least the
columns ``side`` (``"long"``/``"short"``), ``exit_time`` (NaT while open), ``pnl`` (net of
fees and funding), ``return`` (pnl / notional), ``r_multiple`` (pnl / initial risk, NaN
without a stop), ``bars_held`` and ``exit_reason``. Statistics are computed over **closed**
trades; open ones are only counted (their P&L is not realised yet).

A trade with ``pnl > 0`` is a win, ``pnl < 0`` a loss and ``pnl == 0`` a scratch, which
counts in the win rate's denominator but is neither a win nor a loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np
import pandas as pd

from quantlib._validation import check_event_frame
from quantlib.exceptions import DataError

__all__ = ["TRADE_COLUMNS", "TradeStats", "exits_by_reason", "side_split", "trade_stats"]

TRADE_COLUMNS: tuple[str, ...] = (
    "side",
    "exit_time",
    "pnl",
    "return",
    "r_multiple",
    "bars_held",
    "exit_reason",
)
"""Ledger columns the statistics read."""

_PRODUCER = "the backtest engine's trade ledger"
_SIDES = ("long", "short")


@dataclass(frozen=True)
class TradeStats:
    """Statistics of the closed trades of a ledger (amounts in account currency).

    Attributes
    ----------
    n_trades, n_closed, n_open : int
        All trades, closed ones and still-open ones (``n_trades = n_closed + n_open``).
    n_wins, n_losses : int
        Closed trades with pnl > 0 and pnl < 0.
    win_rate : float
        ``n_wins / n_closed``; NaN without closed trades.
    profit_factor : float
        Gross profit over gross loss; ``inf`` with wins and no losses, NaN with neither.
    expectancy, expectancy_return : float
        Mean pnl and mean return per closed trade.
    avg_r : float
        Mean R multiple over closed trades that had a stop; NaN if none had.
    avg_win, avg_loss : float
        Mean pnl of wins (> 0) and of losses (< 0); NaN if there are none.
    largest_win, largest_loss : float
        Largest pnl among wins and smallest (most negative) among losses; NaN if none.
    avg_bars_held : float
        Mean bars held by closed trades.
    total_pnl, gross_profit, gross_loss : float
        Sum of pnl, of positive pnl, and of negative pnl (<= 0) over closed trades.
    n_long, n_short : int
        Closed long and short trades.
    long_win_rate, short_win_rate, long_pnl, short_pnl : float
        Win rate and total pnl of each side's closed trades.
    exits_by_reason : Mapping[str, int]
        Closed trades per exit reason (not part of :meth:`to_dict`).
    """

    n_trades: int
    n_closed: int
    n_open: int
    n_wins: int
    n_losses: int
    win_rate: float
    profit_factor: float
    expectancy: float
    expectancy_return: float
    avg_r: float
    avg_win: float
    avg_loss: float
    largest_win: float
    largest_loss: float
    avg_bars_held: float
    total_pnl: float
    gross_profit: float
    gross_loss: float
    n_long: int
    n_short: int
    long_win_rate: float
    short_win_rate: float
    long_pnl: float
    short_pnl: float
    exits_by_reason: Mapping[str, int] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, float | int]:
        """Every numeric field as a flat dict (NaN/inf kept, see the attribute notes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "exits_by_reason"}


def _ledger(trades: object) -> tuple[pd.DataFrame, np.ndarray]:
    """The ledger checked, and a mask of its closed trades."""
    frame = check_event_frame("trades", trades, TRADE_COLUMNS, _PRODUCER, error=DataError)
    sides = frame["side"].astype("string")
    bad_side = ~sides.isin(_SIDES).fillna(False).to_numpy(dtype=bool)
    if bad_side.any():
        pos = int(np.argmax(bad_side))
        raise DataError(
            f"trades['side'] must be 'long' or 'short', got {frame['side'].iloc[pos]!r} in "
            f"row {pos}. Fix: pass {_PRODUCER}",
            rule="unknown side",
            position=pos,
        )
    closed = ~frame["exit_time"].isna().to_numpy(dtype=bool)
    for column in ("pnl", "return", "bars_held"):
        try:
            values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"trades[{column!r}] must be numeric", rule="not numeric") from exc
        bad = closed & ~np.isfinite(values)
        if bad.any():
            pos = int(np.argmax(bad))
            raise DataError(
                f"trades[{column!r}] is NaN or infinite for closed trade in row {pos}. "
                "Fix: a trade with an exit_time needs its realised values",
                rule="closed trade without values",
                position=pos,
            )
    return frame, closed


def _col(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _profit_factor(pnl: np.ndarray) -> float:
    gains = float(pnl[pnl > 0].sum())
    losses = -float(pnl[pnl < 0].sum())
    if losses == 0.0:
        return math.inf if gains > 0 else math.nan
    return gains / losses


def _win_rate(pnl: np.ndarray) -> float:
    return float(np.count_nonzero(pnl > 0) / len(pnl)) if len(pnl) else math.nan


def trade_stats(trades: pd.DataFrame) -> TradeStats:
    r"""Win rate, profit factor, expectancy and the rest over the closed trades of a ledger.

    Parameters
    ----------
    trades : pandas.DataFrame
        The trade ledger (see the module docstring for the columns read). May be empty.

    Returns
    -------
    TradeStats

    Raises
    ------
    DataError
        If a column is missing, a side is not ``"long"``/``"short"``, or a closed trade has
        a NaN pnl, return or bars held.

    Notes
    -----
    Over closed trades :math:`i` with net pnl :math:`p_i`:

    .. math::
        WR = \frac{\#\{p_i > 0\}}{n}, \quad
        PF = \frac{\sum_{p_i > 0} p_i}{\left|\sum_{p_i < 0} p_i\right|}, \quad
        E = \frac1n \sum_i p_i, \quad
        \bar R = \operatorname{mean}\{R_i : R_i \text{ defined}\}

    Examples
    --------
    >>> ledger = pd.DataFrame({
    ...     "side": ["long", "short", "long"],
    ...     "exit_time": pd.to_datetime(["2024-01-02", "2024-01-03", None], utc=True),
    ...     "pnl": [30.0, -10.0, float("nan")], "return": [0.03, -0.01, float("nan")],
    ...     "r_multiple": [1.5, -0.5, float("nan")], "bars_held": [3, 1, 2],
    ...     "exit_reason": ["take_profit", "stop_loss", "open"]})
    >>> s = trade_stats(ledger)
    >>> s.n_trades, s.n_closed, s.win_rate, s.profit_factor, s.expectancy, s.avg_r
    (3, 2, 0.5, 3.0, 10.0, 0.5)
    """
    frame, closed = _ledger(trades)
    done = frame.loc[closed]
    pnl = _col(done, "pnl")
    r_mult = _col(done, "r_multiple")
    r_mult = r_mult[np.isfinite(r_mult)]
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    long_side = (done["side"] == "long").to_numpy(dtype=bool)
    return TradeStats(
        n_trades=len(frame),
        n_closed=len(done),
        n_open=int((~closed).sum()),
        n_wins=len(wins),
        n_losses=len(losses),
        win_rate=_win_rate(pnl),
        profit_factor=_profit_factor(pnl),
        expectancy=_mean(pnl),
        expectancy_return=_mean(_col(done, "return")),
        avg_r=_mean(r_mult),
        avg_win=_mean(wins),
        avg_loss=_mean(losses),
        largest_win=float(wins.max()) if len(wins) else math.nan,
        largest_loss=float(losses.min()) if len(losses) else math.nan,
        avg_bars_held=_mean(_col(done, "bars_held")),
        total_pnl=float(pnl.sum()),
        gross_profit=float(wins.sum()),
        gross_loss=float(losses.sum()),
        n_long=int(long_side.sum()),
        n_short=int((~long_side).sum()),
        long_win_rate=_win_rate(pnl[long_side]),
        short_win_rate=_win_rate(pnl[~long_side]),
        long_pnl=float(pnl[long_side].sum()),
        short_pnl=float(pnl[~long_side].sum()),
        exits_by_reason=MappingProxyType(
            {str(k): int(v) for k, v in exits_by_reason(frame).items()}
        ),
    )


def exits_by_reason(trades: pd.DataFrame) -> pd.Series:
    """Number of closed trades per ``exit_reason``, most frequent first.

    Examples
    --------
    >>> ledger = pd.DataFrame({
    ...     "side": ["long"] * 3, "exit_time": pd.to_datetime(["2024-01-02"] * 3, utc=True),
    ...     "pnl": [1.0, -1.0, -2.0], "return": [0.01, -0.01, -0.02],
    ...     "r_multiple": [float("nan")] * 3, "bars_held": [1, 1, 1],
    ...     "exit_reason": ["signal", "stop_loss", "stop_loss"]})
    >>> exits_by_reason(ledger).to_dict()
    {'stop_loss': 2, 'signal': 1}
    """
    frame, closed = _ledger(trades)
    reasons = frame.loc[closed, "exit_reason"].astype(str)
    counts = reasons.value_counts(sort=False)
    # Sort by count, then by name, so equal counts come out in a stable order.
    order = sorted(counts.index, key=lambda reason: (-int(counts[reason]), reason))
    out = pd.Series(
        [int(counts[reason]) for reason in order],
        index=pd.Index(order, name="exit_reason"),
        dtype=np.int64,
        name="n_trades",
    )
    return out


def side_split(trades: pd.DataFrame) -> pd.DataFrame:
    """Closed-trade statistics of long and short trades side by side.

    Returns
    -------
    pandas.DataFrame
        Index ``side`` (``long``, ``short``); columns ``n_closed, n_wins, win_rate,
        profit_factor, expectancy, total_pnl``.

    Examples
    --------
    >>> ledger = pd.DataFrame({
    ...     "side": ["long", "short", "long"],
    ...     "exit_time": pd.to_datetime(["2024-01-02"] * 3, utc=True),
    ...     "pnl": [30.0, -10.0, -10.0], "return": [0.03, -0.01, -0.01],
    ...     "r_multiple": [float("nan")] * 3, "bars_held": [3, 1, 2],
    ...     "exit_reason": ["signal"] * 3})
    >>> side_split(ledger)[["n_closed", "profit_factor", "total_pnl"]]
           n_closed  profit_factor  total_pnl
    side
    long          2            3.0       20.0
    short         1            0.0      -10.0
    """
    frame, closed = _ledger(trades)
    done = frame.loc[closed]
    rows = []
    for side in _SIDES:
        pnl = _col(done.loc[done["side"] == side], "pnl")
        rows.append(
            {
                "n_closed": len(pnl),
                "n_wins": int(np.count_nonzero(pnl > 0)),
                "win_rate": _win_rate(pnl),
                "profit_factor": _profit_factor(pnl),
                "expectancy": _mean(pnl),
                "total_pnl": float(pnl.sum()),
            }
        )
    return pd.DataFrame(rows, index=pd.Index(list(_SIDES), name="side"))
