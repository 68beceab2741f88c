"""Speed of the zones + SMC engine beside smartmoneyconcepts 0.0.27. One command:

    .venv/bin/python -m benchmarks.smc            (--only swings,zones for a quick run)

Suite: swings, FVG, structure, order blocks, liquidity, zones (levels + strength), sessions,
premium/discount, and the confluence score computed from the events the others produced.
Peers: swing_highs_lows, fvg, bos_choch, ob, liquidity, previous_high_low, sessions and
retracements (swing length 5, our left=4/right=5 being the same window).

Input: real BTCUSDT 5m bars (71,712 bundled), tiled end to end to 100,000 and 1,000,000 bars on
a fresh 5-minute index (prices repeat; fine for timing). Every function is timed warm (after a
first call that loads the numba cache): best and median of five runs when a run takes under a
second, else one run; ratios are theirs / ours, on the best wall-clock times and on the best
CPU times of the process ("cpu"), which other programs on a busy machine slow down far less
than the wall clock (on an idle machine the two agree: everything runs on one thread). "same
functions" totals the functions that have a counterpart; "our whole suite" adds zone strength
and confluence, which have none. At 1,000,000 bars each function of theirs
runs in a fresh process, stopped after SKIP_ABOVE seconds (its bos_choch takes ~9 minutes).

First-call time is measured in a fresh process. Peak memory of our whole suite on 1,000,000
bars is measured in two more fresh processes, each after imports, data and warm-up: the peak
resident set size above the resident size at that point, and the peak of tracemalloc (numpy
and Python allocations; pyarrow's string buffers are not traced). Every result is kept, as a
user running the whole suite would keep them. The load average is printed with the results:
timings on a busy machine are slower, compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantlib.data import load_ohlcv

SKIP_ABOVE = 120.0
REPEAT = 5
SIZES = (100_000, 1_000_000)
TARGET_RATIO = 3.0  # issue 19: swings and zones at least 3x smartmoneyconcepts
TARGET_SUITE_S = 0.8  # issue 19: our whole suite at 1,000,000 bars
TARGET_MEMORY_MB = 250.0  # issue 19: peak memory above the post-import baseline


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


def timings(
    func: Callable[[pd.DataFrame], Any], df: pd.DataFrame, repeat: int = REPEAT
) -> tuple[float, float]:
    """Best and median of ``repeat`` runs; one run when a run takes a second or more."""
    return _timings(func, df, repeat)[:2]


def _timings(
    func: Callable[[pd.DataFrame], Any], df: pd.DataFrame, repeat: int = REPEAT
) -> tuple[float, float, float]:
    """Wall-clock best and median, and the best CPU time of this process (which other
    programs on a busy machine slow down far less than the wall clock)."""
    samples: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        func(df)
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if samples[-1] >= 1.0:
            break
    return min(samples), statistics.median(samples), min(cpu)


def timed(func: Callable[[pd.DataFrame], Any], df: pd.DataFrame) -> float:
    """Best of three runs for calls under a second (single runs are noisy), else one run."""
    return timings(func, df, repeat=3)[0]


def fresh_process(code: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


PEER = """
import json, sys
from benchmarks.smc import _timings, theirs, tiled
best, median, cpu = _timings(theirs()[sys.argv[1]], tiled(int(sys.argv[2])))
print(json.dumps({"best": best, "median": median, "cpu": cpu}))
"""


def peer_in_process(name: str, n: int, limit_s: float) -> tuple[float, float, float] | None:
    """A peer function timed on ``n`` bars in a fresh process, None past ``limit_s``."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", PEER, name, str(n)],
            capture_output=True,
            text=True,
            check=True,
            timeout=limit_s,
        )
    except subprocess.TimeoutExpired:
        return None
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return float(found["best"]), float(found["median"]), float(found["cpu"])


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

# Both memory runs measure from the same point: imports, 1,000,000 bars, warm-up done.
_MEMORY_SETUP = """
import json
from benchmarks.smc import ours, tiled
df = tiled(1_000_000)
funcs = ours()
for func in funcs.values():
    func(df.iloc[:2000])
"""

# The peak resident size (VmHWM) is reset to the current size after the set-up, so that the
# peak is the suite's even when the set-up itself went higher.
PEAK_MEMORY = (
    _MEMORY_SETUP
    + """
def status_mb(field):
    with open("/proc/self/status") as file:
        line = next(line for line in file if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024

with open("/proc/self/clear_refs", "w") as file:
    file.write("5")
baseline = status_mb("VmRSS")
for func in funcs.values():
    func(df)
peak = status_mb("VmHWM")
print(json.dumps({"baseline_mb": baseline, "peak_mb": peak, "above_mb": peak - baseline}))
"""
)

TRACED_MEMORY = (
    _MEMORY_SETUP
    + """
import tracemalloc
tracemalloc.start()
for func in funcs.values():
    func(df)
print(json.dumps({"traced_peak_mb": tracemalloc.get_traced_memory()[1] / 2**20}))
"""
)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def _ratio(theirs_s: float | None, ours_s: float) -> str:
    return f"{theirs_s / ours_s:7.1f}x" if theirs_s is not None else f"{'-':>8}"


