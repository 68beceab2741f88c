"""Kernels of the daily zones: first touch of a zone, touch history per level name, the
confluence of levels, and the rejection / break-and-retest scan.

Every kernel works on plain numpy arrays of bar values and zone positions (0-based bar
numbers). ``never`` marks a position beyond any bar (a zone not yet invalidated); it is the
largest int64, so comparisons such as ``bar <= invalidated`` need no special case.

Zone arrays are sorted by level name (``group``) and, within a name, by confirmation bar;
``starts`` holds the offsets of the groups (``starts[g]`` to ``starts[g + 1]``).
"""

from __future__ import annotations

import numpy as np

from quantlib._kernels import heap, njit
from quantlib._kernels.search import (
    Searchable,
    extreme_between,
    first_greater_equal,
)

NEVER = np.iinfo(np.int64).max
# Bars per chunk of the sweeps: arrays grow between chunks, never inside the per-bar loop.
_CHUNK = 4096


@njit
def first_touch(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    confirmed: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
) -> np.ndarray:
    """First bar after confirmation whose extended range meets the zone, or -1.

    With the confirming close above the zone that is the first extended low <= top, below it
    the first extended high >= bottom, inside it the next bar.

    One pass over the bars with the pending zones in two heaps, those above price by their
    top (highest first) and those below by their bottom (lowest first): a bar touches
    exactly the zones at the heads it reaches. Most zones are touched within a few dozen
    bars, but some only after tens of thousands, which a search per zone pays for."""
    n = close.shape[0]
    m = confirmed.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    order = np.argsort(confirmed, kind="mergesort")
    above_keys = np.empty(m)  # -top: a max-heap on the tops of zones above price
    above_ids = np.empty(m, dtype=np.int64)
    below_keys = np.empty(m)  # bottoms of zones below price
    below_ids = np.empty(m, dtype=np.int64)
    n_above = 0
    n_below = 0
    lowest_top = -np.inf  # the highest top above price (where a falling bar touches first)
    highest_bottom = np.inf
    q = 0
    next_push = n if m == 0 else confirmed[order[0]] + 1  # the bar from which it is pending
    for j in range(max(min(next_push, n), 1), n):
        while j >= next_push:
            k = order[q]
            q += 1
            next_push = confirmed[order[q]] + 1 if q < m else n
            c = confirmed[k]
            if close[c] > top[k]:
                n_above = heap.push(above_keys, above_ids, n_above, -top[k], k)
                lowest_top = -above_keys[0]
            elif close[c] < bottom[k]:
                n_below = heap.push(below_keys, below_ids, n_below, bottom[k], k)
                highest_bottom = below_keys[0]
            else:
                out[k] = c + 1
        if lowest_top >= low[j] or lowest_top >= close[j - 1]:
            ext_low = min(low[j], close[j - 1])
            while n_above > 0 and -above_keys[0] >= ext_low:
                out[above_ids[0]] = j
                n_above = heap.pop(above_keys, above_ids, n_above)
            lowest_top = -above_keys[0] if n_above > 0 else -np.inf
        if highest_bottom <= high[j] or highest_bottom <= close[j - 1]:
            ext_high = max(high[j], close[j - 1])
            while n_below > 0 and below_keys[0] <= ext_high:
                out[below_ids[0]] = j
                n_below = heap.pop(below_keys, below_ids, n_below)
            highest_bottom = below_keys[0] if n_below > 0 else np.inf
    return out


@njit
def _grown(values: np.ndarray, size: int, need: int) -> np.ndarray:
    """``values`` with room for at least ``need`` entries (the first ``size`` kept)."""
    if need <= values.shape[0]:
        return values
    out = np.empty(max(2 * values.shape[0], need), dtype=values.dtype)
    out[:size] = values[:size]
    return out


