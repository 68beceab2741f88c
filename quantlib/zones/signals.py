"""Entry signals at daily zones: rejections (fades) and break-and-retests.

Rules, stated once (per zone, during its life: from the bar after ``confirmed_at`` up to and
including the bar that replaces it, ``invalidated_at``):

* **Side.** A zone's side is that of the last close outside it, starting from the confirming
  close (price above the zone: the zone is support; below: resistance). Closes inside the
  zone leave the side unchanged; when the zone is confirmed with the close inside it, the
  first close outside sets the side.
* **Rejection (fade).** A bar that closes on the zone's side after trading into the zone
  (bull: ``low <= top`` and ``close > top``; bear: ``high >= bottom`` and ``close <
  bottom``), while price has never closed on the other side. The last close outside the
  zone before it was on the same side (usually the previous close; it may have taken a few
  bars inside the zone to turn).
* **Break and retest.** A close on the other side of the zone (the break) makes that the
  new side; the first later bar that trades back into the zone and closes away from it on
  the new side is the retest signal (bull after a break up, bear after a break down). A
  rejection is only possible before the first break.
* **One signal per zone, kind and direction**: the first. ``expiry_bars`` limits how long a
  setup stays open: a rejection must come within that many bars of the zone's confirmation,
  a retest within that many bars of its break.
* **Orders.** ``entry_ref`` is the signal bar's close; ``stop`` lies ``stop_buffer`` daily
  ATRs beyond the far side of the zone (below ``bottom`` for a long, above ``top`` for a
  short); ``target`` is the level of the nearest other zone wholly beyond the entry in the
  trade's direction among the zones active at the signal bar (``target="next_zone"``; when
  there is none, or with ``target="r_multiple"``, ``entry ± r_multiple × risk``).
* **Timing.** ``anchor_time`` = ``confirmed_at`` = the signal bar, whose close makes the
  signal knowable; ``actionable_at`` = ``confirmed_at`` + one bar length, the open of the
  next bar on a gap-free grid, computed from the timeframe so it never changes as data is
  appended. Lifecycle: ``stop_hit_at`` / ``target_hit_at`` are the first bars after the
  signal bar whose range reaches the stop / target; ``invalidated_at`` is ``stop_hit_at``.

``smartmoneyconcepts`` 0.0.27 has no zone signals; the closest, ``previous_high_low``, only
flags per bar whether the previous high/low has been broken.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import check_choice, check_float, check_int, ohlcv_arrays
from quantlib.data.events import build_events, times_at
from quantlib.data.timeframes import Timeframe
from quantlib.exceptions import ConfigError
from quantlib.zones import _kernels as kernels
from quantlib.zones.levels import bar_length
from quantlib.zones.strength import strength, zone_arrays

__all__ = ["SIGNAL_KINDS", "TARGETS", "signals"]

SIGNAL_KINDS: tuple[str, ...] = ("rejection", "break_retest")
TARGETS: tuple[str, ...] = ("next_zone", "r_multiple")


def _kinds(kind: object) -> tuple[str, ...]:
    items = [kind] if isinstance(kind, str) else kind
    if not isinstance(items, Iterable):
        raise ConfigError(f"kind must be a signal kind or a sequence of them, got {kind!r}")
    chosen = tuple(dict.fromkeys(check_choice("kind", k, SIGNAL_KINDS) for k in items))
    if not chosen:
        raise ConfigError(f"kind is empty; pick from {list(SIGNAL_KINDS)}")
    return chosen


def signals(
    df: pd.DataFrame,
    zones: pd.DataFrame | None = None,
    *,
    kind: str | Iterable[str] = SIGNAL_KINDS,
    stop_buffer: float = 0.1,
    target: str = "next_zone",
    r_multiple: float = 2.0,
    min_score: float = 0.0,
    expiry_bars: int | None = None,
    timeframe: str | Timeframe | None = None,
) -> pd.DataFrame:
    """Rejection and break-and-retest entries at zones, with stop and target.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame (the bars the zones were computed on).
    zones : pandas.DataFrame, optional
        Zones from :func:`quantlib.zones.levels`, optionally scored by
        :func:`quantlib.zones.strength`; default ``strength(df, levels(df))``.
    kind : str or sequence of str, default ("rejection", "break_retest")
        Signal kinds to emit.
    stop_buffer : float, default 0.1
        Distance of the stop beyond the zone, in the zone's daily ATR (>= 0).
    target : {"next_zone", "r_multiple"}, default "next_zone"
        Take-profit rule (see the module notes).
    r_multiple : float, default 2.0
        Reward-to-risk of the ``r_multiple`` target, also the fallback of ``next_zone`` (> 0).
    min_score : float, default 0.0
        Only zones whose ``score`` is at least this (0-100) give signals; needs a ``score``
        column when above 0.
    expiry_bars : int, optional
        Bars a setup stays open (see the module notes); default: the zone's whole life.
    timeframe : str or Timeframe, optional
        Bar length for ``actionable_at`` (and for :func:`levels` when ``zones`` is not
        given). Default: the series' recorded timeframe, else the most common spacing.

    Returns
    -------
    pandas.DataFrame
        Event frame, kind ``zone``, direction ``bull`` (long) or ``bear`` (short), one row
        per signal; ``top``/``bottom`` are the zone's. Extra columns: ``signal``
        (``rejection``/``break_retest``), ``zone_id``, ``level_name``, ``level``, ``score``
        (the zone's; NaN without one), ``entry_ref``, ``stop``, ``target``,
        ``target_source`` (``next_zone``/``r_multiple``), ``risk`` (|entry - stop|),
        ``break_time`` (the break's bar for a retest, NaT for a rejection),
        ``actionable_at``, and the lifecycle columns ``stop_hit_at`` and ``target_hit_at``.
        All but the lifecycle columns are fixed at the signal bar.

    Notes
    -----
    For a long at a zone :math:`[b, t]` with ATR :math:`a`, entry :math:`E`:

    .. math::

        stop = b - k\\,a,\\quad risk = E - stop,\\quad
        target = \\min\\{level_j : bottom_j > E\\}\\ \\text{or}\\ E + R \\cdot risk

    mirrored for a short (:math:`stop = t + k\\,a`). :math:`k` = ``stop_buffer``,
    :math:`R` = ``r_multiple``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> from quantlib.zones.levels import levels
    >>> closes = [100.0] * 10 + [110.0] + [100.0] * 13 + [104.0, 108.0, 110.0, 108.0] + [106.0] * 20
    >>> bars = make_ohlcv(closes, spread=0.0)  # day 1: high 110, close 100; ATR(1) = 10
    >>> zones = levels(bars, atr_period=1, width=0.1, include=("pdh",))  # 109-111
    >>> found = signals(bars, zones, stop_buffer=0.1, target="r_multiple")
    >>> found[["signal", "direction", "confirmed_at", "entry_ref", "stop", "target"]]
          signal direction              confirmed_at  entry_ref   stop  target
    0  rejection      bear 2024-01-02 03:00:00+00:00      108.0  112.0   100.0
    """
    kinds = _kinds(kind)
    stop_buffer = check_float("stop_buffer", stop_buffer, minimum=0.0)
    target = check_choice("target", target, TARGETS)
    r_multiple = check_float("r_multiple", r_multiple, minimum=0.0, inclusive=False)
    min_score = check_float("min_score", min_score, minimum=0.0, maximum=100.0)
    expiry = -1 if expiry_bars is None else check_int("expiry_bars", expiry_bars, minimum=1)
    index, bars = ohlcv_arrays(df, "signals")
    bar = bar_length(df, timeframe)
    if zones is None:
        zones = strength(df, timeframe=timeframe)
    z = zone_arrays(index, zones, "signals")
    if "score" in zones.columns:
        score = zones["score"].to_numpy(dtype=np.float64)[z.order]
    elif min_score > 0:
        raise ConfigError(
            f"min_score={min_score} needs zones with a 'score' column; pass "
            "strength(df, zones) instead of the bare levels"
        )
    else:
        score = np.full(len(z.order), np.nan)
    eligible = (score >= min_score) if min_score > 0 else np.ones(len(z.order), dtype=np.bool_)

    high, low, close = bars["high"], bars["low"], bars["close"]
    n = len(close)
    where, bar_pos, direction, code, broke = kernels.zone_setups(
        high,
        low,
        close,
        z.confirmed,
        z.invalidated,
        z.top,
        z.bottom,
        np.ascontiguousarray(eligible),
        "rejection" in kinds,
        "break_retest" in kinds,
        expiry,
    )
    entry = close[bar_pos]
    buffer = stop_buffer * z.atr[where]
    stop = np.where(direction > 0, z.bottom[where] - buffer, z.top[where] + buffer)
    risk = np.abs(entry - stop)
    fallback = entry + direction * r_multiple * risk
    if target == "next_zone":
        nearest = kernels.next_zone_targets(
            z.starts,
            z.confirmed,
            z.invalidated,
            z.top,
            z.bottom,
            z.level,
            where,
            bar_pos,
            direction,
            entry,
        )
    else:
        nearest = np.full(len(where), np.nan)
    found = ~np.isnan(nearest)
    goal = np.where(found, nearest, fallback)
    stop_hit, target_hit = kernels.first_hits(
        search.build_max_tree(high),
        search.build_max_tree(-low),
        n,
        bar_pos,
        direction,
        stop,
        goal,
    )
    rows = z.order[where]

    def column(name: str) -> np.ndarray:
        return np.asarray(zones[name].to_numpy(dtype=object)[rows])

    confirmed_times = times_at(index, bar_pos)
    return build_events(
        index,
        "zone",
        direction=direction,
        anchor=bar_pos,
        confirmed=bar_pos,
        top=z.top[where],
        bottom=z.bottom[where],
        invalidated=stop_hit,
        extra={
            "signal": np.array(SIGNAL_KINDS, dtype=object)[code],
            "zone_id": column("zone_id"),
            "level_name": column("level_name"),
            "level": z.level[where],
            "score": score[where],
            "entry_ref": entry,
            "stop": stop,
            "target": goal,
            "target_source": np.where(found, "next_zone", "r_multiple").astype(object),
            "risk": risk,
            "break_time": times_at(index, broke),
            "actionable_at": confirmed_times + bar,
            "stop_hit_at": times_at(index, stop_hit),
            "target_hit_at": times_at(index, target_hit),
        },
    )
