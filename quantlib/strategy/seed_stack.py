"""``seed_stack``: the seed's "ultimate" rule set, re-implemented causally.

The seed faded the previous day's high and low with a fixed stop, a 3.5R target, a
confluence filter and a few account limits. Its headline figures are hypotheses to test
(DESIGN.md); this module states the rules so that a backtest can test them honestly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib.data.timeframes import parse_timeframe
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy.base import empty_signals
from quantlib.strategy.smc_confluence import confluence_scores, confluence_tags, side_scores
from quantlib.zones.levels import levels as daily_levels

__all__ = ["SeedStack", "previous_day_levels"]


def previous_day_levels(bars: pd.DataFrame, timeframe: str | None = None) -> pd.DataFrame:
    """Per bar, the high and low of the last UTC day completed before it.

    Parameters
    ----------
    bars : DataFrame
        OHLCV contract frame with bars of one day or shorter.
    timeframe : str, optional
        Bar length (default: recorded or inferred), passed to :func:`quantlib.zones.levels`.

    Returns
    -------
    DataFrame
        Columns ``pdh`` and ``pdl`` on ``bars``' index: on bar t, those of the latest day
        whose closing bar (``confirmed_at`` of :func:`quantlib.zones.levels`) came before t,
        so the closing bar itself still sees the day before. NaN until a complete day has
        closed (a day the data starts inside of does not count).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0 + i for i in range(30)], spread=0.0)  # 30 hourly bars
    >>> found = previous_day_levels(bars)
    >>> found.iloc[[23, 24, 29]]
                                 pdh    pdl
    timestamp
    2024-01-01 23:00:00+00:00    NaN    NaN
    2024-01-02 00:00:00+00:00  123.0  100.0
    2024-01-02 05:00:00+00:00  123.0  100.0
    """
    index = pd.DatetimeIndex(bars.index)
    # ATR(1) so the first complete day already has levels; the zone width is not used.
    days = daily_levels(bars, atr_period=1, include=("pdh", "pdl"), timeframe=timeframe)
    out = pd.DataFrame(index=index)
    positions = np.arange(len(index))
    for name in ("pdh", "pdl"):
        rows = days[days["level_name"] == name]
        confirmed = index.get_indexer(pd.DatetimeIndex(rows["confirmed_at"]))
        latest = np.searchsorted(confirmed, positions, side="left") - 1
        # The appended NaN is the value before the first complete day (or with none at all).
        values = np.append(rows["level"].to_numpy(dtype=np.float64), np.nan)
        out[name] = values[np.where(latest >= 0, latest, len(rows))]
    return out


class SeedStack(BaseModel):
    """Fade the previous day's high and low, filtered by SMC confluence (the seed's rules).

    Rules, decided at the close of bar t from data up to it:

    1. **Levels.** PDH and PDL are the high and low of the last completed UTC day, known
       from the bar after that day's closing bar (:func:`previous_day_levels`).
    2. **Setup.** Short when ``|close_t - PDH| <= proximity × PDH`` (near the high: fade
       it), long when ``|close_t - PDL| <= proximity × PDL``. A close near both (only
       possible after a day whose range is under about ``2 × proximity``) gives no trade.
    3. **Confluence gate** (``confluence_gate=True``): the trade is taken only when the SMC
       confluence score of its side at bar t is at least ``min_confluence``
       (:func:`~quantlib.strategy.smc_confluence.confluence_scores` with the library's
       default zones, ``htf_timeframe`` and ``left``/``right``); the first ``left + right``
       bars have no score. With the gate off the rules are the plain daily-level fade.
    4. **Orders.** A market entry at bar t+1's open; stop ``stop_pct`` from the fill
       (above it for a short); target ``target_r`` times the stop distance beyond the fill.
    5. **Account rules** (:meth:`engine_defaults`, unless the backtest configuration sets
       them): risk ``risk`` of equity per trade at the stop (``RiskPerTrade``), at most
       ``max_entries_per_day`` entries per UTC day and ``max_positions`` open positions,
       and every position closed at the first open ``max_hold`` after its entry.
    6. A setup on the side already held is ignored; one on the other side reverses the
       position (engine rules). Tags: ``pdh_fade`` / ``pdl_fade``, followed by the
       confluence components when the gate is on.

    Attributes
    ----------
    proximity : float, default 0.0015
        Distance from the level, as a fraction of it, within which a close triggers.
    stop_pct : float, default 0.012
        Stop distance as a fraction of the fill price.
    target_r : float, default 3.5
        Target distance in multiples of the stop distance.
    risk : float, default 0.025
        Fraction of equity lost at the stop.
    max_entries_per_day, max_positions : int, default 3, 2
    max_hold : str, default "24h"
    confluence_gate : bool, default True
    min_confluence : float, default 50.0
        Minimum confluence score (0-100) of the trade's side when the gate is on.
    htf_timeframe : str or None, default "1d"
        Higher timeframe of the confluence trend component.
    left, right : int, default 5
        Swing pivot lengths of the SMC detectors behind the confluence score.
    timeframe : str, optional
        Bar length of the input (default: recorded or inferred).

    Notes
    -----
    For a short filled at :math:`E`: :math:`stop = E (1 + p)`, :math:`target = E - R\\,(stop
    - E) = E (1 - R p)`, mirrored for a long, with :math:`p` = ``stop_pct`` and :math:`R` =
    ``target_r``; quantity :math:`q = f \\cdot equity / (E p)` with :math:`f` = ``risk``
    (capped by the engine so that margin and fee fit in the free cash).

    Examples
    --------
    >>> from quantlib.testing import bars_from_rows
    >>> day1 = [(99.0, 100.0, 98.0, 99.0)] * 24  # PDH 100, PDL 98
    >>> day2 = [(99.0, 99.5, 98.8, 99.0), (99.0, 99.9, 99.0, 99.88), (99.88, 99.9, 98.9, 99.0)]
    >>> bars = bars_from_rows(day1 + day2)
    >>> sig = SeedStack(confluence_gate=False).signals(bars)
    >>> sig.loc[sig["entry"] != 0, ["entry", "stop_pct", "target_r", "tag"]]
                               entry  stop_pct  target_r       tag
    timestamp
    2024-01-02 01:00:00+00:00     -1     0.012       3.5  pdh_fade
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "seed_stack"

    proximity: float = Field(0.0015, gt=0.0, lt=0.1)
    stop_pct: float = Field(0.012, gt=0.0, lt=1.0)
    target_r: float = Field(3.5, gt=0.0)
    risk: float = Field(0.025, gt=0.0, le=1.0)
    max_entries_per_day: int = Field(3, ge=1)
    max_positions: int = Field(2, ge=1)
    max_hold: str = "24h"
    confluence_gate: bool = True
    min_confluence: float = Field(50.0, ge=0.0, le=100.0)
    htf_timeframe: str | None = "1d"
    left: int = Field(5, ge=1)
    right: int = Field(5, ge=1)
    timeframe: str | None = None

    @field_validator("max_hold")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            delta = pd.Timedelta(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a duration; write e.g. '24h' or '90min'") from exc
        if delta <= pd.Timedelta(0):
            raise ValueError(f"{value!r} must be a positive duration such as '24h'")
        return value

    @field_validator("timeframe", "htf_timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return None if value is None else parse_timeframe(value).name

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        index = pd.DatetimeIndex(bars.index)
        day = previous_day_levels(bars, self.timeframe)
        close = bars["close"].to_numpy(dtype=np.float64)
        pdh, pdl = day["pdh"].to_numpy(), day["pdl"].to_numpy()
        # NaN levels compare False: no setup before the first complete day.
        near_high = np.abs(close - pdh) <= self.proximity * pdh
        near_low = np.abs(close - pdl) <= self.proximity * pdl
        side = np.where(near_high & ~near_low, -1, np.where(near_low & ~near_high, 1, 0))
        bar = np.flatnonzero(side)
        base = ["pdh_fade" if s < 0 else "pdl_fade" for s in side[bar]]
        if self.confluence_gate and len(bar):
            scores = confluence_scores(
                bars, htf_timeframe=self.htf_timeframe, left=self.left, right=self.right
            )
            passed = side_scores(scores, bar, side[bar]) >= self.min_confluence
            bar = bar[passed]
            base = confluence_tags(
                [b for b, p in zip(base, passed, strict=True) if p], scores, bar, side[bar]
            )
        out = empty_signals(index)
        entry = np.zeros(len(index), dtype=np.int8)
        entry[bar] = side[bar]
        tags = np.full(len(index), "", dtype=object)
        tags[bar] = base
        out["entry"] = entry
        out["order"] = "market"
        out["stop_pct"] = np.where(entry != 0, self.stop_pct, np.nan)
        out["target_r"] = np.where(entry != 0, self.target_r, np.nan)
        out["tag"] = pd.array(tags, dtype="str")
        return out

    def engine_defaults(self) -> dict[str, Any]:
        """The seed's account rules: risk per trade, entries a day, positions, holding time.

        Examples
        --------
        >>> SeedStack().engine_defaults()  # doctest: +NORMALIZE_WHITESPACE
        {'sizer': RiskPerTrade(kind='risk', fraction=0.025), 'max_entries_per_day': 3,
         'max_positions': 2, 'max_hold': '24h'}
        """
        return {
            "sizer": RiskPerTrade(fraction=self.risk),
            "max_entries_per_day": self.max_entries_per_day,
            "max_positions": self.max_positions,
            "max_hold": self.max_hold,
        }
