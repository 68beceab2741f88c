"""Risk rules and measures: position sizing and the drawdown/heat limits (used by the backtest
and live engines), VaR and expected shortfall, VaR backtests, correlation and risk
decomposition."""

from __future__ import annotations

from quantlib.risk.contributions import (
    BETS_METHODS,
    BetsMethod,
    RiskDistribution,
    average_correlation,
    concentration,
    diversification_ratio,
    effective_number_of_bets,
    risk_distribution,
)
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
    "BETS_METHODS",
    "VAR_METHODS",
    "BetsMethod",
    "FixedFraction",
    "Kelly",
    "RiskDecomposition",
    "RiskDistribution",
    "RiskPerTrade",
    "ShrunkCovariance",
    "Sizer",
    "SizingPlan",
    "VaRBacktest",
    "VaRMethod",
    "VolTarget",
    "average_correlation",
    "check_levels",
    "christoffersen_test",
    "concentration",
    "day_loss",
    "diversification_ratio",
    "drawdown_from_peak",
    "drawdown_scale",
    "effective_number_of_bets",
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
    "risk_distribution",
    "rolling_correlation",
    "rolling_covariance",
    "rolling_expected_shortfall",
    "rolling_value_at_risk",
    "stop_risk",
    "value_at_risk",
    "var_backtest",
]
