"""GARCH-family fits and out-of-sample forecasts (quantlib.models.volatility)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.univariate import Normal

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.volatility import (
    GarchSpec,
    VolatilityForecast,
    evaluate_forecasts,
    ewma_volatility,
    fit_volatility,
    forecast_volatility,
)

DAYS = pd.date_range("2015-01-01", periods=3000, freq="D", tz="UTC", name="timestamp")


def simulate(params: list[float], *, o: int = 0, nobs: int = 3000, seed: int = 1) -> pd.Series:
    """Fractional returns from arch's own simulator; ``params`` are in percent units."""
    model = arch_model(None, mean="Constant", vol="GARCH", p=1, o=o, q=1)
    model.distribution = Normal(seed=seed)
    data = model.simulate(params, nobs)["data"].to_numpy() / 100.0
    return pd.Series(data, index=DAYS[:nobs], name="returns")


@pytest.fixture(scope="module")
def btc_returns() -> pd.Series:
    return load_ohlcv("BTCUSDT", "1d")["close"].pct_change().dropna().iloc[-700:]


@pytest.fixture(scope="module")
def btc_forecast(btc_returns: pd.Series) -> VolatilityForecast:
    return forecast_volatility(btc_returns, refit_every=50, start=300)


# --- spec -------------------------------------------------------------------------------------


def test_spec_config_id_is_stable_and_changes_with_any_setting() -> None:
    assert GarchSpec().config_id == GarchSpec(model="garch", p=1, q=1).config_id
    assert len(GarchSpec().config_id) == 12
    assert GarchSpec(dist="t").config_id != GarchSpec().config_id
    assert GarchSpec(scale=1.0).config_id != GarchSpec().config_id


def test_spec_asymmetric_order_defaults_to_one_for_gjr_and_egarch() -> None:
    assert GarchSpec().o == 0
    assert GarchSpec(model="gjr").o == 1
    assert GarchSpec(model="egarch").o == 1
    assert GarchSpec(model="egarch", o=0).o == 0


def test_spec_maps_to_arch_arguments() -> None:
    args = GarchSpec(model="gjr", dist="skewt", mean="zero").arch_arguments()
    assert args == {
        "mean": "Zero",
        "vol": "GARCH",
        "p": 1,
        "o": 1,
        "q": 1,
        "dist": "skewt",
        "rescale": False,
    }
    assert GarchSpec(model="egarch").arch_arguments()["vol"] == "EGARCH"


def test_spec_unknown_model_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"GarchSpec.model .* got 'garhc'; did you mean 'garch'"):
        GarchSpec(model="garhc")


def test_spec_unknown_setting_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="'dists' is unknown; did you mean 'dist'"):
        GarchSpec(dists="t")


def test_spec_refuses_asymmetric_terms_on_plain_garch_and_gjr_without_them() -> None:
    with pytest.raises(ConfigError, match="o=1 asymmetric terms need model='gjr'"):
        GarchSpec(o=1)
    with pytest.raises(ConfigError, match="model='gjr' needs o >= 1"):
        GarchSpec(model="gjr", o=0)
    with pytest.raises(ConfigError, match=r"GarchSpec.p=0"):
        GarchSpec(p=0)


def test_spec_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        GarchSpec().p = 2  # type: ignore[misc]


# --- in-sample fit ----------------------------------------------------------------------------


def test_garch11_parameters_recovered_from_simulated_data() -> None:
    true = {"mu": 0.05, "omega": 0.05, "alpha[1]": 0.10, "beta[1]": 0.85}
    returns = simulate(list(true.values()))

    fit = fit_volatility(returns)

    assert fit.converged
    tolerance = {"mu": 0.05, "omega": 0.03, "alpha[1]": 0.03, "beta[1]": 0.04}
    for name, value in true.items():
        assert fit.params[name] == pytest.approx(value, abs=tolerance[name]), name
        assert abs(fit.params[name] - value) < 3 * fit.std_errors[name], name


def test_gjr_leverage_gamma_recovered_from_simulated_data() -> None:
    true = {"mu": 0.05, "omega": 0.05, "alpha[1]": 0.05, "gamma[1]": 0.10, "beta[1]": 0.85}
    returns = simulate(list(true.values()), o=1)

    fit = fit_volatility(returns, GarchSpec(model="gjr"))

    assert fit.params["gamma[1]"] == pytest.approx(0.10, abs=0.05)
    assert abs(fit.params["gamma[1]"] - 0.10) < 3 * fit.std_errors["gamma[1]"]
    assert fit.params["beta[1]"] == pytest.approx(0.85, abs=0.04)


