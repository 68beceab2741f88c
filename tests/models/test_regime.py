"""Regime models: recovery of simulated two-state regimes, agreement with statsmodels'
filtered probabilities and hmmlearn's likelihood, the forward filter against a hand
computation, ordering by variance, causality (truncation and shuffled futures), the
regime-conditional performance convention, and the errors bad inputs raise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.regime import (
    RegimeSpec,
    filtered_regime_probabilities,
    fit_regimes,
    regime_performance,
)
from quantlib.models.regime_hmm import RawFit, forward_filter, stationary_distribution
from quantlib.testing import assert_no_lookahead

METHODS = ["markov", "hmm"]


def daily(values: np.ndarray | list[float], start: str = "2018-01-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="D", tz="UTC", name="timestamp")
    return pd.Series(np.asarray(values, dtype=float), index=index)


def two_state(n: int = 2000, stay: float = 0.98, seed: int = 0) -> tuple[pd.Series, np.ndarray]:
    """Returns with vol 1% (state 0) or 4% (state 1), states a chain with P(stay) = ``stay``."""
    rng = np.random.default_rng(seed)
    states = np.zeros(n, dtype=np.int64)
    for t in range(1, n):
        states[t] = states[t - 1] if rng.random() < stay else 1 - states[t - 1]
    returns = rng.normal(0.0, np.where(states == 1, 0.04, 0.01))
    return daily(returns), states


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.Series, np.ndarray]:
    return two_state()


@pytest.fixture(scope="module")
def btc_returns() -> pd.Series:
    close = load_ohlcv("BTCUSDT", "1d")["close"]
    return close.pct_change().dropna()


# --- recovery and ordering ---------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_two_state_regimes_are_recovered_by_the_filter(
    simulated: tuple[pd.Series, np.ndarray], method: str
) -> None:
    returns, states = simulated
    fit = fit_regimes(returns, RegimeSpec(method=method))
    high = fit.filtered["prob_1"].to_numpy()
    # ~90% of the high-vol periods get a filtered high-vol probability above 0.5 (the
    # misses are the first days after a switch, before the filter has seen enough).
    assert np.mean(high[states == 1] > 0.5) >= 0.88
    assert np.mean(high[states == 0] < 0.5) >= 0.95
    np.testing.assert_allclose(np.sqrt(fit.variances), [0.01, 0.04], rtol=0.05)
    np.testing.assert_allclose(np.diag(fit.transition), [0.98, 0.98], atol=0.025)
    assert fit.converged


@pytest.mark.parametrize("method", METHODS)
def test_regime_zero_has_the_lowest_variance_even_when_it_comes_second(method: str) -> None:
    # Start in the calm state and in the wild one: the estimator's own numbering follows
    # whichever it met first, ours follows the variance.
    for seed in (3, 4):
        returns, _ = two_state(n=600, seed=seed)
        fit = fit_regimes(returns[::-1].set_axis(returns.index), RegimeSpec(method=method))
        assert fit.variances[0] < fit.variances[1]
        assert fit.to_frame()["volatility"].is_monotonic_increasing


def test_three_regimes_on_bitcoin_are_ordered_and_march_2020_is_the_wildest(
    btc_returns: pd.Series,
) -> None:
    fit = fit_regimes(btc_returns, RegimeSpec(method="hmm", k_regimes=3))
    assert np.all(np.diff(fit.variances) > 0)
    np.testing.assert_allclose(fit.filtered.filter(like="prob_").sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(fit.transition.sum(axis=1), 1.0, atol=1e-12)
    assert fit.filtered.loc["2020-03-12", "regime"] == 2  # BTC fell 39% that day


def test_raw_fit_ordering_permutes_transition_rows_and_columns_together() -> None:
    raw = RawFit(
        means=np.array([0.5, -0.1]),
        variances=np.array([4.0, 1.0]),
        transition=np.array([[0.7, 0.3], [0.1, 0.9]]),
        start=np.array([0.2, 0.8]),
        smoothed=np.array([[0.6, 0.4]]),
        converged=True,
    ).ordered()
    np.testing.assert_array_equal(raw.variances, [1.0, 4.0])
    np.testing.assert_array_equal(raw.means, [-0.1, 0.5])
    # The calm state (old 1) stays with 0.9, the wild one (old 0) with 0.7.
    np.testing.assert_array_equal(raw.transition, [[0.9, 0.1], [0.3, 0.7]])
    np.testing.assert_array_equal(raw.start, [0.8, 0.2])
    np.testing.assert_array_equal(raw.smoothed, [[0.4, 0.6]])


# --- the forward filter against hand computation and peer libraries ----------------------------


def test_forward_filter_matches_a_hand_computation_on_three_points() -> None:
    start = np.array([0.6, 0.4])
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    mu, var = np.array([0.0, 1.0]), np.array([1.0, 4.0])
    x = [0.5, 2.0, -1.0]

    def dens(value: float) -> np.ndarray:
        return np.array([norm.pdf(value, 0.0, 1.0), norm.pdf(value, 1.0, 2.0)])

    a1 = start * dens(0.5)
    f1 = a1 / a1.sum()
    pred2 = np.array([f1[0] * 0.9 + f1[1] * 0.2, f1[0] * 0.1 + f1[1] * 0.8])
    a2 = pred2 * dens(2.0)
    f2 = a2 / a2.sum()
    pred3 = np.array([f2[0] * 0.9 + f2[1] * 0.2, f2[0] * 0.1 + f2[1] * 0.8])
    a3 = pred3 * dens(-1.0)
    f3 = a3 / a3.sum()

    out = forward_filter(daily(x), start=start, transition=p, means=mu, variances=var)

    # First step worked by hand: 0.6 * 0.352065 / (0.6 * 0.352065 + 0.4 * 0.193334).
    assert out.iloc[0, 0] == pytest.approx(0.732013, abs=1e-6)
    np.testing.assert_allclose(out.to_numpy(), [f1, f2, f3], rtol=1e-13)
    loglik = math.log(a1.sum()) + math.log(a2.sum()) + math.log(a3.sum())
    assert out.attrs["loglik"] == pytest.approx(loglik, rel=1e-13)


def test_forward_filter_survives_an_outlier_that_underflows_every_density() -> None:
    out = forward_filter(
        daily([0.0, 1e3, 0.0]),
        start=np.array([0.5, 0.5]),
        transition=np.array([[0.9, 0.1], [0.1, 0.9]]),
        means=np.zeros(2),
        variances=np.array([1.0, 4.0]),
    )
    assert np.isfinite(out.to_numpy()).all()
    assert out.iloc[1, 1] == pytest.approx(1.0)


def test_markov_filtered_probabilities_equal_statsmodels(
    simulated: tuple[pd.Series, np.ndarray],
) -> None:
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    returns, _ = simulated
    x = returns.to_numpy()
    scale = float(np.std(x))
    res = MarkovRegression(x / scale, k_regimes=2, switching_variance=True).fit(
        cov_type="none", maxiter=200
    )
    order = np.argsort(np.asarray(res.params)[4:6])  # sigma2[0], sigma2[1]

    fit = fit_regimes(returns, RegimeSpec(method="markov"))

    np.testing.assert_allclose(
        fit.filtered[["prob_0", "prob_1"]].to_numpy(),
        res.filtered_marginal_probabilities[:, order],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        fit.smoothed_research_only().to_numpy(),
        res.smoothed_marginal_probabilities[:, order],
        atol=1e-12,
    )
    # statsmodels' likelihood is of the scaled data: the Jacobian is -n log(scale).
    assert fit.loglik == pytest.approx(res.llf - len(x) * math.log(scale), rel=1e-10)


def test_hmm_filter_likelihood_equals_hmmlearn_score(
    simulated: tuple[pd.Series, np.ndarray],
) -> None:
    from hmmlearn.hmm import GaussianHMM

    returns, _ = simulated
    fit = fit_regimes(returns, RegimeSpec(method="hmm"))
    model = GaussianHMM(n_components=2, covariance_type="diag")
    model.startprob_ = fit.start
    model.transmat_ = fit.transition
    model.means_ = fit.means.reshape(-1, 1)
    model.covars_ = fit.variances.reshape(-1, 1)
    x = returns.to_numpy().reshape(-1, 1)

    assert fit.loglik == pytest.approx(model.score(x), rel=1e-10)
    # hmmlearn's posteriors are the smoothed ones (forward-backward).
    np.testing.assert_allclose(
        model.predict_proba(x), fit.smoothed_research_only().to_numpy(), atol=1e-6
    )


def test_stationary_distribution_solves_pi_p_equals_pi() -> None:
    p = np.array([[0.98, 0.02], [0.05, 0.95]])
    np.testing.assert_allclose(stationary_distribution(p), [5 / 7, 2 / 7], rtol=1e-12)


# --- causality ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_filtered_differs_from_smoothed_and_ignores_a_shuffled_future(
    simulated: tuple[pd.Series, np.ndarray], method: str
) -> None:
    returns, _ = simulated
    fit = fit_regimes(returns, RegimeSpec(method=method))
    smoothed = fit.smoothed_research_only()
    assert (fit.filtered["prob_1"] - smoothed["prob_1"]).abs().max() > 0.5

    t = 1000
    rng = np.random.default_rng(9)
    shuffled = returns.copy()
    shuffled.iloc[t:] = rng.permutation(returns.to_numpy()[t:])
    # Same parameters, different future: filtered values before t are untouched ...
    pd.testing.assert_frame_equal(
        fit.filter(shuffled).iloc[:t], fit.filtered.iloc[:t], check_exact=True
    )
    # ... while the smoothed ones (of a fit on the shuffled data) move.
    moved = fit_regimes(shuffled, RegimeSpec(method=method)).smoothed_research_only()
    assert (moved["prob_1"].iloc[:t] - smoothed["prob_1"].iloc[:t]).abs().max() > 1e-3


@pytest.mark.parametrize("method", METHODS)
def test_hmm_filter_on_a_prefix_equals_the_full_filter_up_to_its_end(
    simulated: tuple[pd.Series, np.ndarray], method: str
) -> None:
    returns, _ = simulated
    fit = fit_regimes(returns.iloc[:800], RegimeSpec(method=method))
    full = fit.filter(returns)
    for t in (1, 250, 799, 1500):
        pd.testing.assert_frame_equal(fit.filter(returns.iloc[:t]), full.iloc[:t], check_exact=True)


@pytest.mark.parametrize(
    ("method", "window"), [("markov", None), ("hmm", None), ("hmm", 250), ("markov", 250)]
)
def test_walk_forward_probabilities_are_truncation_invariant(
    method: str, window: int | None
) -> None:
    returns, _ = two_state(n=700, seed=1)
    spec = RegimeSpec(method=method, min_obs=250, refit_every=150, window=window)
    # Cut points: before the first fit, at it, between refits, on a refit date.
    assert_no_lookahead(
        filtered_regime_probabilities, returns, [100, 249, 320, 399, 600], spec=spec
    )


def test_walk_forward_ignores_a_shuffled_future_and_refits_on_schedule() -> None:
    returns, states = two_state(n=700, seed=2)
    spec = RegimeSpec(method="hmm", min_obs=300, refit_every=200)
    out = filtered_regime_probabilities(returns, spec)
    t = 450
    shuffled = returns.copy()
    shuffled.iloc[t + 1 :] = np.random.default_rng(0).permutation(returns.to_numpy()[t + 1 :])
    again = filtered_regime_probabilities(shuffled, spec)

    pd.testing.assert_frame_equal(again.iloc[: t + 1], out.iloc[: t + 1], check_exact=True)
    assert out["regime"].iloc[:299].isna().all()
    assert out["fitted_at"].iloc[:299].isna().all()
    fits = out["fitted_at"].dropna().unique()
    assert list(fits) == [returns.index[299], returns.index[499], returns.index[699]]
    assert (out["fitted_at"].dropna() <= out.index[299:]).all()
    assert out.attrs["config_id"] == spec.config_id
    labels = out["regime"].iloc[299:].to_numpy(dtype=np.int64)
    assert np.mean(labels == states[299:]) > 0.85


# --- regime-conditional performance ------------------------------------------------------------


def test_performance_uses_the_label_known_at_the_previous_close() -> None:
    labels = pd.DataFrame({"regime": pd.array([pd.NA, 0, 1, 1, 0], dtype="Int64")})
    labels.index = daily([0.0] * 5).index
    strat = daily([0.05, 0.01, 0.02, -0.03, -0.01])

    out = regime_performance(strat, labels)

    # r_2 (0.01) follows the unknown label of day 1; r_3 (0.02) follows regime 0; r_4, r_5
    # follow regime 1. With same-day labels regime 1 would hold 0.02 and -0.03 instead.
    assert out.attrs["unlabelled"] == 2
    assert out.loc[0, "count"] == 1
    assert out.loc[0, "mean"] == pytest.approx(0.02)
    assert out.loc[1, "count"] == 2
    assert out.loc[1, "mean"] == pytest.approx(-0.02)
    assert out.loc[1, "hit_rate"] == 0.0
    assert out.loc[1, "volatility"] == pytest.approx(
        np.std([-0.03, -0.01], ddof=1) * math.sqrt(365)
    )
    assert out.loc[1, "sharpe"] == pytest.approx(
        -0.02 / np.std([-0.03, -0.01], ddof=1) * math.sqrt(365)
    )
    assert math.isnan(out.loc[0, "sharpe"])  # one period: undefined
    assert out["share"].sum() == pytest.approx(1.0)


def test_performance_of_an_equity_curve_matches_its_returns(
    simulated: tuple[pd.Series, np.ndarray],
) -> None:
    returns, _ = simulated
    probs = filtered_regime_probabilities(
        returns.iloc[:900], RegimeSpec(method="hmm", min_obs=300, refit_every=300)
    )
    strat = returns.iloc[:900] * 0.5
    equity = pd.concat(
        [
            pd.Series([100.0], index=[returns.index[0] - pd.Timedelta("1D")]),
            100 * (1 + strat).cumprod(),
        ]
    )

    by_returns = regime_performance(strat, probs)
    by_equity = regime_performance(equity, probs, kind="equity")

    pd.testing.assert_frame_equal(by_returns, by_equity, rtol=1e-9)
    assert by_returns["count"].sum() == 900 - 300
    # The wild regime is wild for the strategy too.
    assert by_returns.loc[1, "volatility"] > 2 * by_returns.loc[0, "volatility"]


def test_performance_accepts_probability_columns_without_labels() -> None:
    idx = daily([0.0] * 3).index
    probs = pd.DataFrame({"prob_0": [0.9, 0.2, 0.5], "prob_1": [0.1, 0.8, 0.5]}, index=idx)
    out = regime_performance(daily([0.01, 0.02, -0.04]), probs)
    assert out["count"].tolist() == [1, 1]
    assert out.loc[0, "mean"] == pytest.approx(0.02)
    assert out.loc[1, "mean"] == pytest.approx(-0.04)


# --- spec and errors ---------------------------------------------------------------------------


def test_config_id_is_stable_and_changes_with_any_setting() -> None:
    assert RegimeSpec().config_id == RegimeSpec(method="markov", k_regimes=2).config_id
    assert RegimeSpec().config_id != RegimeSpec(refit_every=31).config_id
    assert len(RegimeSpec().config_id) == 12
    with pytest.raises(Exception, match="frozen"):
        RegimeSpec().k_regimes = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"k_regimes": 5}, r"RegimeSpec.k_regimes must be one of \[2, 3\], got 5"),
        ({"method": "hmn"}, r"must be one of \['markov', 'hmm'\], got 'hmn'; did you mean 'hmm'\?"),
        ({"refit_evry": 5}, r"'refit_evry' is unknown; did you mean 'refit_every'\?"),
        ({"min_obs": 15, "k_regimes": 2}, r"min_obs must be at least 10 \* k_regimes = 20, got 15"),
        ({"window": 100, "min_obs": 200}, r"window \(100\) must be >= min_obs \(200\)"),
        ({"refit_every": 0}, r"RegimeSpec.refit_every: Input should be greater than or equal to 1"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_fix(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        RegimeSpec(**settings)


def test_nan_returns_raise_data_error_naming_the_first_bad_date() -> None:
    returns, _ = two_state(n=300)
    returns.iloc[42] = np.nan
    with pytest.raises(DataError, match=r"1 NaN .* first at 2018-02-12.*dropna"):
        fit_regimes(returns, RegimeSpec(min_obs=100))


def test_too_few_observations_raise_data_error_in_a_fit_but_not_in_the_walk_forward() -> None:
    returns, _ = two_state(n=120)
    with pytest.raises(
        DataError, match=r"has 120 observations; fit_regimes needs at least min_obs=250"
    ):
        fit_regimes(returns)
    # The walk-forward has simply not fitted yet: every row is unknown.
    early = filtered_regime_probabilities(returns)
    assert early["prob_0"].isna().all()
    assert early["regime"].isna().all()


def test_flat_returns_and_untimed_returns_raise_data_error() -> None:
    with pytest.raises(DataError, match="do not vary"):
        fit_regimes(daily([0.0] * 100), RegimeSpec(min_obs=50))
    with pytest.raises(DataError, match="DatetimeIndex"):
        fit_regimes(pd.Series(np.zeros(100)), RegimeSpec(min_obs=50))


def test_bad_performance_arguments_raise() -> None:
    strat = daily([0.01, 0.02])
    with pytest.raises(ConfigError, match=r"got 'equty'; did you mean 'equity'\?"):
        regime_performance(strat, pd.DataFrame({"regime": [0, 1]}, index=strat.index), kind="equty")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="neither a 'regime' column nor 'prob_"):
        regime_performance(strat, pd.DataFrame({"x": [0, 1]}, index=strat.index))


def test_rolling_window_longer_than_min_obs_starts_at_the_first_bar() -> None:
    # Regression: the first fits used a negative start (an empty slice) when window > min_obs.
    rng = np.random.default_rng(3)
    index = pd.date_range("2020-01-01", periods=400, freq="D", tz="UTC")
    returns = pd.Series(rng.normal(0.0, 0.02, 400), index=index)
    spec = RegimeSpec(method="hmm", window=300, min_obs=100, refit_every=100)
    probabilities = filtered_regime_probabilities(returns, spec)
    assert probabilities["regime"].notna().sum() == 400 - 99
