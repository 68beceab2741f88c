"""Run several detectors at once and return one tidy event frame (``quant smc``).

Swings are computed once and shared by structure, order blocks and liquidity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._io import atomic_write
from quantlib._validation import check_choice, check_int
from quantlib.data.events import EVENT_COLUMNS, KINDS
from quantlib.exceptions import ConfigError
from quantlib.smc.fvg import fvg
from quantlib.smc.liquidity import liquidity
from quantlib.smc.order_blocks import order_blocks
from quantlib.smc.sessions import sessions
from quantlib.smc.structure import structure
from quantlib.smc.swings import swings
from quantlib.zones.levels import levels

__all__ = ["detect_events", "parse_kinds", "write_events"]


def parse_kinds(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"all"``, ``"fvg,bos"`` or a list of kinds -> a tuple of valid kinds in output order."""
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    items = [p for p in items if p]
    if not items:
        raise ConfigError(f"kind is empty; use 'all' or a comma-separated subset of {list(KINDS)}")
    if items == ["all"]:
        return KINDS
    return tuple(k for k in KINDS if k in {check_choice("kind", i, KINDS) for i in items})


def detect_events(
    df: pd.DataFrame,
    kinds: str | Iterable[str] = "all",
    *,
    left: int = 5,
    right: int = 5,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Detect the requested kinds of events on one OHLCV frame.

    Parameters
    ----------
    df : pandas.DataFrame
        OHLCV contract frame.
    kinds : str or iterable of str
        ``"all"`` or any of ``zone, swing, fvg, bos, choch, order_block, liquidity_pool,
        sweep, session_range``.
    left, right : int
        Swing pivot lengths shared by swings, structure, order blocks and liquidity.
    progress : callable, optional
        Called with the name of each detector as it starts.

    Returns
    -------
    pandas.DataFrame
        The standard event columns first, then the union of every detector's extra columns
        (empty where a column does not apply), sorted by ``confirmed_at``, ``anchor_time`` and
        ``kind``.
    """
    wanted = parse_kinds(kinds)
    left = check_int("left", left, minimum=1)
    right = check_int("right", right, minimum=1)
    cache: dict[str, pd.DataFrame] = {}

    def run(name: str, func: Callable[..., pd.DataFrame], **kwargs: Any) -> pd.DataFrame:
        if name not in cache:
            if progress is not None:
                progress(name)
            cache[name] = func(df, **kwargs)
        return cache[name]

    def swing_events() -> pd.DataFrame:
        return run("swings", swings, left=left, right=right)

    def structure_events() -> pd.DataFrame:
        return run("structure", structure, swing_events=swing_events())

    frames: list[pd.DataFrame] = []
    for kind in wanted:
        if kind == "zone":
            found = run("zones", levels)
        elif kind == "swing":
            found = swing_events()
        elif kind == "fvg":
            found = run("fvg", fvg)
        elif kind in ("bos", "choch"):
            found = structure_events()
        elif kind == "order_block":
            found = run("order_blocks", order_blocks, structure_events=structure_events())
        elif kind in ("liquidity_pool", "sweep"):
            found = run("liquidity", liquidity, swing_events=swing_events())
        else:
            found = run("sessions", sessions)
        frames.append(found[found["kind"] == kind])
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    combined = pd.concat(frames, ignore_index=True, sort=False)
    extras = [c for c in combined.columns if c not in EVENT_COLUMNS]
    combined = combined[[*EVENT_COLUMNS, *extras]]
    return combined.sort_values(
        ["confirmed_at", "anchor_time", "kind"], kind="mergesort"
    ).reset_index(drop=True)


def write_events(events: pd.DataFrame, path: str | Path) -> Path:
    """Write an event frame atomically as CSV (``.csv``, ``.csv.gz``) or Parquet.

    In CSV every time is ISO-8601 UTC (``2024-01-01T05:00:00Z``) and open lifecycle times
    (``mitigated_at``, ``invalidated_at`` while NaT) are empty fields.
    """
    target = Path(path)
    name = target.name.lower()
    if name.endswith((".parquet", ".pq")):
        atomic_write(target, lambda tmp: events.to_parquet(tmp, index=False))
    elif name.endswith((".csv", ".csv.gz")):
        gzip = name.endswith(".gz")

        def write_csv(tmp: Path) -> None:
            events.to_csv(
                tmp,
                index=False,
                date_format="%Y-%m-%dT%H:%M:%SZ",
                compression="gzip" if gzip else None,
            )

        atomic_write(target, write_csv)
    else:
        raise ConfigError(
            f"cannot tell the output format of {str(path)!r}; end the name with .csv, .csv.gz "
            "or .parquet"
        )
    return target
