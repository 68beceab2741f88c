"""What the portfolio strategies share: the close panel on the union of bar times, the
rebalance calendar, trailing measures and the picking of the top scores.

Every measure at a bar uses that bar and earlier ones only, row by row in time order, so a
strategy built from them is truncation-invariant by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from quantlib._typing import INDEX_NAME
from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio.base import empty_weights

__all__ = ["Panel", "RebalancedSpec", "check_every", "decision_mask", "pick_top", "to_frame"]


def decision_mask(index: pd.DatetimeIndex, every: str | int) -> np.ndarray:
    """True at the bars whose close is a rebalance decision: the calendar of
    :func:`quantlib.allocation.decision_mask`, so allocators and portfolio strategies decide on
    the same bars (the first bar, then the last bar of each UTC day, Monday-to-Monday week or
    month, judged by the bar's close and not by a later bar; or every n-th bar).

    Examples
    --------
    >>> days = pd.date_range("2024-01-05", periods=6, freq="D", tz="UTC")  # Fri .. Wed
    >>> decision_mask(days, "1W").tolist()
    [True, False, True, False, False, False]
    """
    # Imported on first use: quantlib.allocation loads scipy's clustering on import.
    from quantlib.allocation import decision_mask as calendar

    mask: np.ndarray = calendar(index, every)
    return mask


def check_every(every: object) -> str | int:
    """``every`` as the calendar reads it (a string of digits is a number of bars, as a command
    line passes it); a ConfigError if the calendar does not know it.

    Examples
    --------
    >>> check_every("1W"), check_every("5"), check_every(2)
    ('1W', 5, 2)
    """
    if isinstance(every, str) and every.strip().isdigit():
        every = int(every)
    if not isinstance(every, str | int) or isinstance(every, bool):
        raise ConfigError(
            f"every must be 'bar', '1D', '1W', '1M' or a whole number of bars, got {every!r}"
        )
    decision_mask(pd.DatetimeIndex([], tz="UTC"), every)
    return every


class RebalancedSpec(BaseModel):
    """Parameters every calendar-rebalanced portfolio strategy shares (frozen, no unknown
    fields): ``every``, the rebalance calendar (``"bar"``, ``"1D"``, ``"1W"``, ``"1M"`` or a
    number of bars; see :func:`quantlib.allocation.decision_mask`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: str | int = "1W"

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> str | int:
        try:
            return check_every(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Panel:
    """Closes of several assets on the union of their bar times (NaN where an asset has no bar:
    before its listing, after its delisting, in a gap)."""

    close: pd.DataFrame

    @classmethod
    def from_bars(cls, bars: object, where: str) -> Panel:
        if not isinstance(bars, Mapping) or not bars:
            raise ConfigError(
                f"{where}: bars must be a non-empty mapping of asset name to OHLCV frame, got "
                f"{type(bars).__name__ if not isinstance(bars, Mapping) else 'an empty mapping'}"
                ". Fix: {'BTCUSDT': load_ohlcv('BTCUSDT', '1d'), ...}"
            )
        columns = {}
        times: list[pd.DatetimeIndex] = []
        for asset, frame in bars.items():
            if not isinstance(asset, str):
                raise ConfigError(f"{where}: asset names must be strings, got {asset!r}")
            if not isinstance(frame, pd.DataFrame) or "close" not in frame.columns:
                raise ConfigError(
                    f"{where}: bars[{asset!r}] must be an OHLCV DataFrame with a 'close' column"
                )
            if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
                raise ConfigError(
                    f"{where}: bars[{asset!r}] needs a tz-aware DatetimeIndex of bar open "
                    "times. Fix: load it with quantlib.data.load_ohlcv or validate() it"
                )
            if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
                raise ConfigError(
                    f"{where}: bars[{asset!r}] has unsorted or duplicated times. Fix: "
                    "quantlib.data.validate() it"
                )
            columns[asset] = frame["close"].astype(np.float64)
            times.append(frame.index.as_unit("ns"))
        union = reduce(lambda a, b: a.union(b), times)
        # Bar times are data, not a calendar: no ``freq``, whatever the union happened to infer
        # (pandas takes freq=None to mean none; its stubs do not say so).
        index = pd.DatetimeIndex(union, freq=None)  # type: ignore[arg-type]
        close = pd.DataFrame({a: c.reindex(index) for a, c in columns.items()}, index=index)
        close.index.name = INDEX_NAME
        return cls(close)

    @property
    def index(self) -> pd.DatetimeIndex:
        index = self.close.index
        assert isinstance(index, pd.DatetimeIndex)
        return index

    @property
    def assets(self) -> list[str]:
        return [str(c) for c in self.close.columns]

    @property
    def present(self) -> np.ndarray:
        """True where the asset has a bar (it trades at that time)."""
        out: np.ndarray = self.close.notna().to_numpy()
        return out

    def returns(self) -> pd.DataFrame:
        """One-bar simple returns on the union grid (NaN unless both bars exist)."""
        return self.close / self.close.shift(1) - 1.0

    def trailing_return(self, lookback: int) -> pd.DataFrame:
        """``close[t] / close[t - lookback] - 1`` in rows of the union grid."""
        return self.close / self.close.shift(lookback) - 1.0

    def trailing_volatility(self, window: int) -> pd.DataFrame:
        """Standard deviation (ddof=1) of the last ``window`` one-bar returns, NaN unless all
        ``window`` returns exist."""
        return self.returns().rolling(window, min_periods=window).std(ddof=1)


def pick_top(scores: np.ndarray, k: int, *, minimum: float | None = None) -> np.ndarray:
    """Boolean mask of the ``k`` highest finite scores (ties: the earlier column wins); with
    ``minimum``, only scores strictly above it qualify.

    Examples
    --------
    >>> pick_top(np.array([0.1, np.nan, 0.3, 0.3]), 2).tolist()
    [False, False, True, True]
    >>> pick_top(np.array([0.1, -0.2, 0.3]), 3, minimum=0.0).tolist()
    [True, False, True]
    """
    ok = np.isfinite(scores)
    if minimum is not None:
        ok &= scores > minimum
    candidates = np.flatnonzero(ok)
    chosen = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    out = np.zeros(len(scores), dtype=bool)
    out[chosen] = True
    return out


def to_frame(panel: Panel, decide: np.ndarray, targets: np.ndarray) -> pd.DataFrame:
    """Weight frame of ``targets`` (T x N) on the decision rows, NaN rows elsewhere; assets
    without a bar at a decision get 0 (point-in-time universe)."""
    out = empty_weights(panel.index, panel.assets)
    rows = np.where(panel.present[decide], targets[decide], 0.0)
    out.iloc[np.flatnonzero(decide)] = rows + 0.0  # + 0.0 turns -0.0 into 0.0
    return out
