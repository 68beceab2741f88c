"""Speed of the zones + SMC engine beside smartmoneyconcepts 0.0.27. One command:

    .venv/bin/python -m benchmarks.smc

Suite: swings, FVG, structure, order blocks, liquidity, zones (levels + strength), sessions,
premium/discount, and the confluence score computed from the events the others produced.
Peers: swing_highs_lows, fvg, bos_choch, ob, liquidity, previous_high_low, sessions and
retracements (swing length 5, our left=4/right=5 being the same window).

Input: real BTCUSDT 5m bars (71,712 bundled), tiled end to end to 100,000 and 1,000,000 bars on
a fresh 5-minute index (prices repeat; fine for timing). Every function is timed warm (after a
first call that loads the numba cache), best of three runs when a run takes under a second.
"same functions" totals the functions that have a counterpart; "our whole suite" adds zone
strength and confluence, which have none. smartmoneyconcepts runs at 100k bars; at 1M bars a
function of theirs is run only when its 100k time x 10 stays under SKIP_ABOVE seconds, and is
otherwise reported as skipped with that estimate. First-call time is measured in a fresh
process, and peak memory of our suite on 1M bars in another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quantlib.data import load_ohlcv

SKIP_ABOVE = 120.0


def tiled(n: int) -> pd.DataFrame:
    base = load_ohlcv("BTCUSDT", "5m")
    reps = -(-n // len(base))
    values = np.tile(base.to_numpy(), (reps, 1))[:n]
    index = pd.date_range("2000-01-03", periods=n, freq="5min", tz="UTC", name="timestamp")
    return pd.DataFrame(values, columns=base.columns, index=index.as_unit("ns"))


def ours() -> dict[str, Callable[[pd.DataFrame], Any]]:
    """Our functions in suite order. Each keeps its result so that ``confluence`` (last) is
    timed on the events the others produced: every detector runs once, as in real use."""
    from quantlib.confluence.score import confluence
    from quantlib.smc.fvg import fvg
    from quantlib.smc.liquidity import liquidity
    from quantlib.smc.order_blocks import order_blocks
    from quantlib.smc.premium_discount import premium_discount
    from quantlib.smc.sessions import sessions
    from quantlib.smc.structure import structure
    from quantlib.smc.swings import swings
    from quantlib.zones import levels, strength

    kept: dict[str, Any] = {}

    def keep(name: str, func: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
        def run(df: pd.DataFrame) -> Any:
            kept[name] = func(df)
            return kept[name]

        return run

    def run_confluence(df: pd.DataFrame) -> Any:
        return confluence(
            df,
            zones=kept["zones"],
            fvgs=kept["fvg"],
            blocks=kept["order_blocks"],
            liquidity_events=kept["liquidity"],
            left=4,
            right=5,
        )

    return {
        "swings": keep("swings", lambda df: swings(df, left=4, right=5)),
        "fvg": keep("fvg", fvg),
        "structure": keep("structure", lambda df: structure(df, left=4, right=5)),
        "order_blocks": keep("order_blocks", lambda df: order_blocks(df, left=4, right=5)),
        "liquidity": keep("liquidity", lambda df: liquidity(df, left=4, right=5)),
        "zones": keep("levels", levels),
        "zone_strength": keep("zones", lambda df: strength(df, kept["levels"])),
        "sessions": keep("sessions", sessions),
        "premium_discount": keep("pd", lambda df: premium_discount(df, left=4, right=5)),
        "confluence": run_confluence,
    }


def theirs() -> dict[str, Callable[[pd.DataFrame], Any]]:
    from smartmoneyconcepts import smc

    def plain(df: pd.DataFrame) -> pd.DataFrame:
        return df.reset_index(drop=True)

    def with_swings(func: Callable[..., Any]) -> Callable[[pd.DataFrame], Any]:
        def run(df: pd.DataFrame) -> Any:
            frame = plain(df)
            return func(frame, smc.swing_highs_lows(frame, 5))

        return run

    def sessions(df: pd.DataFrame) -> Any:
        return smc.sessions(df, "London")  # it needs a DatetimeIndex

    return {
        "swings": lambda df: smc.swing_highs_lows(plain(df), 5),
        "fvg": lambda df: smc.fvg(plain(df)),
        "structure": with_swings(smc.bos_choch),
        "order_blocks": with_swings(smc.ob),
        "liquidity": with_swings(smc.liquidity),
        "zones": lambda df: smc.previous_high_low(df, "1D"),
        "sessions": sessions,
        "premium_discount": with_swings(smc.retracements),
    }


def timed(func: Callable[[pd.DataFrame], Any], df: pd.DataFrame) -> float:
    """Best of three runs for calls under a second (single runs are noisy), else one run."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        func(df)
        best = min(best, time.perf_counter() - start)
        if best >= 1.0:
            break
    return best