@njit
def _topmost(values: np.ndarray, size: int, x: float, sign: int) -> int:
    """Index of the last of ``values[:size]`` with value <= x (``sign = -1``; the values
    rise) or >= x (``sign = 1``; they fall), -1 when none: the ones that qualify are a
    prefix."""
    lo, hi = -1, size  # values[lo] qualifies, values[hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if values[mid] <= x if sign == -1 else values[mid] >= x:
            lo = mid
        else:
            hi = mid
    return lo


@njit
def untested_since(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    confirmed: np.ndarray,
    level: np.ndarray,
) -> np.ndarray:
    """Last bar at or before confirmation whose extended range contains the level, or -1.

    With the close above the level every later bar stays above it, so the last extended low
    <= level is that bar (mirrored below).

    One pass over the bars keeps, for the extended lows, the bars not followed by a lower or
    equal one (their lows rise towards the present; any other bar is never the last one at
    or below a level), and mirrored for the highs; a zone confirmed at a bar reads the
    answer from those stacks by bisection."""
    n = close.shape[0]
    m = confirmed.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    order = np.argsort(confirmed, kind="mergesort")
    low_bar = np.empty(1024, dtype=np.int64)
    low_value = np.empty(1024)
    high_bar = np.empty(1024, dtype=np.int64)
    high_value = np.empty(1024)
    n_low = 0
    n_high = 0
    q = 0
    for start in range(0, n, _CHUNK):
        if q == m:
            break
        stop = min(start + _CHUNK, n)
        # Room for the whole chunk made here: see touch_history.
        low_bar = _grown(low_bar, n_low, n_low + stop - start)
        low_value = _grown(low_value, n_low, n_low + stop - start)
        high_bar = _grown(high_bar, n_high, n_high + stop - start)
        high_value = _grown(high_value, n_high, n_high + stop - start)
        for j in range(start, stop):
            ext_low = low[j] if j == 0 else min(low[j], close[j - 1])
            ext_high = high[j] if j == 0 else max(high[j], close[j - 1])
            while n_low > 0 and low_value[n_low - 1] >= ext_low:
                n_low -= 1
            low_bar[n_low] = j
            low_value[n_low] = ext_low
            n_low += 1
            while n_high > 0 and high_value[n_high - 1] <= ext_high:
                n_high -= 1
            high_bar[n_high] = j
            high_value[n_high] = ext_high
            n_high += 1
            while q < m and confirmed[order[q]] == j:
                k = order[q]
                q += 1
                x = level[k]
                if close[j] > x:
                    at = _topmost(low_value, n_low, x, -1)
                    out[k] = low_bar[at] if at >= 0 else -1
                elif close[j] < x:
                    at = _topmost(high_value, n_high, x, 1)
                    out[k] = high_bar[at] if at >= 0 else -1
                else:
                    out[k] = j
    return out


