"""``zone_fade`` and ``zone_breakout``: trade the daily-zone signals of :mod:`quantlib.zones`.

Both strategies share :class:`ZoneRules`, the parameters of the zones (which levels, their
width, their strength score) and of the zone signals (stop buffer, target rule, expiry), and
:func:`zone_signal_frame`, which turns zone signal events into a signal frame. The SMC
confluence strategy (:mod:`quantlib.strategy.smc_confluence`) builds on both.

Rules common to every zone strategy, stated once:

* **Zones** are :func:`quantlib.zones.levels` of the chosen ``levels`` (days close at 00:00
  UTC), scored by :func:`quantlib.zones.strength`.
* **Signals** are :func:`quantlib.zones.signals` of the strategy's kind; each is decided at
  the close of its signal bar (``confirmed_at``) and enters **at the next open** with a
  market order, with the signal's absolute ``stop`` and ``target`` prices. A next open that
  gaps beyond the stop (or the target) makes the engine drop that level for the trade.
* **One entry per bar.** When several zones signal on one bar, the strongest zone's signal
  is taken (highest ``score``, then the smallest risk ``|entry_ref - stop|``, then the first
  in the zones' order); when they point in opposite directions the bar gives no entry.
* The strategies give no exit signals: a trade ends at its stop, its target, an opposite
  signal (the engine reverses the position) or an engine limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib._validation import check_choice
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.strategy.base import empty_signals
from quantlib.zones.levels import LEVEL_NAMES
from quantlib.zones.levels import levels as daily_levels
from quantlib.zones.signals import signals as zone_signals
from quantlib.zones.strength import strength

__all__ = ["ZoneBreakout", "ZoneFade", "ZoneRules", "names_parameter", "zone_signal_frame"]


def names_parameter(name: str, value: object, choices: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` (a comma-separated string or a sequence) as a tuple of distinct ``choices``.

    Examples
    --------
    >>> names_parameter("levels", "pdh, pdl,pdh", LEVEL_NAMES)
    ('pdh', 'pdl')
    """
    items = [p for p in value.split(",") if p.strip()] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise ConfigError(f"{name} must be a sequence of names from {list(choices)}, got {value!r}")
    chosen = tuple(dict.fromkeys(check_choice(name, str(item).strip(), choices) for item in items))
    if not chosen:
        raise ConfigError(f"{name} is empty; pick names from {list(choices)}")
    return chosen