def fresh_process(code: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


FIRST_CALL = """
import json, time
start = time.perf_counter()
from benchmarks.smc import ours, tiled
df = tiled(5_000)
loaded = time.perf_counter()
for func in ours().values():
    func(df)
print(json.dumps({"import_s": loaded - start, "first_call_s": time.perf_counter() - loaded}))
"""

PEAK_MEMORY = """
import json, resource
from benchmarks.smc import ours, tiled
df = tiled(1_000_000)
funcs = ours()
for func in funcs.values():
    func(df.iloc[:2000])
for func in funcs.values():
    func(df)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    mine = ours()
    peers = theirs()
    small = tiled(2_000)
    for func in mine.values():
        func(small)  # load or compile the numba kernels
    rows: list[tuple[int, str, float, float | None, str]] = []
    their_s: float | None
    their_100k: dict[str, float] = {}
    for n in (100_000, 1_000_000):
        frame = tiled(n)
        for name, func in mine.items():
            ours_s = timed(func, frame)
            if name not in peers:
                their_s, note = None, "no counterpart in smartmoneyconcepts"
            elif n == 100_000:
                their_s = timed(peers[name], frame)
                their_100k[name] = their_s
                note = ""
            elif their_100k[name] * 10 <= SKIP_ABOVE:
                their_s, note = timed(peers[name], frame), ""
            else:
                their_s, note = None, f"skipped (~{their_100k[name] * 10:.0f} s estimated)"
            rows.append((n, name, ours_s, their_s, note))
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, {os.cpu_count()} cores")
    print(f"{'bars':>9} {'function':<17} {'ours s':>9} {'theirs s':>10} {'ratio':>9}  note")
    totals: dict[int, list[float]] = {}
    for n, name, ours_s, their_s, note in rows:
        ratio = f"{their_s / ours_s:9.1f}x" if their_s is not None else f"{'-':>10}"
        shown = f"{their_s:10.3f}" if their_s is not None else f"{'-':>10}"
        print(f"{n:>9,} {name:<17} {ours_s:9.3f} {shown} {ratio}  {note}")
        totals.setdefault(n, [0.0, 0.0])
        totals[n][0] += ours_s
        totals[n][1] += their_s or 0.0
    for n in totals:
        matched = [r for r in rows if r[0] == n and r[1] in peers]
        mine_matched = sum(r[2] for r in matched)
        complete = all(r[3] is not None for r in matched)
        their_total = sum(r[3] or 0.0 for r in matched)
        ratio = f"{their_total / mine_matched:9.1f}x" if complete else "  (theirs partly skipped)"
        print(f"{n:>9,} {'same functions':<17} {mine_matched:9.3f} {their_total:10.3f} {ratio}")
        print(f"{n:>9,} {'our whole suite':<17} {totals[n][0]:9.3f}")
    first = fresh_process(FIRST_CALL)
    print(
        f"fresh process: import + data {first['import_s']:.2f} s, first call of every "
        f"function (numba cache load) {first['first_call_s']:.2f} s"
    )
    memory = fresh_process(PEAK_MEMORY)
    print(f"peak memory, our suite on 1,000,000 bars: {memory['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
