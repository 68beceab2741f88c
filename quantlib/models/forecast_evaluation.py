"""Scoring of out-of-sample volatility forecasts against realised volatility (QLIKE, MSE),
side by side with the EWMA baseline (:func:`evaluate_forecasts`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError, DataError
from quantlib.models.garch_forecast import VolatilityForecast
from quantlib.models.garch_spec import _VOL_NAMES
from quantlib.results import ResultSummary

__all__ = ["ForecastEvaluation", "evaluate_forecasts"]


@dataclass(frozen=True)
class ForecastEvaluation:
    """Losses of a volatility forecast and of the EWMA baseline on the same dates.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per forecast (the model, then the baseline); columns ``qlike`` and ``mse``
        (means over the dates) and ``n``.
    losses : pandas.DataFrame
        Per-date losses: ``qlike_model``, ``qlike_baseline``, ``mse_model``, ``mse_baseline``.
    dropped : int
        Common dates left out because the realised volatility was zero (QLIKE is undefined).
    """

    table: pd.DataFrame
    losses: pd.DataFrame
    dropped: int

    def to_frame(self) -> pd.DataFrame:
        """The loss table (a copy)."""
        return self.table.copy()

    def summary(self) -> ResultSummary:
        """The evaluation period (heading); ``n_dates``, ``dropped`` and the mean QLIKE and
        MSE of the model and of the baseline (figures: ``qlike_model``, ``qlike_baseline``,
        ``mse_model``, ``mse_baseline``); a note naming the two forecasts. Lower is better."""
        idx = self.losses.index
        means = self.losses.mean()
        model, baseline = (str(label) for label in self.table.index)
        return ResultSummary(
            f"OUT-OF-SAMPLE forecast evaluation on {len(idx)} dates, {idx[0]!s} .. {idx[-1]!s}"
            f" ({self.dropped} zero-realised dates dropped); lower is better",
            {
                "n_dates": len(idx),
                "dropped": int(self.dropped),
                "qlike_model": float(means["qlike_model"]),
                "qlike_baseline": float(means["qlike_baseline"]),
                "mse_model": float(means["mse_model"]),
                "mse_baseline": float(means["mse_baseline"]),
            },
            remarks=(f"model: {model}; baseline: {baseline}",),
        )


def evaluate_forecasts(
    forecast: VolatilityForecast,
    realised: pd.Series,
    *,
    baseline: pd.Series | None = None,
) -> ForecastEvaluation:
    r"""Score out-of-sample volatility forecasts against realised volatility (QLIKE, MSE).

    Parameters
    ----------
    forecast : VolatilityForecast
        From :func:`forecast_volatility`.
    realised : pandas.Series
        Realised volatility per period in return units, not annualised, indexed by the date it
        was realised (e.g. ``returns.abs()`` or a one-bar range estimator from
        :mod:`quantlib.models.realized`).
    baseline : pandas.Series, optional
        Competing volatility forecasts by target date; defaults to the forecast's EWMA column.

    Returns
    -------
    ForecastEvaluation

    Notes
    -----
    On variances, with :math:`x_t = \sigma^2_{real,t} / \hat\sigma^2_t`:

    .. math:: \mathrm{QLIKE} = \frac1n\sum_t \left(x_t - \ln x_t - 1\right), \qquad
              \mathrm{MSE} = \frac1n\sum_t (\sigma^2_{real,t} - \hat\sigma^2_t)^2

    This is Patton's (2011) QLIKE normalised to be zero for a perfect forecast; it ranks
    forecasts like :math:`x_t + \ln\hat\sigma^2_t` and, like MSE, is robust to noise in the
    realised proxy. Both forecasts are scored on the dates where the model, the baseline and a
    positive realised value all exist (dates with zero realised volatility are dropped and
    counted).

    Examples
    --------
    >>> from quantlib.data import load_ohlcv
    >>> from quantlib.models.garch_forecast import forecast_volatility
    >>> returns = load_ohlcv("BTCUSDT", "1d")["close"].pct_change().dropna().iloc[-600:]
    >>> fc = forecast_volatility(returns, window=300, refit_every=100)
    >>> ev = evaluate_forecasts(fc, returns.abs())
    >>> ev.table.index.tolist(), int(ev.table["n"].iloc[0]) + ev.dropped
    (['GARCH', 'EWMA(0.94)'], 300)
    """
    if not isinstance(forecast, VolatilityForecast):
        raise ConfigError(
            f"forecast must be a VolatilityForecast from forecast_volatility(), got "
            f"{type(forecast).__name__}"
        )
    if not isinstance(realised, pd.Series):
        raise DataError(
            f"realised must be a pandas Series of realised volatility, got "
            f"{type(realised).__name__}",
            rule="realised type",
        )
    base = forecast.frame["ewma_volatility"] if baseline is None else baseline
    if not isinstance(base, pd.Series):
        raise DataError(f"baseline must be a pandas Series, got {type(base).__name__}")
    data = pd.concat(
        {
            "model": forecast.frame["volatility"],
            "baseline": base.astype(np.float64),
            "realised": realised.astype(np.float64),
        },
        axis=1,
        join="inner",
    ).dropna()
    if (data["realised"] < 0).any():
        raise DataError("realised volatility has negative values; pass volatilities, not returns")
    positive = data["realised"] > 0
    dropped = int((~positive).sum())
    data = data[positive]
    if data.empty:
        raise DataError(
            "no common dates with a positive realised volatility between the forecast, the "
            "baseline and realised. Fix: index realised by the same dates as forecast.frame",
            rule="no overlap",
        )
    real_var = data["realised"].to_numpy() ** 2
    losses = {}
    for name in ("model", "baseline"):
        fc_var = data[name].to_numpy() ** 2
        ratio = real_var / fc_var
        losses[f"qlike_{name}"] = ratio - np.log(ratio) - 1.0
        losses[f"mse_{name}"] = (real_var - fc_var) ** 2
    frame = pd.DataFrame(losses, index=data.index)
    model_label = _VOL_NAMES[forecast.spec.model]
    base_label = f"EWMA({forecast.ewma_lambda:g})" if baseline is None else "baseline"
    table = pd.DataFrame(
        {
            "qlike": [frame["qlike_model"].mean(), frame["qlike_baseline"].mean()],
            "mse": [frame["mse_model"].mean(), frame["mse_baseline"].mean()],
            "n": [len(frame), len(frame)],
        },
        index=pd.Index([model_label, base_label], name="forecast"),
    )
    return ForecastEvaluation(table=table, losses=frame, dropped=dropped)
