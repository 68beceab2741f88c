"""Risk rules and measures: position sizing (used by the backtest and live engines)."""

from __future__ import annotations

from quantlib.risk.sizing import FixedFraction, RiskPerTrade, Sizer, SizingPlan

__all__ = ["FixedFraction", "RiskPerTrade", "Sizer", "SizingPlan"]
