"""Models of market state: GARCH-family volatility forecasts (``arch``), realised-volatility
estimators from OHLC bars, and regime models (Markov switching and a Gaussian HMM, filtered
probabilities only for trading).

Everything used for trading is causal: volatility forecasts are one step ahead and out of
sample (:func:`forecast_volatility`); in-sample fits are labelled as such.
"""

from __future__ import annotations

from quantlib.models.realized import (
    close_to_close,
    garman_klass,
    parkinson,
    realized_volatility,
    rogers_satchell,
    yang_zhang,
)
from quantlib.models.regime import (
    RegimeFit,
    RegimeSpec,
    filtered_regime_probabilities,
    fit_regimes,
    regime_performance,
)
from quantlib.models.volatility import (
    ForecastEvaluation,
    GarchSpec,
    VolatilityFit,
    VolatilityForecast,
    evaluate_forecasts,
    ewma_volatility,
    fit_volatility,
    forecast_volatility,
)

__all__ = [
    "ForecastEvaluation",
    "GarchSpec",
    "RegimeFit",
    "RegimeSpec",
    "VolatilityFit",
    "VolatilityForecast",
    "close_to_close",
    "evaluate_forecasts",
    "ewma_volatility",
    "filtered_regime_probabilities",
    "fit_regimes",
    "fit_volatility",
    "forecast_volatility",
    "garman_klass",
    "parkinson",
    "realized_volatility",
    "regime_performance",
    "rogers_satchell",
    "yang_zhang",
]
