"""Zone strength: how price has treated levels of the same name lately, and what else sits in
the zone, scored 0-100 from what is observable when the zone is confirmed.

Every component of a zone is computed from bars up to and including its confirmation bar
(``confirmed_at``), so the columns are fixed at confirmation and the result is an event frame
like its input: a zone's score on ``df[:t]`` equals its score on the whole data.

Components (``L`` = ``lookback_days`` days of calendar time before the confirmation bar):

==================== ====================================================================
touches              touches of earlier zones of the same level name within ``L``: bars in
                     a zone's life (after its confirmation bar, up to its invalidation bar)
                     whose previous close is outside the zone and whose range, stretched to
                     that close, meets it
rejections           those touches whose first close outside the zone (from the touch bar
                     on) came back on the side the touch came from, when known by now
reaction_atr         mean largest move away from the zone on that side, from the touch bar
                     to the bar before the zone's next touch or to its invalidation bar, in
                     the zone's daily ATR (touches whose window has ended); NaN without one
touch_volume_ratio   mean volume of the touch bars / mean volume of all bars within ``L``;
                     NaN without touches
age_bars             bars since price last traded at the level (a bar whose stretched range
                     contains it), up to the confirmation bar; all bars so far when never
confluence_levels    levels of other names inside the zone, among the zones active right
                     after its confirmation (the latest of each name, not yet replaced)
confluence_smc       events of ``smc_events`` confirmed within ``L`` up to the zone's
                     confirmation, not invalidated by then, whose [bottom, top] overlaps it
==================== ====================================================================

The level name enters only through its own history: no name gets a fixed bonus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import (
    check_choice,
    check_event_frame,
    check_float,
    check_int,
    ohlcv_arrays,
)
from quantlib.data.events import nanoseconds
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.zones import _kernels as kernels
from quantlib.zones.levels import levels

__all__ = ["COMPONENTS", "DEFAULT_WEIGHTS", "strength"]

COMPONENTS: tuple[str, ...] = (
    "touches",
    "rejections",
    "reaction_atr",
    "touch_volume_ratio",
    "age_bars",
    "confluence_levels",
    "confluence_smc",
)
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "touches": 0.15,
    "rejections": 0.25,
    "reaction_atr": 0.15,
    "touch_volume_ratio": 0.10,
    "age_bars": 0.10,
    "confluence_levels": 0.15,
    "confluence_smc": 0.10,
}
_ZONE_COLUMNS = (
    "confirmed_at",
    "invalidated_at",
    "top",
    "bottom",
    "level",
    "level_name",
    "zone_id",
    "atr",
)
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class ZoneArrays:
    """Zones as kernel arrays, sorted by level name then confirmation bar.

    ``order[k]`` is the row of the input frame of sorted zone ``k``; ``starts`` the offsets of
    the names; ``invalidated`` is :data:`quantlib.zones._kernels.NEVER` while not replaced.
    """

    order: np.ndarray
    starts: np.ndarray
    confirmed: np.ndarray
    invalidated: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    level: np.ndarray
    atr: np.ndarray


def zone_arrays(index: pd.DatetimeIndex, zones: pd.DataFrame, caller: str) -> ZoneArrays:
    """Check that ``zones`` came from :func:`quantlib.zones.levels` on these bars and return
    its kernel arrays."""
    check_event_frame(
        f"{caller}: zones",
        zones,
        _ZONE_COLUMNS,
        "quantlib.zones.levels(df) (or strength(df, zones))",
        error=DataError,
    )
    stamps = nanoseconds(index)
    confirmed_times = pd.DatetimeIndex(zones["confirmed_at"])
    confirmed_ns = np.asarray(confirmed_times.as_unit("ns").asi8)
    confirmed = np.searchsorted(stamps, confirmed_ns, side="left").astype(np.int64)
    found = confirmed < len(stamps)
    found[found] = stamps[confirmed[found]] == confirmed_ns[found]
    if not found.all():
        bad = confirmed_times[int(np.flatnonzero(~found)[0])]
        raise DataError(
            f"{caller}: a zone is confirmed at {bad}, which is not a bar of df. Fix: compute "
            "the zones on the same bars (levels(df)) and pass both",
            rule="zones from other data",
        )
    invalid_times = pd.DatetimeIndex(zones["invalidated_at"])
    invalidated = np.where(
        np.asarray(invalid_times.isna()),
        kernels.NEVER,
        np.searchsorted(stamps, np.asarray(invalid_times.as_unit("ns").asi8), side="left"),
    ).astype(np.int64)
    codes, uniques = pd.factorize(zones["level_name"].to_numpy(dtype=object))
    order = np.lexsort((confirmed, codes)).astype(np.int64)
    starts = np.searchsorted(codes[order], np.arange(len(uniques) + 1)).astype(np.int64)

    def column(name: str) -> np.ndarray:
        return np.ascontiguousarray(zones[name].to_numpy(dtype=np.float64)[order])

    return ZoneArrays(
        order=order,
        starts=starts,
        confirmed=np.ascontiguousarray(confirmed[order]),
        invalidated=np.ascontiguousarray(invalidated[order]),
        top=column("top"),
        bottom=column("bottom"),
        level=column("level"),
        atr=column("atr"),
    )


def _weights(weights: Mapping[str, float] | None, with_smc: bool) -> dict[str, float]:
    chosen = dict(DEFAULT_WEIGHTS)
    if weights is not None:
        if not isinstance(weights, Mapping):
            raise ConfigError(
                f"weights must be a dict of component -> weight such as {{'rejections': 0.5}}, "
                f"got {weights!r}"
            )
        for key, value in weights.items():
            name = check_choice("weights key", key, COMPONENTS)
            chosen[name] = check_float(f"weights[{name!r}]", value, minimum=0.0)
    if not with_smc:
        chosen["confluence_smc"] = 0.0  # no events given: the component is not measured
    if sum(chosen.values()) <= 0:
        raise ConfigError(
            f"the weights in use sum to 0 ({chosen}); give at least one component a positive weight"
        )
    return chosen


def _events(smc_events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(smc_events, pd.DataFrame):
        raise DataError(
            f"smc_events must be an event frame (a DataFrame), got {type(smc_events).__name__}"
        )
    missing = [c for c in ("confirmed_at", "top", "bottom") if c not in smc_events.columns]
    if missing:
        raise DataError(
            f"smc_events lacks the columns {missing}. Fix: pass an event frame of "
            "quantlib.smc (e.g. fvg(df) or order_blocks(df))",
            rule="missing event columns",
        )
    confirmed = pd.DatetimeIndex(smc_events["confirmed_at"])
    if "invalidated_at" in smc_events.columns:
        invalidated = pd.DatetimeIndex(smc_events["invalidated_at"])
    else:
        invalidated = pd.DatetimeIndex(np.full(len(smc_events), np.datetime64("NaT", "ns")))
    top = smc_events["top"].to_numpy(dtype=np.float64)
    bottom = smc_events["bottom"].to_numpy(dtype=np.float64)
    keep = np.asarray(confirmed.notna()) & ~np.isnan(top) & ~np.isnan(bottom)
    confirmed_ns = np.asarray(confirmed.as_unit("ns").asi8)[keep]
    invalid_ns = np.where(
        np.asarray(invalidated.isna()),
        np.iinfo(np.int64).max,
        np.asarray(invalidated.as_unit("ns").asi8),
    )[keep]
    order = np.argsort(confirmed_ns, kind="stable")
    return (
        np.ascontiguousarray(confirmed_ns[order]),
        np.ascontiguousarray(invalid_ns[order]),
        np.ascontiguousarray(top[keep][order]),
        np.ascontiguousarray(bottom[keep][order]),
    )


def _ratio(x: np.ndarray) -> np.ndarray:
    """x / (1 + x): 0 at 0, 0.5 at 1, towards 1; NaN (not measured) counts as 0."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    return x / (1.0 + x)


