"""Speed of the backtest engine beside vectorbt 1.2.0 and backtesting.py 0.6.6. One command:

    .venv/bin/python -m benchmarks.backtest

Cases (all long-only ``sma_cross``, 0.1% fee, no slippage, all-in, next-open fills):

* single run at 100k and 1M bars, warm: ours is timed from the bars and the signal frame in
  memory to a ``BacktestResult`` and its final equity (the result builds its ledger, equity,
  positions and exposure frames on first access); "+ frames built" reads them all too;
  "+ signals" adds the SMA signal computation. vectorbt: ``Portfolio.from_signals`` on the
  same shifted arrays and its ``final_value()`` (numpy inputs: with a pandas 3 DatetimeIndex it
  spends most of its time converting timestamps). backtesting.py: ``FractionalBacktest.run``
  (``fractional_unit=2**-30``). Best and median of 7 (3 for backtesting.py).
* first call in a fresh process (numba's disk cache warm), 100k bars: after the imports and
  the data, signals + run; split into numba's one-time setup at the first compiled call of
  the process (its target context and registries, whoever calls first) and ours.
* the full event engine on 1M bars: stops 2% from the fill, targets at 3R, a 5% trailing stop,
  risk-per-trade sizing (1% of equity at the stop).
* a 100-pair sweep (fast 5..50 × slow 60..240) on 100k bars: ours ``sweep`` on Dask's threaded
  scheduler (signals, runs and every metric of each pair); vectorbt with all 100 columns in one
  ``from_signals`` call plus its MA indicator (total return only); backtesting.py
  ``Backtest.optimize`` (its default multiprocessing). Best and median of 3.
* rendering the HTML report of a finished result with 5 years of daily data (BTCUSDT 1d,
  2020-2024, ``sma_cross`` 10/50), warm, best and median of 7 in a fresh process; beside it
  quantstats 0.0.86 ``reports.html`` on the same daily returns (matplotlib SVG charts, no
  benchmark), best of 3. The process CPU time of ours is printed too: on a loaded machine it
  moves less than the wall time. ``python -m benchmarks.backtest report`` runs this case alone.

Input: real BTCUSDT 5m bars tiled to length (see ``benchmarks.smc.tiled``). Other warm
timings are the best of three runs for calls under a second. The load average is printed
before and after: on a shared machine compare the ratios of one run, not times across runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.smc import fresh_process, tiled, timed, timings
from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.risk.sizing import RiskPerTrade
from quantlib.strategy import SmaCross

CONFIG = BacktestConfig(fee=0.001, slippage=0.0)
FASTS = list(range(5, 55, 5))
SLOWS = list(range(60, 260, 20))
BT_SKIP_ABOVE = 240.0  # seconds: backtesting.py runs above this estimate are skipped


def ours_run(bars: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    signals = SmaCross(fast=10, slow=50).signals(bars)
    return lambda df: run_backtest(df, signals, CONFIG).final_equity


def ours_with_frames(bars: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    signals = SmaCross(fast=10, slow=50).signals(bars)

    def run(df: pd.DataFrame) -> Any:
        result = run_backtest(df, signals, CONFIG)
        return result.trades, result.equity, result.positions, result.exposure, result.blocks

    return run


def ours_with_signals(bars: pd.DataFrame) -> Any:
    return run_backtest(bars, SmaCross(fast=10, slow=50).signals(bars), CONFIG)


def ours_full_engine(bars: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    signals = SmaCross(fast=10, slow=50).signals(bars)
    signals["stop_pct"] = 0.02
    signals["target_r"] = 3.0
    signals["trail_pct"] = 0.05
    config = BacktestConfig(fee=0.001, slippage=1.0, sizer=RiskPerTrade(fraction=0.01))
    return lambda df: run_backtest(df, signals, config)


def vbt_run(bars: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    import vectorbt as vbt

    signals = SmaCross(fast=10, slow=50).signals(bars)
    entries = np.concatenate([[False], signals["entry"].to_numpy(bool)[:-1]])
    exits = np.concatenate([[False], signals["exit"].to_numpy(bool)[:-1]])
    close, open_ = bars["close"].to_numpy(), bars["open"].to_numpy()

    def run(_: pd.DataFrame) -> Any:
        portfolio = vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, fees=0.001, init_cash=10_000.0, freq="5min"
        )
        return portfolio.final_value()

    return run


def bt_strategy() -> type:
    """backtesting.py's strategy class (module level: its optimiser pickles it to workers)."""
    global _BT_CROSS
    if _BT_CROSS is None:
        from backtesting import Strategy
        from backtesting.lib import crossover

        from quantlib.strategy.sma_cross import sma

        class Cross(Strategy):  # type: ignore[misc]
            fast = 10
            slow = 50

            def init(self) -> None:
                close = pd.Series(self.data.Close)
                self.f = self.I(lambda: sma(close, self.fast).to_numpy())
                self.s = self.I(lambda: sma(close, self.slow).to_numpy())

            def next(self) -> None:
                if crossover(self.f, self.s):
                    self.buy()
                elif crossover(self.s, self.f):
                    self.position.close()

        Cross.__qualname__ = "Cross"
        globals()["Cross"] = Cross
        _BT_CROSS = Cross
    return _BT_CROSS