@njit
def touch_history(
    high: Searchable,
    low: Searchable,
    close: np.ndarray,
    volume: np.ndarray,
    stamps: np.ndarray,
    starts: np.ndarray,
    confirmed: np.ndarray,
    invalidated: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    atr: np.ndarray,
    lookback_ns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Touches, rejections, mean reaction (ATR) and touch volume ratio of each zone, from the
    touches of the earlier zones of its level name within ``lookback_ns`` before its
    confirmation bar. Only bars up to each zone's confirmation bar are read for it.

    A touch is a bar inside the life of a zone (after its confirmation bar, up to and
    including its invalidation bar) whose previous close is outside the zone and whose
    extended range meets it. Its episode ends at the first close outside the zone (a rejection
    when on the side it came from). Its reaction is the largest move away from the zone on
    that side, from the touch bar to the bar before the zone's next touch, or to the zone's
    invalidation bar, in units of the zone's ATR; it counts once that end is known.

    Notes
    -----
    A zone of a name is the current one from the bar after its confirmation to the
    confirmation of the next zone of that name. With the previous close above the zone, the
    extended low meets it exactly when the low does (below: the high), so each zone's bars
    are tested in one branch-free pass (SIMD) and only the few touches are followed; the
    largest move of a touch is the range extreme from the block trees, less the zone edge."""
    highs, lows = high[0], low[0]
    n = highs.shape[0]
    m = confirmed.shape[0]
    touches = np.zeros(m, dtype=np.int64)
    rejections = np.zeros(m, dtype=np.int64)
    reaction = np.full(m, np.nan)
    volume_ratio = np.full(m, np.nan)
    cum_volume = np.zeros(n + 1)
    for i in range(n):
        cum_volume[i + 1] = cum_volume[i] + volume[i]
    size = 256
    rec_bar = np.empty(size, dtype=np.int64)
    rec_zone = np.empty(size, dtype=np.int64)
    rec_side = np.empty(size, dtype=np.int64)
    rec_exit = np.empty(size, dtype=np.int64)
    rec_known = np.empty(size, dtype=np.int64)
    rec_reaction = np.empty(size)
    flags = np.empty(4096, dtype=np.int8)
    for g in range(starts.shape[0] - 1):
        a = starts[g]
        b = starts[g + 1]
        count = 0
        for j in range(a, b):
            lo = confirmed[j] + 1
            hi = min(confirmed[j + 1] if j + 1 < b else n - 1, invalidated[j], n - 1)
            t, u = top[j], bottom[j]
            for chunk in range(lo, hi + 1, flags.shape[0]):
                m_chunk = min(flags.shape[0], hi + 1 - chunk)
                prev = close[chunk - 1 : chunk - 1 + m_chunk]
                wick_low = lows[chunk : chunk + m_chunk]
                wick_high = highs[chunk : chunk + m_chunk]
                for x in range(m_chunk):
                    p = prev[x]
                    from_above = (p > t) & (wick_low[x] <= t)
                    from_below = (p < u) & (wick_high[x] >= u)
                    flags[x] = 1 if from_above else (-1 if from_below else 0)
                # Room for every bar of the chunk, made here: an array rebound inside the
                # loop below would cost reference counting on every bar.
                need = count + m_chunk
                rec_bar = _grown(rec_bar, count, need)
                rec_zone = _grown(rec_zone, count, need)
                rec_side = _grown(rec_side, count, need)
                rec_exit = _grown(rec_exit, count, need)
                rec_known = _grown(rec_known, count, need)
                rec_reaction = _grown(rec_reaction, count, need)
                for x in range(m_chunk):
                    if flags[x] == 0:
                        continue
                    i = chunk + x
                    side = np.int64(flags[x])
                    rec_bar[count] = i
                    rec_zone[count] = j
                    rec_side[count] = side
                    k = i
                    while k < n and u <= close[k] <= t:
                        k += 1
                    if k == n:
                        rec_exit[count] = NEVER
                    elif (side == 1 and close[k] > t) or (side == -1 and close[k] < u):
                        rec_exit[count] = k  # a rejection, known at bar k
                    else:
                        rec_exit[count] = -k - 1  # a break, known at bar k
                    count += 1
        for r in range(count):
            j = rec_zone[r]
            if r + 1 < count and rec_zone[r + 1] == j:
                last = rec_bar[r + 1] - 1
                rec_known[r] = rec_bar[r + 1]
            elif invalidated[j] != NEVER:
                last = min(invalidated[j], n - 1)
                rec_known[r] = invalidated[j]
            else:
                rec_known[r] = NEVER
                rec_reaction[r] = np.nan
                continue
            if rec_side[r] == 1:
                move = extreme_between(high, rec_bar[r], last, 1) - top[j]
            else:
                move = bottom[j] - extreme_between(low, rec_bar[r], last, -1)
            rec_reaction[r] = (move if move > 0.0 else 0.0) / atr[j]
        first = 0
        stop = 0
        lo = 0
        for z in range(a, b):
            c = confirmed[z]
            since = stamps[c] - lookback_ns
            while lo < c and stamps[lo] <= since:
                lo += 1
            while first < count and rec_bar[first] < lo:
                first += 1
            while stop < count and rec_bar[stop] <= c:
                stop += 1
            total = 0
            rejected = 0
            volume_sum = 0.0
            reaction_sum = 0.0
            reactions = 0
            for r in range(first, stop):
                total += 1
                volume_sum += volume[rec_bar[r]]
                if 0 <= rec_exit[r] <= c:
                    rejected += 1
                if rec_known[r] <= c:
                    reaction_sum += rec_reaction[r]
                    reactions += 1
            touches[z] = total
            rejections[z] = rejected
            if reactions > 0:
                reaction[z] = reaction_sum / reactions
            window_mean = (cum_volume[c + 1] - cum_volume[lo]) / (c + 1 - lo)
            if total > 0 and window_mean > 0:
                volume_ratio[z] = (volume_sum / total) / window_mean
    return touches, rejections, reaction, volume_ratio


@njit
def _latest(confirmed: np.ndarray, a: int, b: int, bar: int) -> int:
    """Index in ``[a, b)`` of the last zone confirmed at or before ``bar``, or -1."""
    k = int(np.searchsorted(confirmed[a:b], bar, side="right"))
    return a + k - 1 if k > 0 else -1


@njit
def level_confluence(
    starts: np.ndarray,
    confirmed: np.ndarray,
    invalidated: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    level: np.ndarray,
) -> np.ndarray:
    """For each zone, how many levels of other names, active right after its confirmation bar
    (latest of their name confirmed by then, not invalidated by then), lie inside it.

    The zones of a name are visited in confirmation order, so the latest zone of every other
    name is found by moving one pointer per name forward, not by a search per pair."""
    m = confirmed.shape[0]
    groups = starts.shape[0] - 1
    out = np.zeros(m, dtype=np.int64)
    for g in range(groups):
        after = starts[:-1].copy()  # per name: its first zone confirmed after the bar
        for z in range(starts[g], starts[g + 1]):
            c = confirmed[z]
            count = 0
            for h in range(groups):
                if h == g:
                    continue
                while after[h] < starts[h + 1] and confirmed[after[h]] <= c:
                    after[h] += 1
                y = after[h] - 1
                if y >= starts[h] and invalidated[y] > c and bottom[z] <= level[y] <= top[z]:
                    count += 1
            out[z] = count
    return out


@njit
def event_confluence(
    confirmed_ns: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    lookback_ns: int,
    event_confirmed_ns: np.ndarray,
    event_invalidated_ns: np.ndarray,
    event_top: np.ndarray,
    event_bottom: np.ndarray,
) -> np.ndarray:
    """For each zone confirmed at time t, the events (sorted by confirmation time) confirmed
    in ``(t - lookback, t]``, not invalidated by t, whose [bottom, top] overlaps the zone."""
    m = confirmed_ns.shape[0]
    out = np.zeros(m, dtype=np.int64)
    for z in range(m):
        t = confirmed_ns[z]
        first = np.searchsorted(event_confirmed_ns, t - lookback_ns, side="right")
        stop = np.searchsorted(event_confirmed_ns, t, side="right")
        count = 0
        for e in range(first, stop):
            if event_invalidated_ns[e] <= t:
                continue
            if event_bottom[e] <= top[z] and event_top[e] >= bottom[z]:
                count += 1
        out[z] = count
    return out


@njit
def zone_setups(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    confirmed: np.ndarray,
    invalidated: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    eligible: np.ndarray,
    want_rejection: bool,
    want_retest: bool,
    expiry: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rejections and break-and-retests of each eligible zone during its life.

    The side of a zone is that of the last close outside it (from the confirming close on).
    A close on the other side is a break. A bar that closes on the current side after
    trading into the zone (low <= top above it, high >= bottom below it) is a rejection while
    no break has happened, and a retest after one (within ``expiry`` bars of the break).
    A rejection must come within ``expiry`` bars of confirmation; ``expiry < 0`` means no
    limit. At most one signal per zone, kind and direction: the first.

    Returns zone index, signal bar, direction (+1 bull, -1 bear), kind (0 rejection,
    1 break and retest) and break bar (-1 for rejections)."""
    n = high.shape[0]
    m = confirmed.shape[0]
    out_zone = np.empty(3 * m, dtype=np.int64)
    out_bar = np.empty(3 * m, dtype=np.int64)
    out_dir = np.empty(3 * m, dtype=np.int64)
    out_kind = np.empty(3 * m, dtype=np.int64)
    out_break = np.empty(3 * m, dtype=np.int64)
    count = 0
    for z in range(m):
        if not eligible[z]:
            continue
        c = confirmed[z]
        end = min(invalidated[z], n - 1)
        side = 0
        if close[c] > top[z]:
            side = 1
        elif close[c] < bottom[z]:
            side = -1
        original = True
        broke = -1
        rejection_open = want_rejection
        bull_open = want_retest
        bear_open = want_retest
        for i in range(c + 1, end + 1):
            if original and rejection_open and expiry >= 0 and i - c > expiry:
                rejection_open = False
            if not (rejection_open or bull_open or bear_open):
                break
            if close[i] > top[z]:
                s = 1
            elif close[i] < bottom[z]:
                s = -1
            else:
                continue
            if side == 0:
                side = s
                continue
            if s != side:
                side = s
                original = False
                rejection_open = False
                broke = i
                continue
            if s == 1 and low[i] > top[z]:
                continue
            if s == -1 and high[i] < bottom[z]:
                continue
            kind = -1
            if original:
                if rejection_open:
                    kind = 0
                    rejection_open = False
            elif expiry < 0 or i - broke <= expiry:
                if s == 1 and bull_open:
                    kind = 1
                    bull_open = False
                elif s == -1 and bear_open:
                    kind = 1
                    bear_open = False
            if kind >= 0:
                out_zone[count] = z
                out_bar[count] = i
                out_dir[count] = s
                out_kind[count] = kind
                out_break[count] = broke if kind == 1 else -1
                count += 1
    return (
        out_zone[:count],
        out_bar[:count],
        out_dir[:count],
        out_kind[:count],
        out_break[:count],
    )


@njit
def next_zone_targets(
    starts: np.ndarray,
    confirmed: np.ndarray,
    invalidated: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    level: np.ndarray,
    signal_zone: np.ndarray,
    signal_bar: np.ndarray,
    direction: np.ndarray,
    entry: np.ndarray,
) -> np.ndarray:
    """The nearest level beyond the entry in the trade's direction among the zones active
    at the signal bar (latest of each name confirmed by then, not invalidated by then),
    counting only zones wholly beyond the entry; NaN when there is none."""
    groups = starts.shape[0] - 1
    k = signal_bar.shape[0]
    out = np.full(k, np.nan)
    for s in range(k):
        bar = signal_bar[s]
        best = np.nan
        for h in range(groups):
            y = _latest(confirmed, starts[h], starts[h + 1], bar)
            if y < 0 or y == signal_zone[s] or invalidated[y] <= bar:
                continue
            above = direction[s] == 1 and bottom[y] > entry[s]
            below = direction[s] == -1 and top[y] < entry[s]
            if (above and (np.isnan(best) or level[y] < best)) or (
                below and (np.isnan(best) or level[y] > best)
            ):
                best = level[y]
        out[s] = best
    return out


@njit
def first_hits(
    tree_high: np.ndarray,
    tree_neg_low: np.ndarray,
    n: int,
    bar: np.ndarray,
    direction: np.ndarray,
    stop: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First bar after each signal bar that reaches the stop, and the first that reaches the
    target (-1 when not yet)."""
    k = bar.shape[0]
    stop_hit = np.full(k, -1, dtype=np.int64)
    target_hit = np.full(k, -1, dtype=np.int64)
    for s in range(k):
        start = bar[s] + 1
        if direction[s] == 1:
            stop_hit[s] = first_greater_equal(tree_neg_low, n, start, -stop[s])
            target_hit[s] = first_greater_equal(tree_high, n, start, target[s])
        else:
            stop_hit[s] = first_greater_equal(tree_high, n, start, stop[s])
            target_hit[s] = first_greater_equal(tree_neg_low, n, start, -target[s])
    return stop_hit, target_hit