def zone_signal_frame(
    index: pd.DatetimeIndex, events: pd.DataFrame, tags: Iterable[str] | None = None
) -> pd.DataFrame:
    """A signal frame on ``index`` from zone signal events (one market entry per signal bar).

    Parameters
    ----------
    index : DatetimeIndex
        The bars' index.
    events : DataFrame
        Output of :func:`quantlib.zones.signals` on those bars (possibly filtered).
    tags : iterable of str, optional
        One tag per event; default ``"<signal>:<level_name>"``.

    Returns
    -------
    DataFrame
        Columns ``entry, exit, order, stop, target, tag``; a bar with signals carries the
        chosen one (module notes: the strongest zone, none on a conflict).

    Examples
    --------
    >>> times = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> events = pd.DataFrame({
    ...     "confirmed_at": times[[1, 1, 2, 2]], "direction": ["bull", "bull", "bull", "bear"],
    ...     "score": [20.0, 40.0, 50.0, 50.0], "risk": [1.0, 2.0, 1.0, 1.0],
    ...     "stop": [9.0, 8.0, 9.0, 11.0], "target": [12.0, 14.0, 12.0, 8.0],
    ...     "signal": "rejection", "level_name": ["pdl", "s1", "pdl", "pdh"]})
    >>> zone_signal_frame(times, events)[["entry", "stop", "target", "tag"]]
                               entry  stop  target          tag
    2024-01-01 00:00:00+00:00      0   NaN     NaN
    2024-01-01 01:00:00+00:00      1   8.0    14.0  rejection:s1
    2024-01-01 02:00:00+00:00      0   NaN     NaN
    """
    out = empty_signals(index)
    n, m = len(index), len(events)
    entry = np.zeros(n, dtype=np.int8)
    stop, target = np.full(n, np.nan), np.full(n, np.nan)
    labels = np.full(n, "", dtype=object)
    if m:
        if tags is None:
            tags = (events["signal"].astype(str) + ":" + events["level_name"].astype(str)).tolist()
        tag_values = np.asarray(list(tags), dtype=object)
        bar = index.get_indexer(pd.DatetimeIndex(events["confirmed_at"]))
        side = np.where(events["direction"].to_numpy(dtype=object) == "bull", 1, -1)
        score = events["score"].to_numpy(dtype=np.float64, na_value=np.nan)
        rank = np.where(np.isnan(score), -np.inf, score)
        # Sorted by bar, then strongest zone first, then smallest risk, then event order.
        order = np.lexsort((np.arange(m), events["risk"].to_numpy(dtype=np.float64), -rank, bar))
        sorted_bar, sorted_side = bar[order], side[order]
        starts = np.flatnonzero(np.r_[True, sorted_bar[1:] != sorted_bar[:-1]])
        agree = np.minimum.reduceat(sorted_side, starts) == np.maximum.reduceat(sorted_side, starts)
        chosen = order[starts[agree]]
        at = bar[chosen]
        entry[at] = side[chosen]
        stop[at] = events["stop"].to_numpy(dtype=np.float64)[chosen]
        target[at] = events["target"].to_numpy(dtype=np.float64)[chosen]
        labels[at] = tag_values[chosen]
    out["entry"] = entry
    out["order"] = "market"
    out["stop"] = stop
    out["target"] = target
    out["tag"] = pd.array(labels, dtype="str")
    return out


class ZoneRules(BaseModel):
    """Parameters shared by the zone strategies: the zones and their signals' orders.

    Parameters
    ----------
    levels : tuple of str
        Zone levels among :data:`quantlib.zones.LEVEL_NAMES` (a comma-separated string is
        accepted); default all of them.
    width, atr_period : float, int
        Zone half-width in daily ATRs and the ATR period (:func:`quantlib.zones.levels`).
    lookback_days : int
        History window of the zone strength score (:func:`quantlib.zones.strength`).
    stop_buffer, target, r_multiple, min_score, expiry_bars : see :func:`quantlib.zones.signals`
    timeframe : str, optional
        Bar length of the input (default: recorded or inferred); pass it on short or gappy data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: tuple[str, ...] = LEVEL_NAMES
    width: float = Field(0.25, gt=0.0)
    atr_period: int = Field(14, ge=1)
    lookback_days: int = Field(20, ge=1)
    stop_buffer: float = Field(0.1, ge=0.0)
    target: Literal["next_zone", "r_multiple"] = "next_zone"
    r_multiple: float = Field(2.0, gt=0.0)
    min_score: float = Field(0.0, ge=0.0, le=100.0)
    expiry_bars: int | None = Field(None, ge=1)
    timeframe: str | None = None

    @field_validator("levels", mode="before")
    @classmethod
    def _levels(cls, value: object) -> tuple[str, ...]:
        return names_parameter("levels", value, LEVEL_NAMES)

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return None if value is None else parse_timeframe(value).name

    def zones(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The scored zones of ``bars`` (:func:`quantlib.zones.strength` of the levels)."""
        found = daily_levels(
            bars,
            atr_period=self.atr_period,
            width=self.width,
            include=self.levels,
            timeframe=self.timeframe,
        )
        return strength(bars, found, lookback_days=self.lookback_days, timeframe=self.timeframe)

    def zone_events(
        self, bars: pd.DataFrame, zones: pd.DataFrame, kinds: tuple[str, ...]
    ) -> pd.DataFrame:
        """The zone signals of ``kinds`` at ``zones`` (:func:`quantlib.zones.signals`)."""
        return zone_signals(
            bars,
            zones,
            kind=kinds,
            stop_buffer=self.stop_buffer,
            target=self.target,
            r_multiple=self.r_multiple,
            min_score=self.min_score,
            expiry_bars=self.expiry_bars,
            timeframe=self.timeframe,
        )

    def engine_defaults(self) -> dict[str, Any]:
        """No engine settings of their own: the trade's stop and target are in the signals."""
        return {}


