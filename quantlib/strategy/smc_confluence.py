"""``smc_confluence``: daily-zone signals kept only where smart-money evidence agrees.

Also home of the confluence helpers the seed stack shares: :func:`confluence_scores` (the
per-bar score of :func:`quantlib.confluence.confluence` with its warm-up stated) and
:func:`confluence_tags` (the components written into a trade's tag).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from quantlib.confluence.score import COMPONENTS, confluence
from quantlib.data.timeframes import parse_timeframe
from quantlib.strategy.daily_zones import ZoneRules, names_parameter, zone_signal_frame
from quantlib.zones.signals import SIGNAL_KINDS

__all__ = ["SmcConfluence", "confluence_scores", "confluence_tags"]

_SCORE_COLUMNS: tuple[str, ...] = (
    *(f"{side}_{c}" for side in ("bull", "bear") for c in COMPONENTS),
    "bull_score",
    "bear_score",
)


def confluence_scores(
    bars: pd.DataFrame,
    zones: pd.DataFrame | None = None,
    *,
    htf_timeframe: str | None = "1d",
    left: int = 5,
    right: int = 5,
) -> pd.DataFrame:
    """:func:`quantlib.confluence.confluence` of ``bars``, NaN on the first ``left + right`` bars.

    The swing-based components need ``left + right + 1`` bars before they can be computed at
    all, so the first ``left + right`` bars are a warm-up without a score, on any length of
    data: that keeps the score of a bar the same however much data follows it.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(60) / 3), spread=0.0)
    >>> scores = confluence_scores(bars, left=2, right=2)
    >>> int(scores["bull_score"].isna().sum()), len(confluence_scores(bars.iloc[:4]))
    (4, 4)
    """
    warm_up = left + right
    if len(bars) <= warm_up:
        return pd.DataFrame(np.nan, index=bars.index, columns=list(_SCORE_COLUMNS))
    scores = confluence(bars, zones=zones, htf_timeframe=htf_timeframe, left=left, right=right)
    scores.iloc[:warm_up] = np.nan
    return scores


def side_scores(scores: pd.DataFrame, bar: np.ndarray, side: np.ndarray) -> np.ndarray:
    """The score of ``side`` (+1 bull, -1 bear) at each ``bar`` position (NaN in the warm-up)."""
    bull = scores["bull_score"].to_numpy(dtype=np.float64)[bar]
    bear = scores["bear_score"].to_numpy(dtype=np.float64)[bar]
    return np.asarray(np.where(side > 0, bull, bear), dtype=np.float64)


def confluence_tags(
    base: list[str], scores: pd.DataFrame, bar: np.ndarray, side: np.ndarray
) -> list[str]:
    """Tags ``"<base>|conf=<score>|zone=…,ob_fvg=…,sweep=…,structure=…,htf=…"``.

    Each component is the side's value in [0, 1] at the signal bar (two decimals), so the
    ledger shows why each trade passed the gate.

    Examples
    --------
    >>> scores = pd.DataFrame({"bull_zone": [0.456], "bull_ob_fvg": [1.0], "bull_sweep": [0.0],
    ...     "bull_structure": [1.0], "bull_htf": [0.0], "bull_score": [53.68]})
    >>> confluence_tags(["pdl_fade"], scores, np.array([0]), np.array([1]))
    ['pdl_fade|conf=53.7|zone=0.46,ob_fvg=1.00,sweep=0.00,structure=1.00,htf=0.00']
    """
    columns = {key: scores[key].to_numpy(dtype=np.float64) for key in scores.columns}
    tags = []
    for label, at, s in zip(base, bar, side, strict=True):
        name = "bull" if s > 0 else "bear"
        parts = ",".join(f"{c}={columns[f'{name}_{c}'][at]:.2f}" for c in COMPONENTS)
        tags.append(f"{label}|conf={columns[f'{name}_score'][at]:.1f}|{parts}")
    return tags


class SmcConfluence(ZoneRules):
    """Zone signals kept only when the SMC confluence score agrees with them.

    Rules (besides those of :mod:`quantlib.strategy.daily_zones`):

    1. Candidates are the zone signals of ``kind`` (rejections and break-and-retests by
       default) at the scored daily zones.
    2. A candidate at bar t is kept when the confluence score of :func:`confluence_scores`
       (the zones are the strategy's own) for its direction at bar t is at least
       ``min_confluence``; the first ``left + right`` bars have no score and keep nothing.
    3. Among the kept candidates, one entry per bar as in the zone strategies, at bar t+1's
       open with the signal's stop and target; the tag lists the confluence components.

    The fields are those of :class:`quantlib.strategy.daily_zones.ZoneRules` and these:

    Attributes
    ----------
    kind : tuple of str
        Zone signal kinds among ``("rejection", "break_retest")``.
    min_confluence : float, default 50.0
        Minimum confluence score (0-100) of the trade's side.
    htf_timeframe : str or None, default "1d"
        Higher timeframe of the trend component (``None`` drops it).
    left, right : int, default 5
        Swing pivot lengths of the SMC detectors.

    Notes
    -----
    With :math:`c_{k,s}(t)` the components and :math:`w_k` their default weights,
    :math:`score_s(t) = 100 \\sum_k w_k c_{k,s}(t) / \\sum_k w_k`; a signal of side :math:`s`
    at bar :math:`t` is kept when :math:`score_s(t) \\ge` ``min_confluence``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes = [100.0] * 10 + [110.0] + [100.0] * 13 + [104.0, 108, 110, 108] + [106.0] * 20
    >>> bars = make_ohlcv(closes, spread=0.0)
    >>> rules = dict(levels="pdh", atr_period=1, width=0.1, target="r_multiple", left=2, right=2)
    >>> sig = SmcConfluence(min_confluence=4.0, **rules).signals(bars)  # the short at 03:00
    >>> print(sig["tag"][sig["entry"] != 0].iloc[0])  # weak: a bullish structure, a new zone
    rejection:pdh|conf=4.2|zone=0.14,ob_fvg=0.00,sweep=0.00,structure=0.00,htf=0.00
    >>> int(SmcConfluence(min_confluence=5.0, **rules).signals(bars)["entry"].abs().sum())
    0
    """

    name: ClassVar[str] = "smc_confluence"

    kind: tuple[str, ...] = SIGNAL_KINDS
    min_confluence: float = Field(50.0, ge=0.0, le=100.0)
    htf_timeframe: str | None = "1d"
    left: int = Field(5, ge=1)
    right: int = Field(5, ge=1)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> tuple[str, ...]:
        return names_parameter("kind", value, SIGNAL_KINDS)

    @field_validator("htf_timeframe")
    @classmethod
    def _htf(cls, value: str | None) -> str | None:
        return None if value is None else parse_timeframe(value).name

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        index = pd.DatetimeIndex(bars.index)
        zones = self.zones(bars)
        events = self.zone_events(bars, zones, self.kind)
        scores = confluence_scores(
            bars, zones, htf_timeframe=self.htf_timeframe, left=self.left, right=self.right
        )
        bar = index.get_indexer(pd.DatetimeIndex(events["confirmed_at"]))
        side = np.where(events["direction"].to_numpy(dtype=object) == "bull", 1, -1)
        keep = side_scores(scores, bar, side) >= self.min_confluence
        base = (events["signal"].astype(str) + ":" + events["level_name"].astype(str)).tolist()
        tags = confluence_tags(
            [b for b, k in zip(base, keep, strict=True) if k], scores, bar[keep], side[keep]
        )
        return zone_signal_frame(index, events.loc[keep], tags)