def test_fit_matches_arch_on_percent_returns_and_reports_volatility_in_return_units(
    btc_returns: pd.Series,
) -> None:
    spec = GarchSpec(dist="t")
    fit = fit_volatility(btc_returns, spec)
    direct = arch_model(btc_returns * 100, dist="t", rescale=False).fit(disp="off")

    np.testing.assert_allclose(fit.params.to_numpy(), direct.params.to_numpy(), rtol=1e-10)
    assert fit.loglik == pytest.approx(direct.loglikelihood)
    assert fit.bic == pytest.approx(direct.bic)
    np.testing.assert_allclose(
        fit.conditional_volatility.to_numpy(), direct.conditional_volatility / 100, rtol=1e-10
    )
    assert fit.conditional_volatility.name == "in_sample_conditional_volatility"
    assert fit.nobs == len(btc_returns)


def test_fit_summary_says_in_sample_and_names_the_model(btc_returns: pd.Series) -> None:
    fit = fit_volatility(btc_returns, GarchSpec(model="egarch"))
    text = str(fit.summary())
    assert "IN-SAMPLE fit on 700 returns" in text
    assert "EGARCH(p=1, o=1, q=1)" in text
    assert list(fit.to_frame().columns) == ["estimate", "std_error", "t_stat"]


def test_nan_returns_are_refused_with_the_first_position() -> None:
    returns = simulate([0.0, 0.05, 0.1, 0.85], nobs=300)
    returns.iloc[7] = np.nan
    with pytest.raises(DataError, match=r"1 NaN/inf value\(s\), the first at .* \(position 7\)"):
        fit_volatility(returns)


def test_too_few_returns_are_refused() -> None:
    with pytest.raises(DataError, match="needs at least 100 returns, got 50"):
        fit_volatility(simulate([0.0, 0.05, 0.1, 0.85], nobs=50))


def test_percent_returns_are_refused_with_the_fix() -> None:
    with pytest.raises(DataError, match="looks like percent returns"):
        fit_volatility(simulate([0.0, 0.05, 0.1, 0.85], nobs=300) * 100)


def test_non_series_and_non_spec_inputs_are_refused() -> None:
    returns = simulate([0.0, 0.05, 0.1, 0.85], nobs=300)
    with pytest.raises(DataError, match="must be a pandas Series"):
        fit_volatility(returns.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="spec must be a GarchSpec, got 'gjr'"):
        fit_volatility(returns, "gjr")  # type: ignore[arg-type]


# --- out-of-sample forecasts ------------------------------------------------------------------


def test_forecast_is_indexed_by_target_and_uses_only_earlier_returns(
    btc_returns: pd.Series, btc_forecast: VolatilityForecast
) -> None:
    frame = btc_forecast.frame
    assert frame.index[0] == btc_returns.index[300]
    assert len(frame) == 400
    assert (frame["origin"] == btc_returns.index[299:699]).all()
    assert (frame["fitted_at"] <= frame["origin"]).all()
    assert btc_forecast.next_origin == btc_returns.index[-1]
    np.testing.assert_allclose(frame["volatility"] ** 2, frame["variance"])


def test_forecast_does_not_change_when_the_future_is_shuffled(
    btc_returns: pd.Series, btc_forecast: VolatilityForecast
) -> None:
    t = 420  # mid refit block: forecasts for targets <= t use returns < t
    future = btc_returns.iloc[t:].to_numpy().copy()
    np.random.default_rng(0).shuffle(future)
    changed = btc_returns.copy()
    changed.iloc[t:] = future

    other = forecast_volatility(changed, refit_every=50, start=300)

    upto = btc_returns.index[t]
    np.testing.assert_allclose(
        other.volatility.loc[:upto], btc_forecast.volatility.loc[:upto], rtol=1e-12
    )
    assert not np.allclose(other.volatility.iloc[-50:], btc_forecast.volatility.iloc[-50:])