class _SingleKind(ZoneRules):
    kind: ClassVar[str]

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        events = self.zone_events(bars, self.zones(bars), (self.kind,))
        return zone_signal_frame(pd.DatetimeIndex(bars.index), events)


class ZoneFade(_SingleKind):
    """Fade daily zones: enter on each zone **rejection** in its direction.

    Rules (besides the module's common ones): a rejection of :func:`quantlib.zones.signals`
    (``kind="rejection"``) at bar t is a long (a support zone held: the bar traded into the
    zone and closed above it, price never having closed below it) or a short (mirrored at a
    resistance zone). The entry is a market order at bar t+1's open, with the signal's stop
    (``stop_buffer`` daily ATRs beyond the zone's far side) and target (the nearest other
    active zone's level beyond the entry, or ``entry ± r_multiple × risk``).

    The fields are those of :class:`ZoneRules`.

    Notes
    -----
    For a long at the zone :math:`[b, t]` with daily ATR :math:`a` and signal close :math:`C`:
    :math:`stop = b - k a`, :math:`target = \\min\\{level_j : bottom_j > C\\}` or
    :math:`C + R (C - stop)`, with :math:`k` = ``stop_buffer``, :math:`R` = ``r_multiple``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes = [100.0] * 10 + [110.0] + [100.0] * 13 + [104.0, 108, 110, 108] + [106.0] * 20
    >>> bars = make_ohlcv(closes, spread=0.0)  # day 1: high 110, daily ATR(1) 10
    >>> fade = ZoneFade(levels="pdh", atr_period=1, width=0.1, target="r_multiple")
    >>> sig = fade.signals(bars)  # the pdh zone is 109-111
    >>> sig.loc[sig["entry"] != 0, ["entry", "stop", "target", "tag"]]
                               entry   stop  target            tag
    timestamp
    2024-01-02 03:00:00+00:00     -1  112.0   100.0  rejection:pdh
    """

    name: ClassVar[str] = "zone_fade"
    kind: ClassVar[str] = "rejection"


class ZoneBreakout(_SingleKind):
    """Trade daily-zone breaks: enter on each **break-and-retest** in the break's direction.

    Rules (besides the module's common ones): a close beyond a zone (the break) followed by
    the first bar that trades back into the zone and closes beyond it again on the break's
    side (the retest, :func:`quantlib.zones.signals` with ``kind="break_retest"``) at bar t
    gives a long after a break up, a short after a break down, as a market order at bar
    t+1's open with the signal's stop and target.

    The fields are those of :class:`ZoneRules`.

    Notes
    -----
    For a long after a break up through :math:`[b, t]`: :math:`stop = b - k a` and the target
    as in :class:`ZoneFade`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes = [100.0] * 10 + [110.0] + [100.0] * 16 + [105.0, 113, 110.5, 112] + [112.0] * 5
    >>> bars = make_ohlcv(closes, spread=0.0)  # the pdh zone is 109-111 on day 2
    >>> breakout = ZoneBreakout(levels="pdh", atr_period=1, width=0.1, target="r_multiple")
    >>> sig = breakout.signals(bars)  # break at 04:00 (close 113), retest at 06:00
    >>> sig.loc[sig["entry"] != 0, ["entry", "stop", "target", "tag"]]
                               entry   stop  target               tag
    timestamp
    2024-01-02 06:00:00+00:00      1  108.0   120.0  break_retest:pdh
    """

    name: ClassVar[str] = "zone_breakout"
    kind: ClassVar[str] = "break_retest"
