"""Confluence: one 0-100 score per bar and direction from independent pieces of evidence.

For each bar :math:`t` and side :math:`s \\in \\{bull, bear\\}` the components are, using only
what is known at the close of bar :math:`t`:

========== ===================================================================================
zone       strength (score/100, or 1 without a strength column) of the best active daily zone
           the bar traded into; a zone the bar closed at or above counts for bull, below for bear
ob_fvg     1 if the bar traded into an active order block or fair value gap of that direction
sweep      1 if a liquidity sweep of that direction was confirmed within ``sweep_window`` bars
structure  1 if the market-structure trend after the bar is that direction
htf        1 if the higher-timeframe trend (closed higher bars only) is that direction
========== ===================================================================================

.. math:: score_s(t) = 100 \\cdot \\frac{\\sum_k w_k c_{k,s}(t)}{\\sum_k w_k}

An interval event (zone, block, gap) is in play from the bar after its ``confirmed_at`` until
the bar before its ``invalidated_at``; blocks and gaps for at most ``max_age_bars`` bars.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import check_float, check_int, ohlcv_arrays
from quantlib.confluence import _kernels as kernels
from quantlib.data.events import nanoseconds
from quantlib.exceptions import ConfigError
from quantlib.smc.fvg import fvg
from quantlib.smc.liquidity import liquidity
from quantlib.smc.mtf import higher_timeframe_bars, known_positions
from quantlib.smc.order_blocks import order_blocks
from quantlib.smc.structure import trend_values
from quantlib.zones.levels import levels
from quantlib.zones.strength import strength

__all__ = ["COMPONENTS", "ConfluenceWeights", "confluence"]

COMPONENTS: tuple[str, ...] = ("zone", "ob_fvg", "sweep", "structure", "htf")
_CHUNK = 1 << 16  # bars per chunk of the score sums


@dataclass(frozen=True)
class ConfluenceWeights:
    """Weights of the components (any non-negative numbers; they are normalised)."""

    zone: float = 0.30
    ob_fvg: float = 0.20
    sweep: float = 0.15
    structure: float = 0.20
    htf: float = 0.15

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            check_float(f"weights.{name}", value, minimum=0.0)
        if sum(asdict(self).values()) <= 0:
            raise ConfigError("confluence weights sum to 0; give at least one a positive weight")


def _positions(index: pd.DatetimeIndex, times: pd.Series, missing: int) -> np.ndarray:
    """Bar positions of ``times`` in ``index``: ``missing`` for NaT, -1 for a time that is
    not a bar."""
    values = pd.DatetimeIndex(times)
    if (values.tz is None) != (index.tz is None):
        found = index.get_indexer(values)  # naive against aware: nothing matches
    else:
        found = search.positions_of(nanoseconds(index), nanoseconds(values))
    return np.where(np.asarray(values.isna()), missing, found).astype(np.int64)


def _intervals(
    index: pd.DatetimeIndex, events: pd.DataFrame, max_age: int | None
) -> tuple[np.ndarray, np.ndarray]:
    n = len(index)
    start = _positions(index, events["confirmed_at"], n) + 1
    end = _positions(index, events["invalidated_at"], n)
    if max_age is not None:
        end = np.minimum(end, start + max_age)
    return start, end


def _areas(
    index: pd.DatetimeIndex, frames: tuple[pd.DataFrame, ...], max_age: int
) -> dict[str, tuple[np.ndarray, ...]]:
    """Per side (bull, bear): start, end, top and bottom of the events of ``frames`` (read
    column by column: selecting rows of a frame would copy all its columns)."""
    parts: dict[str, list[tuple[np.ndarray, ...]]] = {"bull": [], "bear": []}
    for events in frames:
        start, end = _intervals(index, events, max_age)
        top = events["top"].to_numpy(dtype=np.float64)
        bottom = events["bottom"].to_numpy(dtype=np.float64)
        for side, rows in parts.items():
            chosen = (events["direction"] == side).to_numpy()
            rows.append((start[chosen], end[chosen], top[chosen], bottom[chosen]))
    return {
        side: tuple(np.concatenate(columns) for columns in zip(*rows, strict=True))
        for side, rows in parts.items()
    }


def _sides(trend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a trend is up (> 0) and where it is down (< 0); NaN is neither."""
    return trend > 0, trend < 0


