"""Market structure: breaks of structure (BOS), changes of character (CHoCH) and the trend.

Built only from **confirmed** swings (:func:`quantlib.smc.swings.swings`). The most recent
valid swing high and swing low are the reference levels. A close (or, with
``break_on="wick"``, a wick) beyond a reference level breaks it: one event, stamped on the
breaking bar, after which that level is spent and the next break on that side needs a new
confirmed swing. A break in the direction of the current trend is a BOS, one against it a
CHoCH; the trend then takes the break's direction.

Differences from ``smartmoneyconcepts`` 0.0.27 ``bos_choch(ohlc, swing_highs_lows,
close_break)``, deliberate and tested:

* **No 4-swing pattern.** It flags a bullish BOS only when the last four swings form
  low < higher low < high < higher high (and a CHoCH for another fixed ordering), i.e. only
  once the swing *after* the break has formed. Ours needs a reference level and a bar beyond it.
* **Stamped on the breaking bar.** It writes the event on the row of the broken swing's pivot,
  bars before the break happened (and puts the break bar in ``BrokenIndex``); a backtest that
  reads rows in order sees the break early. Ours has ``anchor_time`` = the pivot and
  ``confirmed_at`` = the breaking bar (its close makes the break knowable).
* **No deleted or rewritten rows.** It drops patterns whose level is never broken, and also
  earlier events whose break came at or after a later event's break, so appending bars changes
  earlier rows. When it drops an event it leaves its ``BrokenIndex`` behind: orphan rows with a
  broken index but no BOS/CHoCH. Ours never changes a row after ``confirmed_at`` except the
  ``*_at`` lifecycle times, which are filled when they happen.
* **No future data.** Its swings are centred windows with whole-series alternation (known only
  ``swing_length`` bars later, and rewritten as data arrives); ours uses a swing only after its
  ``confirmed_at``, and respects ``invalidated_at`` (a swing replaced by alternation is no
  longer the reference).
* **Trend.** It has no trend state; its CHoCH is a swing-ordering pattern. Ours classifies each
  break against the trend left by the previous break, and :func:`trend_state` exposes the
  trend and reference levels bar by bar.
* **Lifecycle.** It has none; ours reports the retest of the broken level (``mitigated_at``)
  and the failure of the break (``invalidated_at``: price back beyond the protected swing on
  the other side).

The first break of a series (no trend yet) is a BOS: there is no character to change.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from quantlib._kernels import search
from quantlib._validation import check_choice, check_event_frame, check_int, ohlcv_arrays
from quantlib.data.events import build_events, empty_events, nanoseconds
from quantlib.exceptions import ConfigError
from quantlib.smc._kernels import structure as kernels
from quantlib.smc.swings import swing_positions

__all__ = ["structure", "trend_state", "trend_values"]

BreakOn = Literal["close", "wick"]

_BREAK_ON: tuple[str, ...] = ("close", "wick")
_SWING_COLUMNS: tuple[str, ...] = ("anchor_time", "confirmed_at", "invalidated_at", "side", "level")
_NAT = np.iinfo(np.int64).min
_EXTRA_DTYPES: dict[str, str] = {
    "broken_swing_time": "datetime64[ns, UTC]",
    "break_time": "datetime64[ns, UTC]",
    "level": "float64",
    "swing_confirmed_at": "datetime64[ns, UTC]",
    "protected_level": "float64",
}


def event_positions(
    index: pd.DatetimeIndex, times: object, *, argument: str, column: str, allow_nat: bool
) -> np.ndarray:
    """Bar positions of ``times`` in ``index`` (-1 for NaT when ``allow_nat``).

    Raises
    ------
    ConfigError
        If a time is not a bar of ``index`` (the events come from another frame).
    """
    stamps = nanoseconds(index)
    values = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8  # type: ignore[call-overload]
    missing = values == _NAT
    if missing.any() and not allow_nat:
        raise ConfigError(f"{argument}: column {column!r} has NaT; every event needs a time")
    pos = search.positions_of(stamps, np.asarray(values))
    found = pos >= 0
    bad = ~missing & ~found
    if bad.any():
        first = pd.Timestamp(values[np.flatnonzero(bad)[0]], tz="UTC")
        raise ConfigError(
            f"{argument}: {column} {first} is not a bar of df. Fix: pass events computed on "
            "this same frame"
        )
    return pos


def _swing_arrays(
    index: pd.DatetimeIndex, events: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """anchor, confirmed, side (+1 high / -1 low), level, invalidated; sorted by confirmation."""
    check_event_frame("swing_events", events, _SWING_COLUMNS, "quantlib.smc.swings.swings(df, ...)")
    if "kind" in events.columns:
        events = events[events["kind"] == "swing"]
    side_text = events["side"].astype(str).to_numpy()
    if not np.isin(side_text, ["high", "low"]).all():
        bad = side_text[~np.isin(side_text, ["high", "low"])][0]
        raise ConfigError(f"swing_events: side must be 'high' or 'low', got {bad!r}")
    side = np.where(side_text == "high", 1, -1).astype(np.int64)
    level = events["level"].to_numpy(dtype=np.float64)
    if not np.isfinite(level).all():
        raise ConfigError("swing_events: level must be finite for every swing")
    anchor, confirmed, invalidated = (
        event_positions(
            index,
            events[column],
            argument="swing_events",
            column=column,
            allow_nat=column == "invalidated_at",
        )
        for column in ("anchor_time", "confirmed_at", "invalidated_at")
    )
    order = np.lexsort((anchor, confirmed))
    return anchor[order], confirmed[order], side[order], level[order], invalidated[order]


def break_arrays(
    df: pd.DataFrame,
    caller: str,
    left: int,
    right: int,
    swing_events: pd.DataFrame | None,
    break_on: str,
    per_bar: int = 0,
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Validate, run the break kernel; returns index, OHLCV arrays and per-break arrays, and
    per-bar arrays by ``per_bar``: 0 none, 1 the trend, 2 the trend and reference levels."""
    left = check_int("left", left, minimum=1)
    right = check_int("right", right, minimum=1)
    mode = check_choice("break_on", break_on, _BREAK_ON)
    need = 1 if swing_events is not None else left + right + 1
    index, arrays = ohlcv_arrays(df, caller, min_bars=need)
    if swing_events is None:
        anchor, confirmed, side, level, invalidated, _ = swing_positions(
            arrays["high"], arrays["low"], left, right
        )
    else:
        anchor, confirmed, side, level, invalidated = _swing_arrays(index, swing_events)
    up = arrays["close"] if mode == "close" else arrays["high"]
    down = arrays["close"] if mode == "close" else arrays["low"]
    swing, bar, direction, choch, protected, trend, ref_high, ref_low = kernels.breaks(
        arrays["open"], arrays["close"], up, down, confirmed, side, level, invalidated, per_bar
    )
    protected_level = np.where(protected >= 0, level[np.clip(protected, 0, None)], np.nan)
    out = {
        "anchor": anchor[swing],
        "swing_confirmed": confirmed[swing],
        "bar": bar,
        "direction": direction,
        "choch": choch,
        "level": level[swing],
        "protected_level": protected_level,
        "trend": trend,
        "ref_high": ref_high,
        "ref_low": ref_low,
        "up": up,
        "down": down,
    }
    return index, arrays, out


