r"""Where a backtest's profit and risk came from: per-key attribution of the trade ledger.

Attribution splits the ledger by one key at a time (strategy, asset, timeframe, side, exit
reason, UTC entry hour, trading session, or the market regime known at entry) and sums what
each group earned. It is a pure function of the ledger (and of regime labels, when given).

The contribution of each signal component measured by ablation (re-running the strategy
without it: :func:`~quantlib.research.attribution.ablation`) and the regime labels known at each
bar's close (:func:`~quantlib.research.attribution.regime_at_close`) run the engine and the
regime model, so they live in :mod:`quantlib.research.attribution` (issue 15); they are still
served from here, lazily.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from quantlib._moved import moved
from quantlib._regimes import REGIME_COLUMN, UNKNOWN_REGIME, regime_label
from quantlib.exceptions import ConfigError, DataError

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "ATTRIBUTION_KEYS",
    "SESSIONS",
    "Attribution",
    "HasTrades",
    "attribute",
    "session_of_hour",
]

# Moved to the research layer (issue 15): served lazily to old imports, with no import edge.
__getattr__, __dir__ = moved(
    __name__, "quantlib.research.attribution", ("ABLATION_COLUMNS", "ablation", "regime_at_close")
)


class HasTrades(Protocol):
    """Anything that holds a trade ledger, such as a
    :class:`~quantlib.backtest.result.BacktestResult`."""

    @property
    def trades(self) -> pd.DataFrame: ...


ATTRIBUTION_KEYS: tuple[str, ...] = (
    "strategy",
    "asset",
    "timeframe",
    "side",
    "exit_reason",
    "hour",
    "session",
    "regime",
)
"""Keys :func:`attribute` can split the ledger by."""

ATTRIBUTION_COLUMNS: tuple[str, ...] = (
    "n_trades",
    "pnl",
    "pnl_share",
    "win_rate",
    "mean_return",
    "return_std",
    "risk_share",
)
"""Columns of every attribution table (index: the key's values)."""

# UTC entry hours of each session, [start, end): Tokyo/Hong Kong/Singapore until London opens,
# London until about the New York cash open, New York (and its evening) to midnight UTC.
SESSIONS: tuple[tuple[str, int, int], ...] = (("Asia", 0, 8), ("Europe", 8, 14), ("US", 14, 24))

_LEDGER_KEYS = {"strategy", "asset", "timeframe", "side", "exit_reason"}


def session_of_hour(hour: int) -> str:
    """The trading session of a UTC hour (:data:`SESSIONS`).

    Examples
    --------
    >>> [session_of_hour(h) for h in (0, 7, 8, 13, 14, 23)]
    ['Asia', 'Asia', 'Europe', 'Europe', 'US', 'US']
    """
    for name, start, end in SESSIONS:
        if start <= hour < end:
            return name
    raise ConfigError(f"hour must be an integer in 0..23, got {hour!r}")


@dataclass(frozen=True)
class Attribution:
    """P&L and risk attribution of a trade ledger.

    Attributes
    ----------
    tables : mapping key → DataFrame
        One table per key, indexed by the key's values (sorted), columns
        :data:`ATTRIBUTION_COLUMNS`.
    total_pnl : float
        Sum of the ledger's ``pnl`` (open positions marked to the last close).
    n_trades : int
        Rows of the ledger.
    """

    tables: Mapping[str, pd.DataFrame] = field(repr=False)
    total_pnl: float
    n_trades: int

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.tables)

    def to_frame(self) -> pd.DataFrame:
        """Every table stacked, with columns ``by`` and ``value`` in front."""
        frames = [
            table.rename_axis("value").reset_index().assign(value=lambda f: f["value"].astype(str))
            for table in self.tables.values()
        ]
        out = pd.concat(frames, keys=list(self.tables), names=["by", "row"]).reset_index("by")
        return out.reset_index(drop=True)


def _group_table(pnl: pd.Series, returns: pd.Series, labels: pd.Series) -> pd.DataFrame:
    total = float(pnl.sum())
    squares = float((pnl**2).sum())
    frame = pd.DataFrame({"label": labels.to_numpy(), "pnl": pnl, "ret": returns})
    rows = {}
    for label, group in frame.groupby("label", sort=True):
        group_pnl = group["pnl"]
        rows[label] = {
            "n_trades": len(group),
            "pnl": float(group_pnl.sum()),
            "pnl_share": float(group_pnl.sum()) / total if total != 0.0 else math.nan,
            "win_rate": float((group_pnl > 0.0).mean()),
            "mean_return": float(group["ret"].mean()),
            "return_std": float(group["ret"].std(ddof=1)) if len(group) >= 2 else math.nan,
            "risk_share": float((group_pnl**2).sum()) / squares if squares > 0.0 else math.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(ATTRIBUTION_COLUMNS))
    table["n_trades"] = table["n_trades"].astype(np.int64)
    return table


def _regime_labels(entry: pd.Series, regimes: pd.Series | pd.DataFrame) -> pd.Series:
    labels = regimes[REGIME_COLUMN] if isinstance(regimes, pd.DataFrame) else regimes
    if not isinstance(labels.index, pd.DatetimeIndex) or labels.index.tz is None:
        raise DataError(
            "regimes must be indexed by tz-aware timestamps (when each label became known). "
            "Fix: pass the frame of filtered_regime_probabilities, or regime_at_close(bars)",
            rule="index not tz-aware",
        )
    if not labels.index.is_monotonic_increasing:
        raise DataError("regimes' index must be increasing. Fix: sort it", rule="unsorted index")
    known = labels.index.as_unit("ns").to_numpy()
    times = pd.DatetimeIndex(entry).tz_convert("UTC").as_unit("ns").to_numpy()
    # The last label stamped at or before the entry fill: known when the trade was opened.
    position = np.searchsorted(known, times, side="right") - 1
    values = labels.astype(object).to_numpy()
    out = [
        UNKNOWN_REGIME if p < 0 or pd.isna(values[p]) else regime_label(values[p]) for p in position
    ]
    return pd.Series(out, index=entry.index)