_BT_CROSS: type | None = None


def bt_frame(bars: pd.DataFrame) -> pd.DataFrame:
    frame = bars.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)
    return frame


def bt_run(bars: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    from backtesting.lib import FractionalBacktest

    frame = bt_frame(bars)
    strategy = bt_strategy()

    def run(_: pd.DataFrame) -> Any:
        backtest = FractionalBacktest(
            frame, strategy, cash=10_000, commission=0.001, fractional_unit=2**-30,
            finalize_trades=False,
        )  # fmt: skip
        return backtest.run()

    return run


def sweep_ours(bars: pd.DataFrame) -> Any:
    from quantlib.research.sweeps import sweep

    grid = {"fast": FASTS, "slow": SLOWS}
    return sweep("sma_cross", grid, bars, CONFIG, scheduler="threads", progress=False)


def sweep_vbt(bars: pd.DataFrame) -> Any:
    import vectorbt as vbt

    close, open_ = bars["close"].to_numpy()[:, None], bars["open"].to_numpy()[:, None]
    fast = vbt.MA.run(close, window=[f for f in FASTS for _ in SLOWS]).ma.to_numpy()
    slow = vbt.MA.run(close, window=[s for _ in FASTS for s in SLOWS]).ma.to_numpy()
    previous = (
        np.vstack([np.full((1, fast.shape[1]), np.nan), fast[:-1]]),
        np.vstack([np.full((1, slow.shape[1]), np.nan), slow[:-1]]),
    )
    entries = (previous[0] < previous[1]) & (fast > slow)
    exits = (previous[0] > previous[1]) & (fast < slow)
    shift = np.zeros((1, entries.shape[1]), dtype=bool)
    portfolio = vbt.Portfolio.from_signals(
        close, np.vstack([shift, entries[:-1]]), np.vstack([shift, exits[:-1]]), price=open_,
        fees=0.001, init_cash=10_000.0, freq="5min",
    )  # fmt: skip
    return portfolio.total_return()


def sweep_bt(bars: pd.DataFrame) -> Any:
    from backtesting.lib import FractionalBacktest

    backtest = FractionalBacktest(
        bt_frame(bars), bt_strategy(), cash=10_000, commission=0.001, fractional_unit=2**-30,
        finalize_trades=False,
    )  # fmt: skip
    return backtest.optimize(fast=FASTS, slow=SLOWS, maximize="Sharpe Ratio")


FIRST_CALL = """
import json, time
SPLIT = False
start = time.perf_counter()
from quantlib.backtest import BacktestConfig, run_backtest
from quantlib.strategy import SmaCross
loaded = time.perf_counter()
from benchmarks.smc import tiled
bars = tiled(100_000)
ready = time.perf_counter()
if SPLIT:  # numba's one-time setup, at the process's first compiled call
    from quantlib.execution.costs import fill_fee
    fill_fee(0.001, 1.0, 1.0)
set_up = time.perf_counter()
run_backtest(bars, SmaCross(fast=10, slow=50).signals(bars), BacktestConfig()).final_equity
done = time.perf_counter()
print(json.dumps({"import_s": loaded - start, "setup_s": set_up - ready,
                  "first_call_s": done - ready, "ours_s": done - set_up}))
"""

REPORT = """
import json, time
from quantlib.backtest import run_strategy
from quantlib.data import load_ohlcv
from quantlib.reports import build_report
from quantlib.strategy import SmaCross
bars = load_ohlcv("BTCUSDT", "1d").loc["2020":"2024"]
result = run_strategy(SmaCross(fast=10, slow=50), bars)
import statistics
import plotly.offline
build_report(result)
times, cpu = [], []
for _ in range(7):
    start, start_cpu = time.perf_counter(), time.process_time()
    html = build_report(result)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
print(json.dumps({"render_s": min(times), "median_s": statistics.median(times), "days": len(bars),
                  "cpu_s": min(cpu),
                  "mb": len(html) / 1e6, "plotly_js_mb": len(plotly.offline.get_plotlyjs()) / 1e6}))
"""

REPORT_PEER = """
import json, logging, os, tempfile, time, warnings
warnings.simplefilter("ignore")
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
import quantstats as qs
from quantlib.analytics import period_returns
from quantlib.backtest import run_strategy
from quantlib.data import load_ohlcv
from quantlib.strategy import SmaCross
bars = load_ohlcv("BTCUSDT", "1d").loc["2020":"2024"]
result = run_strategy(SmaCross(fast=10, slow=50), bars)
returns = period_returns(result.equity, "1D").tz_localize(None)
with tempfile.TemporaryDirectory() as folder:
    out = os.path.join(folder, "report.html")
    qs.reports.html(returns, output=out, periods_per_year=365)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        qs.reports.html(returns, output=out, periods_per_year=365)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"render_s": best, "mb": os.path.getsize(out) / 1e6}))
"""


def row(
    case: str,
    n: int,
    ours_s: float,
    peer: str = "",
    peer_s: float | None = None,
    medians: tuple[float, float | None] | None = None,
) -> None:
    """One line: best times and their ratio; with ``medians`` (ours, peer's) those too."""
    shown = f"{peer_s:10.3f}" if peer_s is not None else f"{'-':>10}"
    ratio = f"{peer_s / ours_s:8.1f}x" if peer_s is not None else f"{'':>9}"
    line = f"{case:<34} {n:>9,} {ours_s:9.3f} {peer:<14} {shown} {ratio}"
    if medians is not None:
        ours_med, peer_med = medians
        line += f"   median {ours_med:.4f}"
        if peer_med is not None:
            line += f" vs {peer_med:.4f} ({peer_med / ours_med:.1f}x)"
    print(line)


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bars
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, ")
    print(f"{os.cpu_count()} cores; ratio = peer time / our time (above 1: we are faster)")
    print(f"at the start: {load_line()}")
    print(f"{'case':<34} {'bars':>9} {'ours s':>9} {'peer':<14} {'peer s':>10} {'ratio':>9}")
    results: dict[str, Any] = {}
    bt_100k = None
    for n in (100_000, 1_000_000):
        bars = tiled(n)
        run = ours_run(bars)
        run(bars)
        ours_s, ours_med = timings(run, bars, repeat=7)
        vbt = vbt_run(bars)
        vbt(bars)
        vbt_s, vbt_med = timings(vbt, bars, repeat=7)
        row("sma_cross single run (warm)", n, ours_s, "vectorbt", vbt_s, (ours_med, vbt_med))
        if n == 100_000 or (bt_100k is not None and bt_100k * 10 < BT_SKIP_ABOVE):
            bt_s = timed(bt_run(bars), bars)
            bt_100k = bt_s if n == 100_000 else bt_100k
            row("sma_cross single run (warm)", n, ours_s, "backtesting.py", bt_s)
        framed = ours_with_frames(bars)
        framed(bars)
        framed_s, framed_med = timings(framed, bars, repeat=7)
        row("  + frames built", n, framed_s, "vectorbt", vbt_s, (framed_med, vbt_med))
        row("  + signals", n, timed(ours_with_signals, bars))
        results[f"single_{n}"] = {
            "ours_s": ours_s, "ours_median_s": ours_med, "vectorbt_s": vbt_s,
            "vectorbt_median_s": vbt_med, "with_frames_s": framed_s,
            "with_frames_median_s": framed_med,
        }  # fmt: skip
        if n == 1_000_000:
            full = ours_full_engine(bars)
            full(bars)
            full_s = timed(full, bars)
            row("full engine: stops/target/trail/risk", n, full_s)
            results["full_engine_1m_s"] = full_s
    first = fresh_process(FIRST_CALL)
    split = fresh_process(FIRST_CALL.replace("SPLIT = False", "SPLIT = True"))
    print(
        f"fresh process, 100k bars: import {first['import_s']:.2f} s, first call "
        f"{first['first_call_s']:.3f} s (numba cache warm); in another: numba's setup "
        f"{split['setup_s']:.3f} s + ours {split['ours_s']:.3f} s"
    )
    results["first_call"] = {**first, "split": split}
    bars = tiled(100_000)
    sweep_ours(bars.iloc[:5000])
    ours_s, ours_med = timings(sweep_ours, bars, repeat=3)
    sweep_vbt(bars.iloc[:5000])
    vbt_s, vbt_med = timings(sweep_vbt, bars, repeat=3)
    row("100-pair sweep", 100_000, ours_s, "vectorbt", vbt_s, (ours_med, vbt_med))
    estimate = (bt_100k or 0.0) * 100 / max(os.cpu_count() or 1, 1)
    if estimate < BT_SKIP_ABOVE:
        start = time.perf_counter()
        sweep_bt(bars)
        bt_s = time.perf_counter() - start
        row("100-pair sweep", 100_000, ours_s, "bt.py optimize", bt_s)
    else:
        print(f"100-pair sweep with backtesting.py skipped (estimated {estimate:.0f} s)")
        bt_s = None
    results["sweep_100k"] = {
        "ours_s": ours_s, "ours_median_s": ours_med, "vectorbt_s": vbt_s,
        "vectorbt_median_s": vbt_med, "backtesting_s": bt_s,
    }  # fmt: skip
    print(f"after the sweeps: {load_line()}")
    results["report"] = report_case()
    print(json.dumps(results))


def report_case() -> dict[str, Any] | None:
    """The HTML report of a finished result (5 years daily) beside quantstats' HTML report."""
    try:
        report: dict[str, Any] = fresh_process(REPORT)
    except Exception as exc:  # the report needs plotly; say why it is missing
        print(f"report rendering not measured: {exc}")
        return None
    try:
        peer: dict[str, float] | None = fresh_process(REPORT_PEER)
    except Exception as exc:  # quantstats is a benchmark-only peer
        print(f"quantstats report not measured: {exc}")
        peer = None
    row("HTML report, 5y daily (warm)", int(report["days"]), report["render_s"], "quantstats",
        peer["render_s"] if peer else None)  # fmt: skip
    sizes = f"file {report['mb']:.2f} MB, of which plotly.js {report['plotly_js_mb']:.2f} MB"
    if peer:
        sizes += f"; quantstats file {peer['mb']:.2f} MB"
    cpu = f"process CPU time (best) {report['cpu_s']:.3f} s"
    print(f"  median {report['median_s']:.3f} s, {cpu}; {sizes}")
    report["quantstats"] = peer
    return report


if __name__ == "__main__":
    if sys.argv[1:] == ["report"]:
        print(f"{'case':<34} {'bars':>9} {'ours s':>9} {'peer':<14} {'peer s':>10} {'ratio':>9}")
        print(json.dumps({"report": report_case()}))
    else:
        main()
