"""Risk rules and measures: position sizing and the drawdown/heat limits (used by the backtest
and live engines), VaR and expected shortfall, VaR backtests, correlation and risk
decomposition."""

from __future__ import annotations

from quantlib.risk.correlation import (
    RiskDecomposition,
    ShrunkCovariance,
    ewma_correlation,
    ewma_covariance,
    ledoit_wolf_covariance,
    risk_contributions,
    rolling_correlation,
    rolling_covariance,
)
from quantlib.risk.limits import (
    check_levels,
    day_loss,
    drawdown_from_peak,
    drawdown_scale,
    exceeds,
    open_heat,
    reached,
    stop_risk,
)
from quantlib.risk.measures import (
    VAR_METHODS,
    VaRMethod,
    expected_shortfall,
    rolling_expected_shortfall,
    rolling_value_at_risk,
    value_at_risk,
)
from quantlib.risk.sizing import (
    FixedFraction,
    Kelly,
    RiskPerTrade,
    Sizer,
    SizingPlan,
    VolTarget,
    kelly_fraction,
)
from quantlib.risk.var_backtest import VaRBacktest, christoffersen_test, kupiec_test, var_backtest

__all__ = [
    "VAR_METHODS",
    "FixedFraction",
    "Kelly",
    "RiskDecomposition",
    "RiskPerTrade",
    "ShrunkCovariance",
    "Sizer",
    "SizingPlan",
    "VaRBacktest",
    "VaRMethod",
    "VolTarget",
    "check_levels",
    "christoffersen_test",
    "day_loss",
    "drawdown_from_peak",
    "drawdown_scale",
    "ewma_correlation",
    "ewma_covariance",
    "exceeds",
    "expected_shortfall",
    "kelly_fraction",
    "kupiec_test",
    "ledoit_wolf_covariance",
    "open_heat",
    "reached",
    "risk_contributions",
    "rolling_correlation",
    "rolling_covariance",
    "rolling_expected_shortfall",
    "rolling_value_at_risk",
    "stop_risk",
    "value_at_risk",
    "var_backtest",
]