def strength(
    df: pd.DataFrame,
    zones: pd.DataFrame | None = None,
    *,
    smc_events: pd.DataFrame | None = None,
    lookback_days: int = 20,
    weights: Mapping[str, float] | None = None,
    timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """Score each zone 0-100 from the history observable at its confirmation.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame (the bars the zones were computed on).
    zones : pandas.DataFrame, optional
        Output of :func:`quantlib.zones.levels` on ``df``; default ``levels(df)``.
    smc_events : pandas.DataFrame, optional
        Any event frame with ``confirmed_at``, ``top``, ``bottom`` (and optionally
        ``invalidated_at``), e.g. fair value gaps or order blocks, for ``confluence_smc``.
        Without it that component is 0 and its weight is dropped.
    lookback_days : int, default 20
        History window in days (calendar time before the confirmation bar).
    weights : dict, optional
        Weight of each component (keys from :data:`COMPONENTS`, values >= 0); missing keys
        keep :data:`DEFAULT_WEIGHTS`. Weights are normalised by their sum.
    timeframe : str or Timeframe, optional
        Passed to :func:`levels` when ``zones`` is not given.

    Returns
    -------
    pandas.DataFrame
        ``zones`` (same rows and order) with the columns of :data:`COMPONENTS` (see the
        module notes; counts are int64) and ``score`` (0-100). Every added column is fixed
        at the zone's confirmation.

    Notes
    -----
    Each component is mapped to [0, 1] and the score is their weighted mean:

    .. math::

        score = 100 \\cdot \\frac{\\sum_k w_k c_k}{\\sum_k w_k},\\quad
        \\begin{aligned}
        c_{touches} &= d / (1 + d),\\ d = touches / L_{days} \\\\
        c_{rejections} &= (rejections + 1) / (touches + 2) \\\\
        c_{reaction} &= r / (1 + r),\\ r = reaction\\_atr \\\\
        c_{volume} &= v / (1 + v),\\ v = touch\\_volume\\_ratio \\\\
        c_{age} &= \\min(\\Delta t_{untested} / L, 1) \\\\
        c_{levels} &= k / (1 + k),\\ c_{smc} = k / (1 + k)
        \\end{aligned}

    The rejection rate is Laplace-smoothed (0.5 without touches); an unmeasured reaction or
    volume ratio (no touches) counts as 0; the age is the time since price last traded at the
    level, capped at the lookback.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0 + (i % 24) for i in range(96)], spread=0.0)  # 4 days, hourly
    >>> zones = strength(bars, levels(bars, atr_period=1, include=("pdh", "pdl")))
    >>> zones[["zone_id", "touches", "rejections", "age_bars", "score"]]
              zone_id  touches  rejections  age_bars      score
    0  pdh:2024-01-01        0           0         0  13.888889
    1  pdl:2024-01-01        0           0        22  14.398148
    2  pdh:2024-01-02        1           0         0  15.787677
    3  pdl:2024-01-02        1           1        22  32.519841
    4  pdh:2024-01-03        2           1         0  21.138807
    5  pdl:2024-01-03        2           2        22  35.556157
    6  pdh:2024-01-04        3           2         0  24.575347
    7  pdl:2024-01-04        3           3        22  37.603807
    """
    lookback_days = check_int("lookback_days", lookback_days, minimum=1)
    chosen = _weights(weights, smc_events is not None)
    index, bars = ohlcv_arrays(df, "strength")
    if zones is None:
        zones = levels(df, timeframe=timeframe)
    z = zone_arrays(index, zones, "strength")
    lookback_ns = lookback_days * _DAY_NS
    stamps = nanoseconds(index)
    high = search.searchable(bars["high"])
    low = search.searchable(bars["low"])
    touches, rejections, reaction, volume_ratio = kernels.touch_history(
        high,
        low,
        bars["close"],
        bars["volume"],
        stamps,
        z.starts,
        z.confirmed,
        z.invalidated,
        z.top,
        z.bottom,
        z.atr,
        lookback_ns,
    )
    last = kernels.untested_since(bars["high"], bars["low"], bars["close"], z.confirmed, z.level)
    age = np.where(last >= 0, z.confirmed - last, z.confirmed + 1)
    untested_ns = np.where(
        last >= 0, stamps[z.confirmed] - stamps[np.maximum(last, 0)], lookback_ns
    )
    near_levels = kernels.level_confluence(
        z.starts, z.confirmed, z.invalidated, z.top, z.bottom, z.level
    )
    if smc_events is not None:
        near_events = kernels.event_confluence(
            stamps[z.confirmed], z.top, z.bottom, lookback_ns, *_events(smc_events)
        )
    else:
        near_events = np.zeros(len(z.confirmed), dtype=np.int64)

    normalised = {
        "touches": _ratio(touches / lookback_days),
        "rejections": (rejections + 1.0) / (touches + 2.0),
        "reaction_atr": _ratio(reaction),
        "touch_volume_ratio": _ratio(volume_ratio),
        "age_bars": np.minimum(untested_ns / lookback_ns, 1.0),
        "confluence_levels": _ratio(near_levels.astype(np.float64)),
        "confluence_smc": _ratio(near_events.astype(np.float64)),
    }
    total = sum(chosen.values())
    score = 100.0 * sum(chosen[k] * normalised[k] for k in COMPONENTS) / total

    columns = {
        "touches": touches,
        "rejections": rejections,
        "reaction_atr": reaction,
        "touch_volume_ratio": volume_ratio,
        "age_bars": age.astype(np.int64),
        "confluence_levels": near_levels,
        "confluence_smc": near_events,
        "score": score,
    }
    out = zones.copy()
    for name, values in columns.items():
        # Kernel order is by name then confirmation; put values back on the input's rows.
        restored = np.empty_like(values)
        restored[z.order] = values
        out[name] = restored
    return out
