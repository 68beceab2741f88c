r"""What happens after an event: forward returns from the bar that confirms it, split in time.

An event (swing, FVG, BOS, sweep, ...) is knowable at the close of its ``confirmed_at`` bar,
so the earliest honest entry is that close. The forward return over ``h`` bars is measured
from there; it never uses a price from before the event was knowable.

The bars are split once in time: events confirmed before ``split_at`` are **in sample**
(where an analyst tunes detector parameters), the rest **out of sample**. An in-sample
event whose forward window reaches past the split is dropped (purged), so no out-of-sample
price enters an in-sample statistic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from quantlib._validation import check_event_frame, check_float, check_int, ohlcv_arrays
from quantlib.exceptions import ConfigError

__all__ = ["FORWARD_COLUMNS", "SUMMARY_COLUMNS", "event_forward_returns", "event_study_summary"]

FORWARD_COLUMNS: tuple[str, ...] = (
    "kind",
    "direction",
    "anchor_time",
    "confirmed_at",
    "sample",
    "horizon",
    "forward_return",
    "signed_return",
)
"""Columns of :func:`event_forward_returns`, in order."""

SUMMARY_COLUMNS: tuple[str, ...] = ("count", "mean", "median", "std", "hit_rate", "t_stat")
"""Columns of :func:`event_study_summary`, in order."""

_PRODUCER = "quantlib.confluence.detect_events(bars, ...)"
_SIGN = {"bull": 1.0, "bear": -1.0, "neutral": 1.0}


def event_forward_returns(
    bars: pd.DataFrame,
    events: pd.DataFrame,
    horizons: Sequence[int] = (1, 6, 24),
    *,
    oos_fraction: float = 0.3,
) -> pd.DataFrame:
    r"""Forward returns after each event, one row per event and horizon.

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame the events were detected on.
    events : pandas.DataFrame
        Event frame (``kind``, ``direction``, ``anchor_time``, ``confirmed_at``), e.g. from
        :func:`quantlib.confluence.detect_events`. Events confirmed on a time not in ``bars`` are
        ignored.
    horizons : sequence of int
        Forward horizons in bars (each >= 1).
    oos_fraction : float, default 0.3
        Share of the bars, at the end, that is out of sample (0 < fraction < 1).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FORWARD_COLUMNS`: ``sample`` is ``"in_sample"`` or
        ``"out_of_sample"``; ``forward_return`` the simple return from the close of
        ``confirmed_at`` to the close ``horizon`` bars later; ``signed_return`` the same
        return times +1 for bull and neutral events, -1 for bear events (positive = the price
        moved the way the event points). Rows whose window runs past the last bar are left
        out; ``attrs`` hold ``split_at`` (the first out-of-sample bar), ``truncated`` (rows
        left out at the end) and ``purged`` (in-sample rows left out at the split).

    Raises
    ------
    ConfigError
        For an empty or non-positive ``horizons``, an ``oos_fraction`` outside (0, 1), or an
        ``events`` frame without the event columns.
    DataError
        If ``bars`` breaks the OHLCV contract.

    Notes
    -----
    With :math:`c` the position of ``confirmed_at`` and :math:`C` the closes,

    .. math:: r_h = C_{c+h} / C_c - 1, \qquad s_h = d \, r_h,

    :math:`d = -1` for bear events and :math:`+1` otherwise. The split bar is
    :math:`k = \lfloor n (1 - f) \rfloor`; an event is in sample when :math:`c < k` and is
    kept at horizon :math:`h` only when :math:`c + h < k` (purge).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 110.0, 121.0, 121.0, 99.0])
    >>> ev = pd.DataFrame({"kind": ["fvg"], "direction": ["bear"],
    ...                    "anchor_time": [bars.index[0]], "confirmed_at": [bars.index[1]]})
    >>> out = event_forward_returns(bars, ev, horizons=(1, 2), oos_fraction=0.2)
    >>> out[["horizon", "forward_return", "signed_return"]].round(4).to_numpy().tolist()
    [[1.0, 0.1, -0.1], [2.0, 0.1, -0.1]]
    >>> str(out.attrs["split_at"].date()), out["sample"].unique().tolist()
    ('2024-01-01', ['in_sample'])
    """
    index, arrays = ohlcv_arrays(bars, "event_forward_returns", min_bars=2)
    check_event_frame("events", events, ("kind", "direction", "confirmed_at"), _PRODUCER)
    steps = _check_horizons(horizons)
    fraction = check_float("oos_fraction", oos_fraction, minimum=0.0, maximum=1.0, inclusive=False)
    n = len(index)
    split = int(np.floor(n * (1.0 - fraction)))
    split = min(max(split, 1), n - 1)  # both samples keep at least one bar
    close = arrays["close"]

    confirmed = pd.DatetimeIndex(events["confirmed_at"])
    pos = index.get_indexer(confirmed)
    known = pos >= 0
    chosen = events.loc[known]
    pos = pos[known]
    direction = chosen["direction"].astype(str).to_numpy()
    sign = np.array([_SIGN.get(d, 1.0) for d in direction], dtype=np.float64)
    in_sample = pos < split

    pieces: list[pd.DataFrame] = []
    truncated = purged = 0
    for h in steps:
        end = pos + h
        inside = end < n
        clean = ~in_sample | (end < split)
        keep = inside & clean
        truncated += int((~inside).sum())
        purged += int((inside & ~clean).sum())
        rows = pos[keep]
        forward = close[rows + h] / close[rows] - 1.0
        pieces.append(
            pd.DataFrame(
                {
                    "kind": chosen["kind"].astype(str).to_numpy()[keep],
                    "direction": direction[keep],
                    "anchor_time": pd.DatetimeIndex(chosen["anchor_time"])[keep]
                    if "anchor_time" in chosen
                    else index[rows],
                    "confirmed_at": index[rows],
                    "sample": np.where(in_sample[keep], "in_sample", "out_of_sample"),
                    "horizon": np.full(len(rows), h, dtype=np.int64),
                    "forward_return": forward,
                    "signed_return": forward * sign[keep],
                }
            )
        )
    out = pd.concat(pieces, ignore_index=True)[list(FORWARD_COLUMNS)]
    out.attrs = {"split_at": index[split], "truncated": truncated, "purged": purged}
    return out


def event_study_summary(forward: pd.DataFrame) -> pd.DataFrame:
    r"""Distribution of signed forward returns by kind, direction, sample and horizon.

    Parameters
    ----------
    forward : pandas.DataFrame
        Output of :func:`event_forward_returns`.

    Returns
    -------
    pandas.DataFrame
        Index ``(kind, direction, sample, horizon)``; columns :data:`SUMMARY_COLUMNS`:
        ``count``, ``mean``, ``median``, ``std`` (sample, ``ddof=1``) of ``signed_return``,
        ``hit_rate`` (share with ``signed_return > 0``) and ``t_stat``. ``std`` and
        ``t_stat`` are NaN for fewer than two rows or a zero ``std``.

    Notes
    -----
    :math:`t = \bar s / (\hat\sigma_s / \sqrt{n})`. Overlapping windows (events a few bars
    apart, long horizons) are not independent: read ``t_stat`` as a rough guide, not a test.

    Examples
    --------
    >>> fwd = pd.DataFrame({"kind": ["fvg"] * 3, "direction": ["bull"] * 3,
    ...                     "sample": ["out_of_sample"] * 3, "horizon": [1, 1, 1],
    ...                     "signed_return": [0.02, -0.01, 0.05]})
    >>> event_study_summary(fwd)[["count", "mean", "hit_rate"]].round(4).to_numpy().tolist()
    [[3.0, 0.02, 0.6667]]
    """
    keys = ["kind", "direction", "sample", "horizon"]
    check_event_frame(
        "forward", forward, [*keys, "signed_return"], "event_forward_returns(bars, events)"
    )
    groups = forward.groupby(keys, sort=True)["signed_return"]
    out = pd.DataFrame(
        {
            "count": groups.size(),
            "mean": groups.mean(),
            "median": groups.median(),
            "std": groups.std(ddof=1),
            "hit_rate": groups.apply(lambda s: float((s > 0).mean())),
        }
    )
    scale: pd.Series = out["std"] / np.sqrt(out["count"].astype(np.float64))
    out["t_stat"] = (out["mean"] / scale).where(scale > 0)
    out["count"] = out["count"].astype(np.int64)
    return out[list(SUMMARY_COLUMNS)]


def _check_horizons(horizons: Sequence[int]) -> list[int]:
    if isinstance(horizons, str | int) or len(horizons) == 0:
        raise ConfigError(
            f"horizons must be a non-empty sequence of bar counts, got {horizons!r}. "
            "Fix: pass e.g. horizons=(1, 6, 24)"
        )
    steps = [check_int("horizons", h, minimum=1) for h in horizons]
    return sorted(set(steps))