def _higher_sides(
    df: pd.DataFrame, timeframe: str, left: int, right: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sides` of the trend on ``timeframe`` bars, each bar of ``df`` seeing the last
    higher bar closed by its close (neither side before the first, or without enough higher
    bars for a swing)."""
    n = len(df)
    higher = higher_timeframe_bars(df, timeframe)
    if len(higher) <= left + right:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    up, down = _sides(trend_values(higher, left=left, right=right))
    position = known_positions(pd.DatetimeIndex(higher.index), df, timeframe)
    before = position < 0
    np.maximum(position, 0, out=position)
    bull, bear = up[position], down[position]
    bull[before] = False
    bear[before] = False
    return bull, bear


def confluence(
    df: pd.DataFrame,
    *,
    zones: pd.DataFrame | None = None,
    fvgs: pd.DataFrame | None = None,
    blocks: pd.DataFrame | None = None,
    liquidity_events: pd.DataFrame | None = None,
    trend: pd.Series | None = None,
    htf_trend: pd.Series | None = None,
    htf_timeframe: str | None = "1d",
    weights: ConfluenceWeights | None = None,
    left: int = 5,
    right: int = 5,
    sweep_window: int = 12,
    max_age_bars: int = 500,
) -> pd.DataFrame:
    """Per-bar confluence score for each direction, with every component exposed.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    zones, fvgs, blocks, liquidity_events : pandas.DataFrame, optional
        Event frames to use; computed with the library defaults when not given (zones with
        their strength score). Swing-based inputs use ``left``/``right``.
    trend, htf_trend : pandas.Series, optional
        Per-bar trend (+1, -1, 0) on ``df``'s index; by default from
        :func:`quantlib.smc.structure.trend_state`, and for ``htf_trend`` the same on
        ``htf_timeframe`` bars aligned so a higher bar counts only after it closed.
    htf_timeframe : str or None
        Higher timeframe; ``None`` drops the htf component (its weight is ignored).
    weights : ConfluenceWeights, optional
    sweep_window, max_age_bars : int
        How long a sweep counts, and how long a block or gap stays in play.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``; columns ``bull_<component>`` and ``bear_<component>`` for each of
        :data:`COMPONENTS` (in [0, 1]), then ``bull_score`` and ``bear_score`` (0-100).
    """
    weights = weights or ConfluenceWeights()
    sweep_window = check_int("sweep_window", sweep_window, minimum=1)
    max_age_bars = check_int("max_age_bars", max_age_bars, minimum=1)
    index, bars = ohlcv_arrays(df, "confluence", min_bars=left + right + 1)
    n = len(index)
    high, low, close = bars["high"], bars["low"], bars["close"]
    # The inputs first, so that their temporaries are gone before the output block exists.
    if zones is None:
        zones = strength(df, levels(df))
    if fvgs is None:
        fvgs = fvg(df)
    if blocks is None:
        blocks = order_blocks(df, left=left, right=right)
    if liquidity_events is None:
        liquidity_events = liquidity(df, left=left, right=right)
    if trend is None:
        structure_sides = _sides(trend_values(df, left=left, right=right))
    else:
        structure_sides = _sides(trend.to_numpy(dtype=np.float64))
    use_htf = htf_timeframe is not None or htf_trend is not None
    if htf_trend is not None:
        htf_sides = _sides(htf_trend.to_numpy(dtype=np.float64))
    elif htf_timeframe is not None:
        htf_sides = _higher_sides(df, htf_timeframe, left, right)
    else:
        htf_sides = (np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))

    columns = [f"{s}_{c}" for s in ("bull", "bear") for c in COMPONENTS]
    columns += ["bull_score", "bear_score"]
    # Every column is written in place into one block, the frame's own storage.
    block = np.zeros((len(columns), n))
    out = dict(zip(columns, block, strict=True))

    start, end = _intervals(index, zones, None)
    score = (
        zones["score"].to_numpy(dtype=np.float64) / 100.0
        if "score" in zones.columns
        else np.ones(len(zones))
    )
    kernels.zone_sides(
        high,
        low,
        close,
        start,
        end,
        zones["top"].to_numpy(dtype=np.float64),
        zones["bottom"].to_numpy(dtype=np.float64),
        ((zones["top"] + zones["bottom"]) / 2).to_numpy(dtype=np.float64),
        score,
        out["bull_zone"],
        out["bear_zone"],
    )
    for side, (start, end, top, bottom) in _areas(index, (fvgs, blocks), max_age_bars).items():
        kernels.overlap_max(
            high, low, start, end, top, bottom, np.ones(len(start)), out[f"{side}_ob_fvg"]
        )
    sweeps = liquidity_events[(liquidity_events["kind"] == "sweep").to_numpy()]
    for side in ("bull", "bear"):
        chosen = sweeps[(sweeps["direction"] == side).to_numpy()]
        at = _positions(index, chosen["confirmed_at"], -1)
        kernels.recent_any(at, sweep_window, out[f"{side}_sweep"])
    for side, structure_side, htf_side in zip(
        ("bull", "bear"), structure_sides, htf_sides, strict=True
    ):
        out[f"{side}_structure"][:] = structure_side
        out[f"{side}_htf"][:] = htf_side

    weight = asdict(weights)
    if not use_htf:
        weight["htf"] = 0.0
    total = sum(weight.values())
    if total <= 0:
        raise ConfigError("every used confluence component has weight 0")
    scratch = np.empty(min(n, _CHUNK))
    for side in ("bull", "bear"):
        # 100 * (w_1 c_1 + w_2 c_2 + ...) / total, summed in component order; by chunks, so
        # the products need no array as long as the data.
        for lo in range(0, n, _CHUNK):
            score = out[f"{side}_score"][lo : lo + _CHUNK]
            product = scratch[: len(score)]
            for c in COMPONENTS:
                np.multiply(weight[c], out[f"{side}_{c}"][lo : lo + _CHUNK], out=product)
                score += product
            score *= 100.0
            score /= total
    return pd.DataFrame(block.T, index=index, columns=columns, copy=False)