def structure(
    df: pd.DataFrame,
    *,
    left: int = 5,
    right: int = 5,
    swing_events: pd.DataFrame | None = None,
    break_on: BreakOn = "close",
) -> pd.DataFrame:
    """Breaks of structure (BOS) and changes of character (CHoCH) of confirmed swing levels.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    left, right : int, default 5
        Pivot window of the swings (see :func:`quantlib.smc.swings.swings`); ignored when
        ``swing_events`` is given.
    swing_events : pandas.DataFrame, optional
        Swings to use (the frame of :func:`~quantlib.smc.swings.swings` or
        :func:`~quantlib.smc.swings.zigzag` on this same ``df``): columns ``side``, ``level``,
        ``anchor_time``, ``confirmed_at``, ``invalidated_at``.
    break_on : {"close", "wick"}, default "close"
        Price that must go beyond the level: the bar's close, or its high (low).

    Returns
    -------
    pandas.DataFrame
        Event frame with kinds ``bos`` and ``choch``, one row per break in the order the
        breaks happened (by ``confirmed_at``; see Notes for two breaks on one bar);
        ``direction`` ``bull`` for a break of a swing high, ``bear`` for a swing low;
        ``anchor_time`` = the broken swing's pivot bar,
        ``confirmed_at`` = the breaking bar, ``top = bottom = level``. ``mitigated_at`` is the
        retest (first later bar whose wick trades back to the level), ``invalidated_at`` the
        first later bar whose close (wick, with ``break_on="wick"``) goes beyond
        ``protected_level``. Extra columns: ``broken_swing_time`` (= ``anchor_time``),
        ``break_time`` (= ``confirmed_at``), ``level``, ``swing_confirmed_at`` (the broken
        swing's confirmation), ``protected_level`` (the most recent valid swing of the opposite
        side at the break, broken or not; NaN if none).

    Notes
    -----
    Let :math:`h_t` be the reference high during bar :math:`t`: the level of the most recent
    swing high with ``confirmed_at`` :math:`< t`, not invalidated before :math:`t` and not yet
    broken (:math:`\\ell_t` mirrors it for lows). With :math:`U_t = C_t` and :math:`D_t = C_t`
    (``"close"``) or :math:`U_t = H_t`, :math:`D_t = L_t` (``"wick"``):

    * bullish break at :math:`t` if :math:`U_t > h_t`; bearish if :math:`D_t < \\ell_t`; the
      broken swing then stops being a reference (one event per level);
    * with the trend :math:`\\tau_{t-1} \\in \\{+1, -1, 0\\}` before the bar, a break of
      direction :math:`d` is a CHoCH if :math:`\\tau_{t-1} = -d` and a BOS otherwise (the
      first break, with :math:`\\tau = 0`, is a BOS); then :math:`\\tau_t = d`;
    * if one bar breaks both sides, a bar with :math:`C_t \\ge O_t` is taken to have made its
      low first (bearish break, then bullish), otherwise its high first;
    * ``mitigated_at`` (bullish) is the first :math:`j > t` with :math:`L_j \\le h_t`;
      ``invalidated_at`` the first :math:`j > t` with :math:`D_j < p` where :math:`p` is
      ``protected_level`` (bearish breaks mirror both).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([10.0, 12, 11, 13, 12, 14, 13, 11, 12, 10], spread=0.0)
    >>> events = structure(bars, left=1, right=1)  # highs 12, 13 broken, then the low 11
    >>> events[["kind", "direction", "anchor_time", "confirmed_at", "level"]]
        kind direction               anchor_time              confirmed_at  level
    0    bos      bull 2024-01-01 01:00:00+00:00 2024-01-01 03:00:00+00:00   12.0
    1    bos      bull 2024-01-01 03:00:00+00:00 2024-01-01 05:00:00+00:00   13.0
    2  choch      bear 2024-01-01 07:00:00+00:00 2024-01-01 09:00:00+00:00   11.0
    """
    index, arrays, out = break_arrays(df, "structure", left, right, swing_events, break_on)
    if len(out["bar"]) == 0:
        return empty_events(_EXTRA_DTYPES)
    high = search.searchable(arrays["high"])
    low = search.searchable(arrays["low"])
    if break_on == "close":
        up = down = search.searchable(out["up"])  # the close, both ways
    else:
        up, down = high, low
    retest, invalid = kernels.lifecycle(
        high,
        low,
        up,
        down,
        out["bar"],
        out["direction"],
        out["level"],
        out["protected_level"],
    )
    frame = build_events(
        index,
        "bos",
        direction=out["direction"],
        anchor=out["anchor"],
        confirmed=out["bar"],
        top=out["level"],
        bottom=out["level"],
        mitigated=retest,
        invalidated=invalid,
        extra={
            "broken_swing_time": index[out["anchor"]],
            "break_time": index[out["bar"]],
            "level": out["level"],
            "swing_confirmed_at": index[out["swing_confirmed"]],
            "protected_level": out["protected_level"],
        },
    )
    # Back to the order the breaks happened (build_events sorts two breaks of one bar by
    # anchor), which is the order that decides BOS or CHoCH.
    order = np.lexsort((out["anchor"], out["bar"]))
    frame = frame.iloc[np.argsort(order)].reset_index(drop=True)
    frame["kind"] = pd.Series(np.where(out["choch"] == 1, "choch", "bos"), dtype="str")
    return frame