def _seconds(value: float | None) -> str:
    return f"{value:8.3f}" if value is not None else f"{'-':>8}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated function names (default: all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the fresh-process runs")
    args = parser.parse_args(argv)
    mine = ours()
    peers = theirs()
    names = list(mine) if args.only is None else [n.strip() for n in args.only.split(",")]
    unknown = sorted(set(names) - set(mine))
    if unknown:
        parser.error(f"unknown function(s) {unknown}; choose from {list(mine)}")
    small = tiled(2_000)
    for func in mine.values():
        func(small)  # load or compile the numba kernels, and fill what confluence reads
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}; {_load()} at the start")
    Times = tuple[float, float, float]  # wall best, wall median, cpu best
    rows: list[tuple[int, str, Times, Times | None, str]] = []
    for n in SIZES:
        frame = tiled(n)
        for name, func in mine.items():
            if name not in names:
                if name in ("zones", "fvg", "order_blocks", "liquidity"):
                    func(frame)  # confluence (and zone strength) read these results
                continue
            func(frame)  # the first call at this size, not timed
            mine_t = _timings(func, frame)
            theirs_t: Times | None = None
            note = ""
            if name not in peers:
                note = "no counterpart in smartmoneyconcepts"
            elif n <= 100_000:
                theirs_t = _timings(peers[name], frame)
            else:
                # Some of theirs grow faster than linearly (bos_choch: ~9 minutes here).
                theirs_t = peer_in_process(name, n, SKIP_ABOVE)
                if theirs_t is None:
                    note = f"theirs skipped (over {SKIP_ABOVE:.0f} s)"
            rows.append((n, name, mine_t, theirs_t, note))
    print(
        f"{'bars':>9} {'function':<17} {'ours best':>9} {'median':>8} {'cpu':>7} "
        f"{'theirs best':>11} {'median':>8} {'cpu':>8} {'ratio':>8} {'(cpu)':>7}  note"
    )
    for n, name, (mine_best, mine_med, mine_cpu), theirs_t, note in rows:
        their_best, their_med, their_cpu = theirs_t if theirs_t is not None else (None,) * 3
        print(
            f"{n:>9,} {name:<17} {mine_best:9.3f} {mine_med:8.3f} {mine_cpu:7.3f} "
            f"{_seconds(their_best):>11} {_seconds(their_med)} {_seconds(their_cpu)} "
            f"{_ratio(their_best, mine_best)} {_ratio(their_cpu, mine_cpu):>7}  {note}"
        )
    for n in SIZES:
        sized = [r for r in rows if r[0] == n]
        matched = [r for r in sized if r[1] in peers]
        if matched:
            mine_matched = sum(r[2][0] for r in matched)
            if all(r[3] is not None for r in matched):
                their_total = sum(r[3][0] for r in matched if r[3] is not None)
                print(
                    f"{n:>9,} {'same functions':<17} {mine_matched:9.3f} {'':8} "
                    f"{their_total:11.3f} {'':8} {_ratio(their_total, mine_matched)}"
                )
            else:
                total = f"{mine_matched:9.3f}  (theirs partly skipped)"
                print(f"{n:>9,} {'same functions':<17} {total}")
        if len(sized) == len(mine):
            best, median, cpu = (sum(r[2][k] for r in sized) for k in range(3))
            print(f"{n:>9,} {'our whole suite':<17} {best:9.3f} {median:8.3f} {cpu:7.3f}")
            if n == 1_000_000:
                print(
                    f"target: whole suite at 1,000,000 bars < {TARGET_SUITE_S} s: wall "
                    f"{best:.2f} s ({'met' if best < TARGET_SUITE_S else 'missed'}), cpu "
                    f"{cpu:.2f} s ({'met' if cpu < TARGET_SUITE_S else 'missed'})"
                )
    for n, name, (mine_best, _, mine_cpu), theirs_t, _ in rows:
        if name in ("swings", "zones") and theirs_t is not None:
            wall, cpu = theirs_t[0] / mine_best, theirs_t[2] / mine_cpu
            print(
                f"target: {name} at {n:,} bars >= {TARGET_RATIO:.0f}x: wall {wall:.1f}x "
                f"({'met' if wall >= TARGET_RATIO else 'missed'}), cpu {cpu:.1f}x "
                f"({'met' if cpu >= TARGET_RATIO else 'missed'})"
            )
    print(_load() + " at the end")
    if args.no_memory:
        return
    first = fresh_process(FIRST_CALL)
    print(
        f"fresh process: import + data {first['import_s']:.2f} s, first call of every "
        f"function (numba cache load) {first['first_call_s']:.2f} s"
    )
    resident = fresh_process(PEAK_MEMORY)
    traced = fresh_process(TRACED_MEMORY)
    print(
        f"peak memory of our whole suite on 1,000,000 bars, above the {resident['baseline_mb']:.0f}"
        f" MB after imports, data and warm-up: resident {resident['above_mb']:.0f} MB (peak "
        f"{resident['peak_mb']:.0f} MB), tracemalloc {traced['traced_peak_mb']:.0f} MB; target "
        f"< {TARGET_MEMORY_MB:.0f} MB"
    )


if __name__ == "__main__":
    main()
