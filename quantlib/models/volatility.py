r"""GARCH-family volatility models (with ``arch``): a frozen spec, an in-sample fit, and
one-step-ahead **out-of-sample** forecasts on a refit schedule.

A :class:`GarchSpec` names the model the way ``arch`` composes it (mean + volatility process +
error distribution). :func:`fit_volatility` estimates it once on a whole series (everything it
returns is **in-sample**). :func:`forecast_volatility` walks forward: the forecast for date
:math:`t+1` uses returns up to :math:`t` only. Parameters are re-estimated every
``refit_every`` periods on an expanding or rolling window and held fixed in between, while the
variance filter keeps absorbing each new return.

Units: returns are fractions (0.01 = 1%). ``arch``'s optimiser is tuned for returns of order
one, so the model is estimated on ``scale × returns`` (``scale=100``: percent returns) and the
parameters are reported on that scale (``omega`` in %²). Every volatility this module returns is
divided back to return units.

:func:`ewma_volatility` is the RiskMetrics baseline and :func:`evaluate_forecasts` scores a
forecast against realised volatility with QLIKE and MSE, side by side with that baseline.
"""

from __future__ import annotations

from quantlib.models.ewma import ewma_volatility
from quantlib.models.forecast_evaluation import ForecastEvaluation, evaluate_forecasts
from quantlib.models.garch_fit import VolatilityFit, fit_volatility
from quantlib.models.garch_forecast import VolatilityForecast, forecast_volatility
from quantlib.models.garch_spec import DEFAULT_FIRST_FIT as DEFAULT_FIRST_FIT
from quantlib.models.garch_spec import MIN_FIT_OBS as MIN_FIT_OBS
from quantlib.models.garch_spec import GarchSpec

__all__ = [
    "ForecastEvaluation",
    "GarchSpec",
    "VolatilityFit",
    "VolatilityForecast",
    "evaluate_forecasts",
    "ewma_volatility",
    "fit_volatility",
    "forecast_volatility",
]
