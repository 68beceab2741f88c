"""Static charts of bars with zone and SMC events (matplotlib, Agg backend, no display).

An event is drawn where a trader could have seen it: boxes and levels start at the bar after
``confirmed_at`` and end at ``invalidated_at`` (or the chart's end); a thin marker shows the
``anchor_time`` it refers to. Nothing is drawn from before it was knowable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantlib._io import atomic_write
from quantlib.data.schema import validate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["event_chart", "save_chart"]

_COLOURS = {"bull": "#1b9e77", "bear": "#d95f02", "neutral": "#7570b3"}
_BOX_KINDS = ("zone", "fvg", "order_block", "liquidity_pool")


def event_chart(bars: pd.DataFrame, events: pd.DataFrame, *, title: str = "") -> Figure:
    """Candles of ``bars`` with ``events`` (any mix of kinds) drawn over them.

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame (the window to draw).
    events : pandas.DataFrame
        Event frame (``kind``, ``direction``, ``anchor_time``, ``confirmed_at``, ``top``,
        ``bottom``, ``invalidated_at``); events confirmed outside the window are skipped.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    validate(bars, "event_chart bars")
    index = pd.DatetimeIndex(bars.index)
    x = np.arange(len(index))
    figure = Figure(figsize=(12, 6), dpi=100)
    axes = figure.add_subplot()
    opens = bars["open"].to_numpy(dtype=np.float64)
    closes = bars["close"].to_numpy(dtype=np.float64)
    colours = ["#2ca02c" if c >= o else "#d62728" for o, c in zip(opens, closes, strict=True)]
    axes.vlines(x, bars["low"].to_numpy(), bars["high"].to_numpy(), colors=colours, linewidth=0.8)
    axes.bar(x, np.abs(closes - opens), bottom=np.minimum(opens, closes), color=colours, width=0.7)

    def position(times: pd.Series) -> np.ndarray:
        found = index.get_indexer(pd.DatetimeIndex(times))
        return np.where(pd.isna(times).to_numpy(), len(index), found)

    shown = events[events["confirmed_at"].between(index[0], index[-1])]
    start = position(shown["confirmed_at"]) + 1
    end = position(shown["invalidated_at"])
    anchor = position(shown["anchor_time"])
    top = shown["top"].to_numpy(dtype=np.float64)
    bottom = shown["bottom"].to_numpy(dtype=np.float64)
    kinds = shown["kind"].astype(str).tolist()
    directions = shown["direction"].astype(str).tolist()
    for k, kind in enumerate(kinds):
        colour = _COLOURS.get(directions[k], "#666666")
        if kind in _BOX_KINDS:
            axes.add_patch(
                Rectangle(
                    (float(start[k]) - 0.5, float(bottom[k])),
                    float(max(int(end[k]) - int(start[k]), 1)),
                    float(max(top[k] - bottom[k], 1e-12)),
                    color=colour,
                    alpha=0.18 if kind != "zone" else 0.10,
                    linewidth=0,
                )
            )
        elif kind in ("bos", "choch"):
            axes.hlines(float(top[k]), anchor[k], start[k] - 1, colors=colour, linestyles="--")
            axes.annotate(
                kind.upper(), (float(start[k] - 1), float(top[k])), fontsize=7, color=colour
            )
        elif kind == "swing":
            marker = "v" if directions[k] == "bear" else "^"
            axes.plot(anchor[k], top[k], marker=marker, color=colour, markersize=5)
        elif kind == "sweep":
            axes.plot(anchor[k], top[k], marker="x", color=colour, markersize=7)
    ticks = np.linspace(0, len(index) - 1, num=min(8, len(index))).astype(int)
    axes.set_xticks(ticks, [index[i].strftime("%m-%d %H:%M") for i in ticks], fontsize=8)
    axes.set_xlim(-1, len(index))
    axes.set_ylabel("price")
    axes.set_title(title or "bars with events (drawn from confirmation on)")
    axes.grid(alpha=0.2)
    figure.tight_layout()
    return figure


def save_chart(figure: Figure, path: str | Path) -> Path:
    """Save a figure as PNG or SVG atomically."""
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".") or "png"
    return atomic_write(target, lambda tmp: figure.savefig(tmp, format=suffix))
