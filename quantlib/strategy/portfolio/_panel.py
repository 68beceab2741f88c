"""What the portfolio strategies share: the close panel on the union of bar times, the
rebalance calendar, trailing measures and the picking of the top scores.

Every measure at a bar uses that bar and earlier ones only, row by row in time order, so a
strategy built from them is truncation-invariant by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from quantlib._typing import INDEX_NAME
from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio.base import empty_weights

__all__ = ["Panel", "RebalancedSpec", "decision_mask", "parse_every", "pick_top", "to_frame"]

_EVERY = re.compile(r"^(\d*)\s*(h|d|D|w|W|M)$")
_UNIT_NS = {"h": 3_600 * 10**9, "D": 86_400 * 10**9, "W": 7 * 86_400 * 10**9}
# 1970-01-05 was a Monday: weeks run Monday 00:00 to Monday 00:00 UTC.
_MONDAY_NS = 4 * 86_400 * 10**9


def parse_every(every: object) -> tuple[str, int]:
    """``every`` as ``(unit, n)``: ``("bar", n)`` for every n-th bar, else a calendar unit of
    ``"h"``, ``"D"``, ``"W"`` or ``"M"`` (month) and a multiple.

    Examples
    --------
    >>> parse_every("1W"), parse_every("bar"), parse_every(5), parse_every("5"), parse_every("4h")
    (('W', 1), ('bar', 1), ('bar', 5), ('bar', 5), ('h', 4))
    """
    if isinstance(every, bool):
        pass
    elif isinstance(every, int | np.integer):
        if every >= 1:
            return "bar", int(every)
    elif isinstance(every, str):
        text = every.strip()
        if text == "bar":
            return "bar", 1
        if text.isdigit() and int(text) >= 1:
            return "bar", int(text)
        match = _EVERY.match(text)
        if match:
            n = int(match.group(1) or 1)
            unit = match.group(2)
            unit = unit if unit in ("h", "M") else unit.upper()
            if n >= 1:
                return unit, n
    raise ConfigError(
        f"every must be 'bar', a number of bars (>= 1) or a calendar period such as '1D', "
        f"'1W', '1M' or '4h'; got {every!r}"
    )


def decision_mask(index: pd.DatetimeIndex, every: object) -> np.ndarray:
    """True at the bars whose close is a rebalance decision.

    The first bar decides; after it, a calendar rule decides at the close of the last bar of
    each period: bar ``t`` decides when its close, ``t`` plus the bar's length, falls in a later
    period than its open. The bar's length is the smallest spacing of the index up to ``t``
    (so a gap before ``t`` does not stretch it), which keeps the rule causal. ``"bar"`` decides
    at every bar, an integer ``n`` at every n-th bar counted from the first. Weeks run Monday
    to Monday (UTC), months are calendar months.

    Examples
    --------
    >>> days = pd.date_range("2024-01-05", periods=6, freq="D", tz="UTC")  # Fri .. Wed
    >>> decision_mask(days, "1W").tolist()
    [True, False, True, False, False, False]
    >>> decision_mask(days, 2).tolist()
    [True, False, True, False, True, False]
    """
    unit, n = parse_every(every)
    size = len(index)
    if unit == "bar":
        out: np.ndarray = np.arange(size) % n == 0
        return out
    mask = np.zeros(size, dtype=bool)
    if size == 0:
        return mask
    stamps = index.as_unit("ns").asi8
    step = np.minimum.accumulate(np.diff(stamps)) if size > 1 else np.empty(0, np.int64)
    opens, closes = stamps[1:], stamps[1:] + step
    mask[0] = True
    mask[1:] = _period(opens, unit, n) != _period(closes, unit, n)
    return mask


def _period(ns: np.ndarray, unit: str, n: int) -> np.ndarray:
    if unit == "M":
        months = pd.DatetimeIndex(ns, tz="UTC")
        out: np.ndarray = (months.year.to_numpy() * 12 + months.month.to_numpy() - 1) // n
        return out
    offset = _MONDAY_NS if unit == "W" else 0
    return (ns - offset) // (n * _UNIT_NS[unit])


class RebalancedSpec(BaseModel):
    """Parameters every calendar-rebalanced portfolio strategy shares (frozen, no unknown
    fields): ``every``, the rebalance calendar of :func:`decision_mask`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: str | int = "1W"

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | int) -> str | int:
        try:
            parse_every(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


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