def trend_state(
    df: pd.DataFrame,
    *,
    left: int = 5,
    right: int = 5,
    swing_events: pd.DataFrame | None = None,
    break_on: BreakOn = "close",
) -> pd.DataFrame:
    """The market-structure trend and reference levels after each bar's close.

    Parameters
    ----------
    df, left, right, swing_events, break_on
        As in :func:`structure`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``df``: ``trend`` (int: +1 after a bullish break, -1 after a bearish
        one, 0 before the first break), ``ref_high`` and ``ref_low`` (the reference swing
        levels a later bar would have to break; NaN when there is none, e.g. right after the
        level was broken and before a new swing is confirmed).

    Notes
    -----
    :math:`\\tau_t`, :math:`h` and :math:`\\ell` are those of :func:`structure`, read after the
    close of bar :math:`t` (so a swing confirmed at :math:`t` is already the reference on row
    :math:`t`). The value on row :math:`t` uses bars :math:`\\le t` only.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([10.0, 12, 11, 13, 12, 14, 13, 11, 12, 10], spread=0.0)
    >>> trend_state(bars, left=1, right=1).reset_index(drop=True)
       trend  ref_high  ref_low
    0      0       NaN      NaN
    1      0       NaN      NaN
    2      0      12.0      NaN
    3      1       NaN      NaN
    4      1      13.0      NaN
    5      1       NaN      NaN
    6      1      14.0      NaN
    7      1      14.0      NaN
    8      1      14.0     11.0
    9     -1      14.0      NaN
    """
    index, _, out = break_arrays(df, "trend_state", left, right, swing_events, break_on, 2)
    return pd.DataFrame(
        {"trend": out["trend"], "ref_high": out["ref_high"], "ref_low": out["ref_low"]},
        index=index,
    )


def trend_values(
    df: pd.DataFrame,
    *,
    left: int = 5,
    right: int = 5,
    swing_events: pd.DataFrame | None = None,
    break_on: BreakOn = "close",
) -> np.ndarray:
    """The ``trend`` column of :func:`trend_state` as an int64 array, without the frame.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([10.0, 12, 11, 13, 12, 14, 13, 11, 12, 10], spread=0.0)
    >>> trend_values(bars, left=1, right=1).tolist()
    [0, 0, 0, 1, 1, 1, 1, 1, 1, -1]
    """
    _, _, out = break_arrays(df, "trend_values", left, right, swing_events, break_on, 1)
    return out["trend"]