def test_forecast_is_truncation_invariant(
    btc_returns: pd.Series, btc_forecast: VolatilityForecast
) -> None:
    t = 537  # neither a refit date nor the end of a block

    truncated = forecast_volatility(btc_returns.iloc[:t], refit_every=50, start=300)

    full = btc_forecast.frame
    pd.testing.assert_frame_equal(truncated.frame, full.iloc[: t - 300], rtol=1e-12)
    # the "next period" forecast of the truncated run is the full run's forecast for date t
    assert truncated.next_volatility == pytest.approx(full["volatility"].iloc[t - 300], rel=1e-12)
    pd.testing.assert_frame_equal(truncated.params, btc_forecast.params.iloc[:5])


@pytest.mark.parametrize(
    "spec", [GarchSpec(model="gjr", dist="t"), GarchSpec(model="egarch", dist="t")]
)
def test_asymmetric_model_forecasts_are_truncation_invariant(
    btc_returns: pd.Series, spec: GarchSpec
) -> None:
    returns = btc_returns.iloc[:450]
    full = forecast_volatility(returns, spec, refit_every=100, start=200)
    truncated = forecast_volatility(returns.iloc[:333], spec, refit_every=100, start=200)

    pd.testing.assert_frame_equal(truncated.frame, full.frame.iloc[:133], rtol=1e-12)
    assert truncated.next_volatility == pytest.approx(full.volatility.iloc[133], rel=1e-12)
    assert (full.volatility > 0).all()
    assert full.params["converged"].all()


def test_refit_schedule_holds_parameters_between_refits_and_filters_new_data(
    btc_returns: pd.Series, btc_forecast: VolatilityForecast
) -> None:
    frame, params = btc_forecast.frame, btc_forecast.params
    refit_dates = btc_returns.index[299:699:50]
    assert list(params.index) == list(refit_dates)
    for number, refit_date in enumerate(refit_dates):
        rows = frame.iloc[number * 50 : (number + 1) * 50]
        assert (rows["fitted_at"] == refit_date).all()
    assert params["nobs"].tolist() == list(range(300, 700, 50))  # expanding window
    assert (params[["omega", "alpha[1]", "beta[1]"]].diff().iloc[1:] != 0).all().all()

    # inside a block the forecast follows the GARCH(1,1) recursion with the block's parameters
    block = frame.iloc[100:150]
    mu, omega, alpha, beta = params.iloc[2][["mu", "omega", "alpha[1]", "beta[1]"]]
    eps = 100 * btc_returns.loc[block["origin"]].to_numpy() - mu
    sigma2 = 100**2 * block["variance"].to_numpy()
    expected = omega + alpha * eps[1:] ** 2 + beta * sigma2[:-1]
    np.testing.assert_allclose(sigma2[1:], expected, rtol=1e-10)


def test_rolling_window_fits_on_window_returns(btc_returns: pd.Series) -> None:
    fc = forecast_volatility(
        btc_returns.iloc[:500], GarchSpec(model="gjr", dist="t"), window=250, refit_every=100
    )
    assert fc.frame.index[0] == btc_returns.index[250]
    assert fc.params["nobs"].tolist() == [250, 250, 250]
    assert "OUT-OF-SAMPLE one-step forecasts" in str(fc.summary())
    assert "rolling 250-period" in str(fc.summary())


