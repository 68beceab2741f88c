"""``run_stress``: one idempotent stress run, from a :class:`StressSpec` to an outcome and a row.

The run loads the portfolio's daily bars, replays every historical window (the portfolio held,
or the configured strategy traded), applies every hypothetical shock, simulates the Monte Carlo
paths, checks the limits, writes a JSON of the metrics atomically into ``out_dir`` and stores
the run in the database in one transaction. The offline HTML report is rendered by the layer
above (:func:`quantlib.reports.stress_report.write_stress_report`): a caller that wants it
passes that writer as ``write_report`` (or calls
:func:`quantlib.reports.stress_report.run_stress_report`, which does), and the run calls it
with the finished outcome before the JSON and the history row are written.

Idempotent: the results depend only on the configuration and the data (the Monte Carlo is
seeded), a run is keyed by ``(config_id, data hash)``, and a rerun with both unchanged adds no
history row and rewrites the same files byte for byte (the report shows the time of the stored
run, not of the rerun). Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary
from quantlib.stress.config import StressSpec
from quantlib.stress.history import record_run
from quantlib.stress.montecarlo import MonteCarloResult, monte_carlo
from quantlib.stress.scenarios import (
    ShockResult,
    WindowResult,
    closes_frame,
    replay_portfolio,
    replay_strategy,
    shock_portfolio,
)

__all__ = ["StressOutcome", "data_hash", "run_stress"]


@dataclass(frozen=True)
class StressOutcome:
    """What one stress run produced and where it was stored.

    Attributes
    ----------
    metrics : dict
        Flat metric key → value (``historical.<window>.pnl``, ``hypothetical.<shock>.
        stressed_loss``, ``montecarlo.<method>.p_ruin``, ...), fractions of equity.
    breaches : dict
        Breach key (the metric that broke a limit) → a sentence naming value and limit.
    created : bool
        Whether this call added the history row (False: the same config and data ran before).
    report : Path
        Where the HTML report of this run goes (``stress-<name>-<config_id>-<hash>.html`` in
        ``out_dir``); written by the ``write_report`` passed to :func:`run_stress`, if any.
    """

    spec: StressSpec
    run_id: int
    run_at: pd.Timestamp
    created: bool
    data_hash: str
    report: Path
    windows: tuple[WindowResult, ...] = field(repr=False)
    shocks: tuple[ShockResult, ...] = field(repr=False)
    montecarlo: Mapping[str, MonteCarloResult] = field(repr=False)
    metrics: Mapping[str, float] = field(repr=False)
    breaches: Mapping[str, str] = field(default_factory=dict)

    @property
    def config_id(self) -> str:
        return self.spec.config_id

    def scenarios(self) -> pd.DataFrame:
        """One row per scenario: historical windows then shocks (fractions of equity), the
        figures of each :meth:`WindowResult.summary` and :meth:`ShockResult.summary`."""
        rows = [w.summary().to_dict() for w in self.windows]
        rows += [s.summary().to_dict() for s in self.shocks]
        return pd.DataFrame(rows)

    def summary(self) -> ResultSummary:
        """The run's headline figures (fractions of equity): the worst historical window (its
        name and P&L), the deepest drawdown and worst day over the windows, the worst shock
        (by stressed loss) with its stressed loss and the worst P&L after exit, then per Monte
        Carlo method ``<method>_pnl_median``, ``_pnl_p5``, ``_p_ruin`` and
        ``_p_drawdown_breach``, and ``n_breaches``. The :meth:`scenarios` frame is the table
        ``"scenarios"``; the limit breaches and the stored run are the remarks."""
        figures: dict[str, Any] = {}
        if self.windows:
            worst = min(self.windows, key=lambda w: w.pnl)
            figures["worst_window"] = worst.window.name
            figures["worst_window_pnl"] = worst.pnl
            figures["worst_drawdown"] = min(w.max_drawdown for w in self.windows)
            figures["worst_day"] = min(w.worst_day for w in self.windows)
        if self.shocks:
            shock = max(self.shocks, key=lambda s: s.stressed_loss)
            figures["worst_shock"] = shock.shock.name
            figures["worst_stressed_loss"] = shock.stressed_loss
            figures["worst_shock_pnl_after_exit"] = min(s.pnl - s.exit_cost for s in self.shocks)
        for method, mc in self.montecarlo.items():
            mc_figures = mc.summary()
            for key in ("pnl_median", "pnl_p5", "p_ruin", "p_drawdown_breach"):
                figures[f"{method}_{key}"] = mc_figures[key]
        figures["n_breaches"] = len(self.breaches)
        state = (
            "recorded as run" if self.created else "already recorded (same config and data): run"
        )
        return ResultSummary(
            f"Stress {self.spec.name} (config {self.config_id}, data {self.data_hash[:12]})",
            figures,
            {"scenarios": self.scenarios()},
            (
                *(f"breach: {message}" for message in self.breaches.values()),
                f"{state} {self.run_id} at {self.run_at}; report {self.report}",
            ),
        )

    def to_frame(self) -> pd.DataFrame:
        """The metrics as a frame (``metric``, ``value``)."""
        return pd.DataFrame({"metric": list(self.metrics), "value": list(self.metrics.values())})


def data_hash(bars: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of each asset's name, bar times and OHLCV values, in asset-name order.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([1.0, 2.0])
    >>> data_hash({"A": bars}) == data_hash({"A": bars.copy()}), len(data_hash({"A": bars}))
    (True, 64)
    """
    digest = hashlib.sha256()
    for asset in sorted(bars):
        frame = bars[asset]
        digest.update(asset.encode())
        digest.update(pd.DatetimeIndex(frame.index).as_unit("ns").asi8.tobytes())
        for column in ("open", "high", "low", "close", "volume"):
            digest.update(np.ascontiguousarray(frame[column].to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


def _history_returns(closes: pd.DataFrame, spec: StressSpec) -> pd.DataFrame:
    mc = spec.montecarlo
    assert mc is not None
    index = pd.DatetimeIndex(closes.index)
    keep = np.ones(len(index), dtype=bool)
    if mc.history_start is not None:
        keep &= index >= pd.Timestamp(mc.history_start, tz="UTC")
    if mc.history_end is not None:
        keep &= index <= pd.Timestamp(mc.history_end, tz="UTC")
    window = closes.loc[keep, spec.assets]
    returns = window.pct_change(fill_method=None).iloc[1:].dropna()
    if len(returns) < 60:
        raise DataError(
            f"montecarlo history {mc.history_start}..{mc.history_end}: only {len(returns)} days "
            "on which every portfolio asset traded. Fix: start the history after the last "
            "asset's listing"
        )
    return returns


def _metrics(
    windows: list[WindowResult], shocks: list[ShockResult], mcs: Mapping[str, MonteCarloResult]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for w in windows:
        for key in ("pnl", "max_drawdown", "worst_day"):
            out[f"historical.{w.window.name}.{key}"] = float(getattr(w, key))
    for s in shocks:
        summary = s.summary()
        for key in ("pnl", "pnl_after_exit", "var_99", "stressed_loss"):
            out[f"hypothetical.{s.shock.name}.{key}"] = float(summary[key])
    for method, mc in mcs.items():
        for key, value in mc.summary().items():
            out[f"montecarlo.{method}.{key}"] = value
    return out


def _breaches(
    spec: StressSpec,
    windows: list[WindowResult],
    shocks: list[ShockResult],
    mcs: Mapping[str, MonteCarloResult],
) -> dict[str, str]:
    limits = spec.limits
    out: dict[str, str] = {}
    for w in windows:
        if w.max_drawdown < -limits.max_drawdown:
            out[f"historical.{w.window.name}.max_drawdown"] = (
                f"window {w.window.name}: max drawdown {w.max_drawdown:.2%} is beyond the "
                f"limit of {limits.max_drawdown:.0%}"
            )
    for s in shocks:
        if s.stressed_loss > limits.max_drawdown:
            out[f"hypothetical.{s.shock.name}.stressed_loss"] = (
                f"shock {s.shock.name}: stressed loss {s.stressed_loss:.2%} (shock, exit and "
                f"{s.shock.horizon_days}-day 99% VaR) exceeds the {limits.max_drawdown:.0%} limit"
            )
    for method, mc in mcs.items():
        if mc.p_ruin > limits.max_ruin_probability:
            out[f"montecarlo.{method}.p_ruin"] = (
                f"Monte Carlo ({method}): probability of ruin (equity below "
                f"{limits.ruin_level:.0%}) {mc.p_ruin:.2%} exceeds "
                f"{limits.max_ruin_probability:.2%}"
            )
        if mc.p_drawdown_breach > limits.max_breach_probability:
            out[f"montecarlo.{method}.p_drawdown_breach"] = (
                f"Monte Carlo ({method}): probability of a drawdown beyond "
                f"{limits.max_drawdown:.0%} is {mc.p_drawdown_breach:.2%}, above "
                f"{limits.max_breach_probability:.2%}"
            )
    return out


def _utc_now(now: object) -> pd.Timestamp:
    if not isinstance(now, pd.Timestamp) or now.tzinfo is None:
        raise ConfigError(
            f"now must be a tz-aware pandas Timestamp, got {now!r}. Fix: pass "
            "pd.Timestamp.now('UTC') (the command line does)"
        )
    return now.tz_convert("UTC")


def run_stress(
    spec: StressSpec,
    out_dir: PathLike,
    *,
    now: pd.Timestamp,
    engine: Engine | None = None,
    bars: Mapping[str, pd.DataFrame] | None = None,
    write_report: Callable[[StressOutcome, Path], object] | None = None,
) -> StressOutcome:
    """Run the stress test ``spec``, write its results into ``out_dir`` and record it.

    Parameters
    ----------
    spec : StressSpec
    out_dir : path
        Folder of ``stress-<name>-<config_id>-<data hash[:8]>.html`` and ``.json``.
    now : Timestamp
        The run's time (tz-aware), stored with a new history row.
    engine : sqlalchemy.Engine, optional
        Default: the settings' database.
    bars : mapping asset → daily OHLCV frame, optional
        The data; default the bundled or stored daily bars of the portfolio's assets.
    write_report : callable, optional
        Called as ``write_report(outcome, outcome.report)`` once the results are in, before the
        JSON and the history row are written (so a report that fails to render records
        nothing): :func:`quantlib.reports.stress_report.write_stress_report` writes the
        offline HTML page. Default: no HTML report.

    Returns
    -------
    StressOutcome

    Examples
    --------
    >>> import tempfile
    >>> from quantlib.db import make_engine
    >>> from quantlib.stress.config import parse_spec
    >>> spec = parse_spec({"name": "btc", "weights": {"BTCUSDT": 1.0}})
    >>> engine = make_engine("sqlite://")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     first = run_stress(spec, folder, now=pd.Timestamp("2025-01-01", tz="UTC"),
    ...                        engine=engine)
    ...     again = run_stress(spec, folder, now=pd.Timestamp("2025-01-02", tz="UTC"),
    ...                        engine=engine)
    >>> first.created, again.created, again.run_at == first.run_at
    (True, False, True)
    """
    from quantlib.backtest.runs import load_assets
    from quantlib.stress.history import find_run

    stamp = _utc_now(now)
    daily = dict(bars) if bars is not None else load_assets(spec.assets, "1d")
    closes = closes_frame(daily)
    config = spec.backtest_config()
    strategy_bars = daily
    seen = dict(daily)
    if spec.strategy is not None and spec.strategy.timeframe != "1d":
        strategy_bars = load_assets(spec.assets, spec.strategy.timeframe)
        # The strategy's bars are data the run read too: they enter the hash.
        seen.update({f"{k}@{spec.strategy.timeframe}": v for k, v in strategy_bars.items()})
    digest = data_hash(seen)

    windows: list[WindowResult] = []
    for window in spec.windows():
        if spec.strategy is None:
            windows.append(replay_portfolio(closes, spec.weights, window, config))
        else:
            windows.append(
                replay_strategy(
                    spec.strategy.name,
                    spec.strategy.params,
                    strategy_bars,
                    window,
                    config,
                    warmup=spec.strategy.warmup,
                )
            )
    shocks = [shock_portfolio(closes, spec.weights, s.shock(), config) for s in spec.shocks]
    mcs: dict[str, MonteCarloResult] = {}
    if spec.montecarlo is not None:
        returns = _history_returns(closes, spec)
        mc = spec.montecarlo
        for method in mc.methods:
            mcs[method] = monte_carlo(
                returns,
                spec.weights,
                method=method,
                n_paths=mc.n_paths,
                horizon_days=mc.horizon_days,
                mean_block_length=mc.mean_block_length,
                ruin_level=spec.limits.ruin_level,
                drawdown_limit=spec.limits.max_drawdown,
                seed=mc.seed,
                scheduler=mc.scheduler,
            )
    metrics = _metrics(windows, shocks, mcs)
    breaches = _breaches(spec, windows, shocks, mcs)

    stored = find_run(spec.config_id, digest, engine)
    run_at = stored.run_at if stored is not None else stamp
    folder = Path(out_dir)
    base = f"stress-{spec.name}-{spec.config_id}-{digest[:8]}"
    report = folder / f"{base}.html"
    outcome = StressOutcome(
        spec=spec,
        run_id=stored.run_id if stored is not None else 0,
        run_at=run_at,
        created=False,
        data_hash=digest,
        report=report,
        windows=tuple(windows),
        shocks=tuple(shocks),
        montecarlo=mcs,
        metrics=metrics,
        breaches=breaches,
    )
    if write_report is not None:
        write_report(outcome, report)
    record = {
        "name": spec.name,
        "config_id": spec.config_id,
        "data_hash": digest,
        "run_at": run_at.isoformat(),
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in metrics.items()},
        "breaches": breaches,
    }
    atomic_write_text(folder / f"{base}.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    row = record_run(
        name=spec.name,
        config_id=spec.config_id,
        data_hash=digest,
        run_at=run_at,
        config=spec.model_dump(mode="json"),
        metrics=metrics,
        breaches=breaches,
        report=str(report),
        engine=engine,
    )
    return dataclasses.replace(outcome, run_id=row.run_id, run_at=row.run_at, created=row.created)
