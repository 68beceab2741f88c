"""Risk rules and measures: position sizing (used by the backtest and live engines), VaR and
expected shortfall, VaR backtests, correlation and risk decomposition."""

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
    "christoffersen_test",
    "ewma_correlation",
    "ewma_covariance",
    "expected_shortfall",
    "kelly_fraction",
    "kupiec_test",
    "ledoit_wolf_covariance",
    "risk_contributions",
    "rolling_correlation",
    "rolling_covariance",
    "rolling_expected_shortfall",
    "rolling_value_at_risk",
    "value_at_risk",
    "var_backtest",
]