def attribute(
    result: HasTrades | pd.DataFrame,
    by: Sequence[str] | None = None,
    regimes: pd.Series | pd.DataFrame | None = None,
) -> Attribution:
    r"""P&L and risk attribution of a backtest's trades by each key in ``by``.

    Parameters
    ----------
    result : BacktestResult or DataFrame
        A backtest, or its trade ledger (columns of ``quantlib.backtest.TRADE_COLUMNS``;
        ``entry_time``, ``pnl`` and ``return`` plus the keys used are enough).
    by : sequence of str, optional
        Keys among :data:`ATTRIBUTION_KEYS`; default: all of them (``regime`` only when
        ``regimes`` is given).
    regimes : Series or DataFrame, optional
        Regime labels (or a frame with a ``regime`` column, such as
        :func:`~quantlib.models.regime.filtered_regime_probabilities`'s) stamped at the time
        each label **became known**; a trade gets the last label stamped at or before its
        entry fill, ``"unknown"`` before the first.
        :func:`~quantlib.research.attribution.regime_at_close` stamps labels
        computed on bars at the bars' close.

    Returns
    -------
    Attribution

    Raises
    ------
    ConfigError
        For an unknown key, or ``regime`` without ``regimes``.
    DataError
        If the ledger lacks a column the keys need.

    Notes
    -----
    For a group :math:`G` of trades with net P&L :math:`\pi_i` and returns :math:`r_i`
    (``pnl / notional``), over the whole ledger :math:`L`:

    * ``pnl`` = :math:`\sum_G \pi_i`; ``pnl_share`` = :math:`\sum_G \pi_i / \sum_L \pi_i`
      (the shares add up to 1; a losing group has a negative share);
    * ``win_rate`` = share of trades with :math:`\pi_i > 0`;
    * ``mean_return``, ``return_std``: mean and sample standard deviation (``ddof=1``, NaN
      for one trade) of :math:`r_i`;
    * ``risk_share`` = :math:`\sum_G \pi_i^2 / \sum_L \pi_i^2`, the group's share of the
      second moment of trade P&L (the shares add up to 1).

    ``hour`` is the UTC hour of the entry fill; ``session`` maps it to Asia (00-07 UTC),
    Europe (08-13) or US (14-23). Open positions count with their P&L marked to the last
    close (``exit_reason="open"``).

    Examples
    --------
    >>> ledger = pd.DataFrame({
    ...     "side": ["long", "short", "long"],
    ...     "entry_time": pd.to_datetime(["2024-01-01 01:00", "2024-01-01 09:00",
    ...                                   "2024-01-02 15:00"], utc=True),
    ...     "pnl": [30.0, -10.0, -10.0], "return": [0.03, -0.01, -0.01]})
    >>> table = attribute(ledger, by=["side"]).tables["side"]
    >>> table[["n_trades", "pnl", "pnl_share", "win_rate"]]
           n_trades   pnl  pnl_share  win_rate
    long          2  20.0        2.0       0.5
    short         1 -10.0       -1.0       0.0
    """
    trades = result if isinstance(result, pd.DataFrame) else getattr(result, "trades", result)
    if not isinstance(trades, pd.DataFrame):
        raise ConfigError(f"result must be a BacktestResult or a ledger, got {type(result)}")
    if by is None:
        keys = [k for k in ATTRIBUTION_KEYS if k != "regime" or regimes is not None]
        keys = [k for k in keys if k not in _LEDGER_KEYS or k in trades.columns]
    else:
        keys = [str(k) for k in ([by] if isinstance(by, str) else by)]
    for key in keys:
        if key not in ATTRIBUTION_KEYS:
            raise ConfigError(f"by: unknown key {key!r}. Fix: use some of {list(ATTRIBUTION_KEYS)}")
    if "regime" in keys and regimes is None:
        raise ConfigError(
            "by includes 'regime' but no regimes were given. Fix: pass regimes="
            "regime_at_close(bars) (or leave 'regime' out)"
        )
    needed = {"pnl", "return"} | (
        {"entry_time"} if {"hour", "session", "regime"} & set(keys) else set()
    )
    needed |= set(keys) & _LEDGER_KEYS
    missing = sorted(needed - set(trades.columns))
    if missing:
        raise DataError(
            f"the trade ledger lacks column(s) {missing} needed for by={keys}. Fix: pass a "
            "BacktestResult or its full ledger",
            rule="missing columns",
        )
    pnl = trades["pnl"].astype(np.float64)
    returns = trades["return"].astype(np.float64)
    tables: dict[str, pd.DataFrame] = {}
    for key in keys:
        labels: pd.Series
        if key in _LEDGER_KEYS:
            labels = trades[key].astype(str)
        elif key == "regime":
            assert regimes is not None
            labels = _regime_labels(trades["entry_time"], regimes)
        else:
            hours = pd.DatetimeIndex(trades["entry_time"]).tz_convert("UTC").hour
            hour = pd.Series(np.asarray(hours, dtype=np.int64), index=trades.index)
            labels = hour.map(session_of_hour) if key == "session" else hour
        tables[key] = _group_table(pnl, returns, labels)
    return Attribution(tables=tables, total_pnl=float(pnl.sum()), n_trades=len(trades))
