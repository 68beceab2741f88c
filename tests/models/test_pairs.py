"""Cointegration tests, hedge ratios and half-life (quantlib.models.pairs, .hedge_ratio).

References: statsmodels 0.15 ``coint``, ``coint_johansen``, ``RollingOLS`` and its state-space
Kalman filter (peers); a 3-step Kalman case worked on paper; an Ornstein–Uhlenbeck process with a
known half-life.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.rolling import RollingOLS
from statsmodels.tsa.statespace.mlemodel import MLEModel
from statsmodels.tsa.stattools import coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError, DataWarning
from quantlib.models.pairs import (
    engle_granger,
    half_life,
    johansen,
    kalman_hedge_ratio,
    rolling_hedge_ratio,
)
from quantlib.testing import assert_no_lookahead


def _walks(seed: int, n: int = 600, cointegrated: bool = True) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    x = pd.Series(np.cumsum(rng.normal(size=n)) + 100, index=times, name="x")
    if cointegrated:
        y = 0.7 * x + 3 + rng.normal(scale=2.0, size=n)
    else:
        y = pd.Series(np.cumsum(rng.normal(size=n)) + 100, index=times)
    return y.rename("y"), x


@pytest.fixture(scope="module")
def btc_eth() -> tuple[pd.Series, pd.Series]:
    btc = load_ohlcv("BTCUSDT", "1d")["close"].rename("BTCUSDT")
    eth = load_ohlcv("ETHUSDT", "1d")["close"].rename("ETHUSDT")
    return btc.align(eth, join="inner")


# ---- Engle–Granger ------------------------------------------------------------------------
# Two code paths: our first-step regression is numpy least squares, statsmodels' is OLS via
# pinv; the ADF step and MacKinnon's tables are statsmodels' in both. So agreement to 1e-10 is
# a comparison of two regressions feeding the same unit-root test, not a determinism check.


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cointegrated", [True, False])
def test_engle_granger_pvalue_equals_statsmodels_coint(seed: int, cointegrated: bool) -> None:
    y, x = _walks(seed, cointegrated=cointegrated)
    ours = engle_granger(y, x)
    stat, pvalue, crit = coint(y, x)
    assert ours.pvalue == pytest.approx(pvalue, abs=1e-10, rel=0)
    assert ours.statistic == pytest.approx(stat, abs=1e-10, rel=0)
    np.testing.assert_allclose(list(ours.critical_values.values()), crit, rtol=0, atol=1e-12)


@pytest.mark.parametrize("log", [True, False])
def test_engle_granger_on_bundled_btc_eth_equals_coint_both_ways(btc_eth, log: bool) -> None:
    btc, eth = (np.log(s) for s in btc_eth) if log else btc_eth
    for y, x in ((btc, eth), (eth, btc)):
        ours = engle_granger(y, x)
        stat, pvalue, _ = coint(y, x)
        assert ours.pvalue == pytest.approx(pvalue, abs=1e-10, rel=0)
        assert ours.statistic == pytest.approx(stat, abs=1e-10, rel=0)
        assert ours.n_obs == len(btc) == 2694
    # BTC and ETH daily closes 2017-08 .. 2024-12 do not cointegrate at 10% (log or level).
    assert engle_granger(btc, eth).pvalue > 0.1


def test_engle_granger_without_constant_equals_coint_trend_n() -> None:
    y, x = _walks(4)
    ours = engle_granger(y, x, trend="n")
    stat, pvalue, _ = coint(y, x, trend="n")
    assert ours.pvalue == pytest.approx(pvalue, abs=1e-10, rel=0)
    assert ours.statistic == pytest.approx(stat, abs=1e-10, rel=0)
    assert ours.intercept == 0.0
    assert all(math.isnan(v) for v in ours.critical_values.values())


def test_engle_granger_fixed_lag_equals_coint() -> None:
    y, x = _walks(5)
    ours = engle_granger(y, x, maxlag=3, autolag=None)
    assert ours.n_lags == 3
    assert ours.pvalue == pytest.approx(coint(y, x, maxlag=3, autolag=None)[1], abs=1e-10)


def test_engle_granger_hedge_ratio_and_spread_are_the_ols_fit() -> None:
    y, x = _walks(6)
    ours = engle_granger(y, x)
    design = np.column_stack([x, np.ones(len(x))])
    beta, alpha = np.linalg.solve(design.T @ design, design.T @ y.to_numpy())
    assert ours.hedge_ratio == pytest.approx(beta, rel=1e-10)
    assert ours.intercept == pytest.approx(alpha, rel=1e-10)
    pd.testing.assert_series_equal(
        ours.spread, (y - alpha - beta * x).rename("spread"), check_exact=False, rtol=1e-9
    )
    assert (ours.y_name, ours.x_name) == ("y", "x")
    assert "pvalue" in str(ours.summary())


def test_engle_granger_flags_collinear_series_like_coint() -> None:
    _, x = _walks(7)
    with pytest.warns(DataWarning, match="collinear"):
        ours = engle_granger(2 * x + 1, x)
    assert ours.statistic == -math.inf
    assert ours.pvalue == 0.0


def test_engle_granger_refuses_nan_and_misaligned_input() -> None:
    y, x = _walks(8)
    with pytest.raises(DataError, match=r"NaN.*Fix: align"):
        engle_granger(y.where(y.index != y.index[5]), x)
    with pytest.raises(DataError, match="share one index"):
        engle_granger(y.iloc[1:], x)
    with pytest.raises(ConfigError, match="did you mean 'c'"):
        engle_granger(y, x, trend="cc")


# ---- Johansen -----------------------------------------------------------------------------


def _system(seed: int, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.normal(size=n))
    return pd.DataFrame(
        {
            "a": common + rng.normal(size=n),
            "b": 0.5 * common + rng.normal(size=n),
            "c": np.cumsum(rng.normal(size=n)),
        }
    )


@pytest.mark.parametrize(("det_order", "k_ar_diff"), [(0, 1), (-1, 2), (1, 0)])
def test_johansen_statistics_are_statsmodels(det_order: int, k_ar_diff: int) -> None:
    # Same code path (we call coint_johansen): exact equality is a determinism check. The
    # statistics are also recomputed from the eigenvalues (Johansen 1991's formulas).
    frame = _system(0)
    ours = johansen(frame, det_order, k_ar_diff)
    ref = coint_johansen(frame.to_numpy(), det_order, k_ar_diff)
    np.testing.assert_array_equal(ours.table["trace"], ref.lr1)
    np.testing.assert_array_equal(ours.table["max_eig"], ref.lr2)
    np.testing.assert_array_equal(ours.table[["trace_crit_90", "trace_crit_95"]], ref.cvt[:, :2])
    np.testing.assert_array_equal(ours.table["max_eig_crit_99"], ref.cvm[:, 2])
    t_eff = len(frame) - k_ar_diff - 1
    log1m = np.log1p(-ours.table["eigenvalue"].to_numpy())
    trace = -t_eff * np.cumsum(log1m[::-1])[::-1]
    np.testing.assert_allclose(ours.table["trace"], trace, rtol=1e-10)
    np.testing.assert_allclose(ours.table["max_eig"], -t_eff * log1m, rtol=1e-10)


def test_johansen_finds_the_planted_rank() -> None:
    # a and b share one stochastic trend, c is its own: rank 1.
    result = johansen(_system(1))
    assert (result.rank_trace, result.rank_max_eig) == (1, 1)
    assert list(result.eigenvectors.index) == ["a", "b", "c"]
    rng = np.random.default_rng(2)
    independent = pd.DataFrame(np.cumsum(rng.normal(size=(800, 3)), axis=0), columns=list("xyz"))
    assert johansen(independent).rank_trace == 0
    assert "rank (trace)" in str(result.summary())


def test_johansen_rank_is_the_first_statistic_below_its_critical_value() -> None:
    result = johansen(_system(3), level=0.01)
    table = result.table
    expected = next(
        (r for r in table.index if table.loc[r, "trace"] <= table.loc[r, "trace_crit_99"]),
        len(table),
    )
    assert result.rank_trace == expected


def test_johansen_refuses_untabulated_settings() -> None:
    with pytest.raises(ConfigError, match="det_order"):
        johansen(_system(0), det_order=2)
    with pytest.raises(ConfigError, match="level"):
        johansen(_system(0), level=0.2)
    with pytest.raises(DataError, match="2 to 12 columns"):
        johansen(_system(0)[["a"]])


# ---- rolling OLS hedge ratio --------------------------------------------------------------


def test_rolling_hedge_ratio_equals_statsmodels_rolling_ols() -> None:
    y, x = _walks(9, n=300)
    ours = rolling_hedge_ratio(y, x, 40)
    ref = RollingOLS(y.to_numpy(), np.column_stack([x, np.ones(len(x))]), window=40).fit()
    np.testing.assert_allclose(ours["beta"], ref.params[:, 0], rtol=1e-9, equal_nan=True)
    # alpha crosses zero; RollingOLS updates its cross-products window to window, so the
    # tolerance is absolute, 1e-8 on prices near 100 (1e-10 of the price level).
    np.testing.assert_allclose(ours["alpha"], ref.params[:, 1], atol=1e-8, equal_nan=True)
    np.testing.assert_allclose(ours["resid_std"], np.sqrt(ref.mse_resid), rtol=1e-9)
    assert ours["beta"].iloc[:39].isna().all()
    assert ours["beta"].iloc[39:].notna().all()


def test_rolling_hedge_ratio_uses_data_up_to_t_only() -> None:
    y, x = _walks(10, n=200)
    frame = pd.DataFrame({"y": y, "x": x})

    def hedge(df: pd.DataFrame) -> pd.DataFrame:
        return rolling_hedge_ratio(df["y"], df["x"], 30)

    assert_no_lookahead(hedge, frame, [29, 30, 77, 150, 199])


# ---- Kalman hedge ratio -------------------------------------------------------------------


def test_kalman_hedge_ratio_matches_a_three_step_case_worked_on_paper() -> None:
    # delta = 1/3 -> W = delta / (1 - delta) I = I / 2; r = 1; prior N(0, I); F_t = [x_t, 1].
    # t=1: x=1, y=2. e = 2, Q = 1 + 1 + 1 = 3, K = (1/3, 1/3): theta = (2/3, 2/3),
    #      P = I - K K' Q = [[2/3, -1/3], [-1/3, 2/3]].
    # t=2: P += I/2 = [[7/6, -1/3], [-1/3, 7/6]]; x=2, y=3. yhat = 2, e = 1; P F' = (2, 1/2),
    #      Q = 2*2 + 1/2 + 1 = 11/2, K = (4/11, 1/11): theta = (34/33, 25/33),
    #      P = P - K K' Q = [[29/66, -17/33], [-17/33, 37/33]].
    # t=3: P += I/2 = [[31/33, -17/33], [-17/33, 107/66]]; x=1, y=1. yhat = 59/33,
    #      e = -26/33; P F' = (14/33, 73/66), Q = 167/66, K = (28/167, 73/167):
    #      theta = (34/33 - 28/167 * 26/33, 25/33 - 73/167 * 26/33) = (150/167, 69/167).
    kf = kalman_hedge_ratio(pd.Series([2.0, 3.0, 1.0]), pd.Series([1.0, 2.0, 1.0]), 1 / 3, 1.0)
    np.testing.assert_allclose(kf["beta"], [2 / 3, 34 / 33, 150 / 167], rtol=0, atol=1e-12)
    np.testing.assert_allclose(kf["alpha"], [2 / 3, 25 / 33, 69 / 167], rtol=0, atol=1e-12)
    np.testing.assert_allclose(kf["error"], [2.0, 1.0, -26 / 33], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        kf["error_std"], np.sqrt([3.0, 11 / 2, 167 / 66]), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(("delta", "r", "p0"), [(1e-5, 1e-3, 1.0), (1e-3, 0.5, 10.0)])
def test_kalman_hedge_ratio_equals_statsmodels_state_space_filter(
    delta: float, r: float, p0: float
) -> None:
    # pykalman is not installed; statsmodels' state-space filter is the peer. Its "known"
    # initialisation is the predicted state of the first observation, as ours.
    y, x = _walks(11, n=400)
    n = len(y)
    model = MLEModel(y.to_numpy(), k_states=2, k_posdef=2)
    model["design"] = np.stack([x.to_numpy(), np.ones(n)])[None, :, :]
    model["obs_cov"] = np.array([[r]])
    model["transition"] = np.eye(2)
    model["selection"] = np.eye(2)
    model["state_cov"] = np.eye(2) * delta / (1 - delta)
    model.initialize_known(np.zeros(2), p0 * np.eye(2))
    ref = model.ssm.filter()
    ours = kalman_hedge_ratio(y, x, delta, r, initial_cov=p0)
    np.testing.assert_allclose(ours["beta"], ref.filtered_state[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours["alpha"], ref.filtered_state[1], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours["error"], ref.forecasts_error[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours["error_std"], np.sqrt(ref.forecasts_error_cov[0, 0]), rtol=1e-9)


def test_kalman_hedge_ratio_is_filtered_not_smoothed() -> None:
    y, x = _walks(12, n=150)
    frame = pd.DataFrame({"y": y, "x": x})

    def hedge(df: pd.DataFrame) -> pd.DataFrame:
        return kalman_hedge_ratio(df["y"], df["x"], 1e-4, 1.0)

    assert_no_lookahead(hedge, frame, [0, 1, 60, 149])


def test_kalman_hedge_ratio_tracks_a_constant_ratio() -> None:
    y, x = _walks(13, n=2000)
    assert kalman_hedge_ratio(y, x, 1e-6, 4.0)["beta"].iloc[-1] == pytest.approx(0.7, abs=0.05)


def test_kalman_hedge_ratio_refuses_bad_settings() -> None:
    y, x = _walks(0, n=20)
    with pytest.raises(ConfigError, match="delta"):
        kalman_hedge_ratio(y, x, delta=1.0)
    with pytest.raises(ConfigError, match="r must be"):
        kalman_hedge_ratio(y, x, r=0.0)


# ---- half-life ----------------------------------------------------------------------------


@pytest.mark.parametrize("theta", [0.02, 0.1, 0.3])
def test_half_life_of_a_simulated_ornstein_uhlenbeck_process(theta: float) -> None:
    # Exact discretisation: s_t = mu + e^{-theta} (s_{t-1} - mu) + eps; half-life ln 2 / theta.
    rng = np.random.default_rng(42)
    phi, n = math.exp(-theta), 50_000
    s = np.empty(n)
    s[0] = 5.0
    noise = rng.normal(scale=0.3, size=n)
    for t in range(1, n):
        s[t] = 5.0 + phi * (s[t - 1] - 5.0) + noise[t]
    # Tolerance: three asymptotic standard errors of the AR(1) slope, se = sqrt((1 - phi^2) / n),
    # carried to the half-life (relative error ~ se / (phi * theta)): 13% at theta = 0.02.
    tolerance = 3 * math.sqrt((1 - phi**2) / n) / (phi * theta)
    assert half_life(pd.Series(s)) == pytest.approx(math.log(2) / theta, rel=tolerance)


def test_half_life_edge_cases() -> None:
    assert half_life(pd.Series(0.5 ** np.arange(12.0))) == pytest.approx(1.0, rel=1e-12)
    assert half_life(pd.Series(1.01 ** np.arange(50.0))) == math.inf
    with pytest.raises(DataError, match="no half-life"):
        half_life(pd.Series((-0.5) ** np.arange(20.0)))
    with pytest.raises(DataError, match="at least 10"):
        half_life(pd.Series([1.0, 2.0, 1.0]))


def test_no_warnings_from_statsmodels_leak() -> None:
    y, x = _walks(14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engle_granger(y, x)
        johansen(pd.DataFrame({"y": y, "x": x}))