def test_refit_every_one_refits_before_each_forecast(btc_returns: pd.Series) -> None:
    fc = forecast_volatility(btc_returns.iloc[:110], start=105, refit_every=1)
    assert len(fc.params) == 5
    assert (fc.frame["fitted_at"] == fc.frame["origin"]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 50}, "window must be >= 100 returns"),
        ({"window": 2.5}, "window must be an integer or None, got 2.5"),
        ({"refit_every": 0}, "refit_every must be >= 1, got 0"),
        ({"start": 20}, r"start must leave at least 100 returns .* position 20"),
        ({"start": "2040-01-01"}, r"position 700 is outside \[100, 699\]"),
        ({"window": 300, "start": 200}, "start must leave at least 300 returns"),
    ],
)
def test_bad_forecast_settings_are_refused(
    btc_returns: pd.Series, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        forecast_volatility(btc_returns, **kwargs)  # type: ignore[arg-type]


# --- EWMA baseline ----------------------------------------------------------------------------


def test_ewma_recursion_by_hand() -> None:
    returns = pd.Series([0.01, -0.02, 0.03, 0.0, 0.05])

    vol = ewma_volatility(returns, lam=0.9, warmup=2)

    seed = (0.01**2 + 0.02**2) / 2  # 2.5e-4, the forecast for position 2
    v3 = 0.9 * seed + 0.1 * 0.03**2  # 3.15e-4
    v4 = 0.9 * v3 + 0.1 * 0.0**2  # 2.835e-4
    assert vol.iloc[:2].isna().all()
    np.testing.assert_allclose(vol.iloc[2:] ** 2, [seed, v3, v4], rtol=1e-14)


def test_ewma_is_causal_and_defaults_to_riskmetrics() -> None:
    returns = simulate([0.0, 0.05, 0.1, 0.85], nobs=300)
    changed = returns.copy()
    changed.iloc[-1] = 0.5  # the last return informs only the period after the data

    pd.testing.assert_series_equal(ewma_volatility(returns), ewma_volatility(changed))
    base = ewma_volatility(returns)
    r = returns.to_numpy()
    assert base.iloc[100] ** 2 == pytest.approx(0.94 * base.iloc[99] ** 2 + 0.06 * r[99] ** 2)


def test_ewma_bad_lambda_is_refused() -> None:
    with pytest.raises(ConfigError, match="lam must lie strictly between 0 and 1"):
        ewma_volatility(pd.Series([0.01] * 30), lam=1.0)


# --- evaluation -------------------------------------------------------------------------------


def two_point_forecast() -> VolatilityForecast:
    index = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    frame = pd.DataFrame({"volatility": [0.01, 0.02], "ewma_volatility": [0.04, 0.02]}, index=index)
    return VolatilityForecast(
        spec=GarchSpec(),
        frame=frame,
        params=pd.DataFrame(),
        next_volatility=0.02,
        next_origin=index[-1],
        window=None,
        refit_every=1,
        ewma_lambda=0.94,
    )


def test_qlike_and_mse_by_hand_on_two_points() -> None:
    forecast = two_point_forecast()
    realised = pd.Series([0.02, 0.02], index=forecast.frame.index)

    table = evaluate_forecasts(forecast, realised).table

    # model: x = 4e-4/1e-4 = 4 and 1 -> (4 - ln 4 - 1 + 0) / 2
    assert table.loc["GARCH", "qlike"] == pytest.approx((3 - math.log(4)) / 2, rel=1e-12)
    assert table.loc["GARCH", "mse"] == pytest.approx((3e-4**2 + 0) / 2, rel=1e-12)
    # baseline: x = 4e-4/16e-4 = 0.25 and 1 -> (0.25 + ln 4 - 1) / 2
    assert table.loc["EWMA(0.94)", "qlike"] == pytest.approx((math.log(4) - 0.75) / 2, rel=1e-12)
    assert table.loc["EWMA(0.94)", "mse"] == pytest.approx(12e-4**2 / 2, rel=1e-12)
    assert table["n"].tolist() == [2, 2]


def test_evaluation_drops_zero_realised_dates_and_counts_them() -> None:
    forecast = two_point_forecast()
    realised = pd.Series([0.0, 0.02], index=forecast.frame.index)

    result = evaluate_forecasts(forecast, realised)

    assert result.dropped == 1
    assert result.table.loc["GARCH", "qlike"] == pytest.approx(0.0)
    assert "1 zero-realised dates dropped" in str(result.summary())


def test_evaluation_without_common_dates_is_refused() -> None:
    realised = pd.Series([0.02], index=pd.DatetimeIndex(["2030-01-01"], tz="UTC"))
    with pytest.raises(DataError, match="no common dates"):
        evaluate_forecasts(two_point_forecast(), realised)


def test_evaluation_on_real_data_scores_both_forecasts_on_the_same_dates(
    btc_returns: pd.Series, btc_forecast: VolatilityForecast
) -> None:
    result = evaluate_forecasts(btc_forecast, btc_returns.abs())

    assert list(result.table.index) == ["GARCH", "EWMA(0.94)"]
    assert result.table["n"].iloc[0] + result.dropped == 400
    assert result.losses.index.isin(btc_forecast.frame.index).all()
    assert (result.losses[["qlike_model", "qlike_baseline"]] >= 0).all().all()
    assert "OUT-OF-SAMPLE forecast evaluation" in str(result.summary())
