"""Pair screening (quantlib.research.pairs): one planted cointegrated pair among independent
random walks, multiple-testing control over every pair tried, and every pair in the registry."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import coint

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.pairs import PAIR_COLUMNS, screen_pairs
from quantlib.research.trials import load_trials, trial_count, trials_sharpe_variance

ASSETS = ["A", "B", "C", "D", "E", "F", "G", "H"]


def _universe(seed: int, n: int = 600, planted: bool = True) -> pd.DataFrame:
    """Eight independent log random walks; with ``planted``, H = G times a stationary AR(1)
    deviation (a cointegrated pair with a half-life of about 7 bars)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    logs = np.cumsum(rng.normal(0.0, 0.03, (n, len(ASSETS))), axis=0)
    if planted:
        dev = np.zeros(n)
        for t in range(1, n):
            dev[t] = 0.9 * dev[t - 1] + rng.normal(0.0, 0.02)
        logs[:, 7] = 0.3 + 1.2 * logs[:, 6] + dev
    return pd.DataFrame(100 * np.exp(logs), index=times, columns=ASSETS)


def _bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values by hand: p_(k) m / k, running minimum from the
    largest, capped at 1."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    scaled = pvalues[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out


def _holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm adjusted p-values by hand: (m - k + 1) p_(k), running maximum, capped at 1."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    scaled = pvalues[order] * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted
    return out


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return _universe(0)


@pytest.fixture(scope="module")
def screen(planted):
    return screen_pairs(planted)


def test_screen_selects_only_the_planted_pair(screen) -> None:
    assert screen.n_tested == 28  # 8 choose 2
    assert list(screen.table.columns) == list(PAIR_COLUMNS)
    chosen = screen.selected()
    assert chosen[["asset_a", "asset_b"]].to_numpy().tolist() == [["G", "H"]]
    row = chosen.iloc[0]
    assert row["johansen_rank"] >= 1  # Johansen also rejects "no cointegration"
    expected_beta = 1.2 if row["y"] == "H" else 1 / 1.2
    assert row["hedge_ratio"] == pytest.approx(expected_beta, rel=0.05)
    # AR(1) coefficient 0.9: half-life ln 2 / -ln 0.9 = 6.6 bars.
    assert row["half_life"] == pytest.approx(np.log(2) / -np.log(0.9), rel=0.35)
    assert "pairs selected" in str(screen.summary())


def test_pair_pvalue_is_bonferroni_over_both_engle_granger_directions(planted, screen) -> None:
    table = screen.table
    np.testing.assert_allclose(
        table["pvalue"], np.minimum(1.0, 2 * table[["p_ab", "p_ba"]].min(axis=1)), rtol=0
    )
    logs = np.log(planted)
    row = table.set_index(["asset_a", "asset_b"]).loc[("C", "F")]
    assert row["p_ab"] == pytest.approx(coint(logs["C"], logs["F"])[1], abs=1e-10)
    assert row["p_ba"] == pytest.approx(coint(logs["F"], logs["C"])[1], abs=1e-10)


def test_benjamini_hochberg_over_every_pair_tried(screen) -> None:
    p = screen.table["pvalue"].to_numpy()
    np.testing.assert_allclose(screen.table["p_adjusted"], _bh(p), rtol=1e-12)
    reject = multipletests(p, 0.05, method="fdr_bh")[0]
    np.testing.assert_array_equal(screen.table["significant"], reject)


def test_holm_over_every_pair_tried(planted) -> None:
    holm = screen_pairs(planted, correction="holm", alpha=0.01)
    p = holm.table["pvalue"].to_numpy()
    np.testing.assert_allclose(holm.table["p_adjusted"], _holm(p), rtol=1e-12)
    np.testing.assert_array_equal(holm.table["significant"], _holm(p) <= 0.01)


@pytest.mark.slow
def test_independent_walks_rarely_pass_the_screen() -> None:
    # Under the null (no pair cointegrates) BH at 5% keeps the chance of any selection near 5%;
    # uncorrected, a 5% test over 28 pairs selects something most of the time.
    found, raw = 0, 0
    for seed in range(10, 16):
        result = screen_pairs(_universe(seed, n=300, planted=False))
        found += int(result.table["significant"].any())
        raw += int((result.table["pvalue"] <= 0.05).any())
    assert found <= 1
    assert raw > found


def test_every_pair_tried_is_a_trial_in_the_registry(planted) -> None:
    engine = make_engine("sqlite://")
    result = screen_pairs(planted, record_to="screen-1", engine=engine)
    assert trial_count("pairs", engine=engine) == result.n_tested == 28
    stats = trials_sharpe_variance("pairs", engine=engine)
    assert (stats.n_trials, stats.n_finite) == (28, 0)
    stored = load_trials("pairs", run_id="screen-1", engine=engine)
    pairs = {tuple(a.split(",")) for a in stored["assets"]}
    assert pairs == set(itertools.combinations(ASSETS, 2))
    assert stored["in_sample"].all()
    assert (stored["fold"] == "screen").all()
    assert stored["sharpe"].isna().all()
    assert (stored["n_obs"] == 600).all()
    assert (stored["timeframe"] == "1d").all()
    assert stored["recorded_at"].iloc[0] == planted.index[-1]
    # Recording the same run again adds nothing; a second screen adds its own trials.
    screen_pairs(planted, record_to="screen-1", engine=engine)
    assert trial_count("pairs", engine=engine) == 28
    screen_pairs(planted, train=("2020-01-01", "2020-12-31"), record_to="screen-2", engine=engine)
    assert trial_count("pairs", engine=engine) == 56


def test_only_the_training_period_is_used(planted) -> None:
    train = ("2020-01-01", "2020-12-31")
    result = screen_pairs(planted, train=train)
    assert result.period == (
        pd.Timestamp("2020-01-01", tz="UTC"),
        pd.Timestamp("2020-12-31", tz="UTC"),
    )
    changed = planted.copy()
    changed.loc["2021-01-01":] = changed.loc["2021-01-01":].to_numpy()[::-1]
    pd.testing.assert_frame_equal(screen_pairs(changed, train=train).table, result.table)
    sliced = screen_pairs(planted, train=slice("2020-01-01", "2020-12-31"))
    pd.testing.assert_frame_equal(sliced.table, result.table)


def test_pairs_without_enough_common_bars_are_skipped_not_tried(planted) -> None:
    late = planted.copy()
    late.loc[: late.index[549], "A"] = np.nan  # A lists 50 bars before the end
    result = screen_pairs(late, min_obs=100)
    assert result.n_tested == 21
    assert len(result.skipped) == 7
    assert set(result.skipped["asset_a"]) == {"A"}
    assert (result.skipped["n_obs"] == 50).all()


def test_bad_arguments_name_the_fix(planted) -> None:
    with pytest.raises(ConfigError, match="did you mean 'bh'"):
        screen_pairs(planted, correction="bhh")
    with pytest.raises(ConfigError, match="train must be"):
        screen_pairs(planted, train="2020")
    with pytest.raises(ConfigError, match="record_to"):
        screen_pairs(planted, record_to="")
    with pytest.raises(DataError, match="one column of close prices"):
        screen_pairs(planted["A"])
    with pytest.raises(DataError, match="negative"):
        screen_pairs(planted - 200)
    with pytest.raises(DataError, match="no pair"):
        screen_pairs(planted.iloc[:50])
