"""Stress tests: historical windows and hypothetical shocks replayed on a portfolio or a
strategy, Monte Carlo paths (block bootstrap, GARCH), one-shot runs with a history, schedules,
perpetual-futures scenarios (funding shocks, basis blow-outs) on a perpetual position, and the
liquidation risk of a leveraged perpetual under Monte Carlo mark-price paths.

Heavy modules (Dask, SQLModel, APScheduler, plotly) load only when their names are first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DEFAULT_WINDOWS": "quantlib.stress.scenarios",
    "Shock": "quantlib.stress.scenarios",
    "Window": "quantlib.stress.scenarios",
    "estimate_betas": "quantlib.stress.scenarios",
    "replay_portfolio": "quantlib.stress.scenarios",
    "replay_strategy": "quantlib.stress.scenarios",
    "shock_portfolio": "quantlib.stress.scenarios",
    "MonteCarloResult": "quantlib.stress.montecarlo",
    "monte_carlo": "quantlib.stress.montecarlo",
    "stationary_bootstrap_indices": "quantlib.stress.montecarlo",
    "StressSpec": "quantlib.stress.config",
    "load_spec": "quantlib.stress.config",
    "StressRun": "quantlib.stress.history",
    "stress_history": "quantlib.stress.history",
    "StressOutcome": "quantlib.stress.run",
    "run_stress": "quantlib.stress.run",
    "schedule_stress": "quantlib.stress.schedule",
    "DEFAULT_PERP_SCENARIOS": "quantlib.stress.perpetual",
    "BasisBlowout": "quantlib.stress.perpetual",
    "FundingShock": "quantlib.stress.perpetual",
    "PerpPosition": "quantlib.stress.perpetual",
    "PerpScenarioResult": "quantlib.stress.perpetual",
    "perp_scenario_pnl": "quantlib.stress.perpetual",
    "perp_scenarios": "quantlib.stress.perpetual",
    "MarkPaths": "quantlib.stress.mark_paths",
    "bootstrap_mark_paths": "quantlib.stress.mark_paths",
    "mark_history": "quantlib.stress.mark_paths",
    "LEVERAGES": "quantlib.stress.liquidation",
    "LeveragedPosition": "quantlib.stress.liquidation",
    "LiquidationRisk": "quantlib.stress.liquidation",
    "liquidation_risk": "quantlib.stress.liquidation",
    "liquidation_table": "quantlib.stress.liquidation",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantlib.stress' has no attribute {name!r}")
