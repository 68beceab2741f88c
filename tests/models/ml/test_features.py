"""Causal ML features and the train-only standardizer (quantlib.models.ml.features).

Hand-worked values come from flat or linear price paths built with ``make_ohlcv`` (a bar opens
at the previous close; high/low extend ``spread`` beyond the body), where every feature has a
closed form; SMC features are checked against the smc room's own event frames.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.ml.features import FEATURES, Standardizer, feature_names, make_features
from quantlib.smc import confluence, structure, trend_state
from quantlib.testing import assert_allclose_ulps, assert_no_lookahead, bars_from_rows, make_ohlcv


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return load_ohlcv("BTCUSDT", "1h", origin="bundled")


@pytest.fixture(scope="module")
def btc_slice(btc: pd.DataFrame) -> pd.DataFrame:
    return btc.iloc[20_000:23_000]


@pytest.fixture(scope="module")
def btc_features(btc_slice: pd.DataFrame) -> pd.DataFrame:
    return make_features(btc_slice)


def test_default_columns_are_the_features_constant_in_order(btc_features: pd.DataFrame) -> None:
    assert tuple(btc_features.columns) == FEATURES
    assert FEATURES[:7] == (
        "ret_1",
        "ret_4",
        "ret_24",
        "rv_cc_24",
        "rv_cc_168",
        "rv_pk_24",
        "rv_pk_168",
    )
    assert len(FEATURES) == 27
    assert set(btc_features.dtypes) == {np.dtype("float64")}


def test_feature_names_follow_horizons_and_windows() -> None:
    names = feature_names((2, 8), (10,))
    assert names[:4] == ("ret_2", "ret_8", "rv_cc_10", "rv_pk_10")
    assert names[4:7] == ("range_atr", "body_atr", "volume_z")


def test_returns_and_close_to_close_volatility_on_alternating_path() -> None:
    # log returns +a, -a, +a, ... : ret_2 is 0 or the sum of two steps, std has a closed form.
    a = 0.02
    closes = 100.0 * np.exp(a * (np.arange(12) % 2))
    features = make_features(make_ohlcv(closes), horizons=(1, 2), vol_windows=(4,))
    ret_1 = features["ret_1"].to_numpy()
    assert np.isnan(ret_1[0])
    np.testing.assert_allclose(ret_1[1:], [a, -a] * 5 + [a], rtol=1e-12)
    np.testing.assert_allclose(features["ret_2"].to_numpy()[2:], 0.0, atol=1e-12)
    # Four steps +a, -a, +a, -a: mean 0, sample variance 4 a^2 / 3.
    rv = features["rv_cc_4"].to_numpy()
    assert np.isnan(rv[:4]).all()
    np.testing.assert_allclose(rv[4:], math.sqrt(4 * a * a / 3), rtol=1e-12)


def test_parkinson_range_and_body_on_flat_bars() -> None:
    # Flat close 100, spread 1%: high 101, low 99, true range 2, ATR(14) = 2.
    features = make_features(make_ohlcv(np.full(40, 100.0)), vol_windows=(5,), horizons=(1,))
    expected_pk = math.log(101 / 99) / math.sqrt(4 * math.log(2))
    pk = features["rv_pk_5"].to_numpy()
    assert np.isnan(pk[:4]).all()
    np.testing.assert_allclose(pk[4:], expected_pk, rtol=1e-12)
    assert np.isnan(features["range_atr"].to_numpy()[:13]).all()
    np.testing.assert_allclose(features["range_atr"].to_numpy()[13:], 1.0, rtol=1e-12)
    np.testing.assert_allclose(features["body_atr"].to_numpy()[13:], 0.0, atol=1e-15)
    # Constant volume: no spread, z-score 0 once the window is full.
    volume_z = features["volume_z"].to_numpy()
    assert np.isnan(volume_z[:4]).all()
    assert (volume_z[4:] == 0.0).all()


def test_previous_day_distances_start_the_bar_after_the_closing_bar() -> None:
    # Day 1 flat at 100 (pdh 101, pdl 99, pdc 100), day 2 climbs 1 per bar; ATR(14) = 2 on day 1.
    closes = np.r_[np.full(24, 100.0), 100.0 + np.arange(1, 5)]
    bars = make_ohlcv(closes)
    features = make_features(bars, horizons=(1,), vol_windows=(5,))
    assert features[["dist_pdh", "dist_pdl", "dist_pdc"]].iloc[:24].isna().all().all()
    # Bar 24: close 101, open 100, high 101 * 1.01 = 102.01, low 99; TR = 3.01.
    atr_24 = (2.0 * 13 + 3.01) / 14
    row = features.iloc[24]
    assert row["dist_pdh"] == pytest.approx((101.0 - 101.0) / atr_24, abs=1e-12)
    assert row["dist_pdl"] == pytest.approx((101.0 - 99.0) / atr_24, rel=1e-12)
    assert row["dist_pdc"] == pytest.approx((101.0 - 100.0) / atr_24, rel=1e-12)


def test_time_features_encode_hour_and_weekday() -> None:
    # 2024-01-01 is a Monday; bar 6 opens at 06:00, bar 30 at 06:00 on Tuesday.
    features = make_features(make_ohlcv(np.full(31, 100.0)), horizons=(1,), vol_windows=(5,))
    assert features["hour_sin"].iloc[6] == pytest.approx(1.0)
    assert features["hour_cos"].iloc[6] == pytest.approx(0.0, abs=1e-12)
    assert features["dow_sin"].iloc[0] == 0.0
    assert features["dow_cos"].iloc[0] == 1.0
    assert features["dow_sin"].iloc[30] == pytest.approx(math.sin(2 * math.pi / 7))


def test_fvg_open_count_and_touch_follow_the_gap_lifecycle() -> None:
    # The fvg docstring's bars: a bullish gap [11, 12] confirmed at bar 2, traded into at bar 3
    # (low 10.5), invalidated at bar 4 (close 10.2 < 11).
    bars = bars_from_rows(
        [
            (10.0, 11.0, 9.5, 10.5),
            (10.5, 13.0, 10.0, 12.5),
            (12.5, 13.5, 12.0, 13.0),
            (12.0, 12.5, 10.5, 11.0),
            (11.0, 12.2, 10.0, 10.2),
        ]
    )
    features = make_features(bars, horizons=(1,), vol_windows=(2,))
    # numpy's log against math.log: two implementations, equal to a few ulps.
    assert_allclose_ulps(features["fvg_bull_open"].to_numpy(), [0.0, 0.0, math.log(2.0), 0.0, 0.0])
    np.testing.assert_array_equal(features["fvg_bull_touch"].to_numpy(), [0, 0, 0, 1, 0])
    assert (features[["fvg_bear_open", "fvg_bear_touch"]].to_numpy() == 0).all()
    # Fewer bars than the swing warm-up: the structure features are all NaN.
    assert features[["smc_trend", "since_bull_break", "conf_bull"]].isna().all().all()


def test_structure_features_match_the_smc_room(
    btc_slice: pd.DataFrame, btc_features: pd.DataFrame
) -> None:
    trend = trend_state(btc_slice)["trend"].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(btc_features["smc_trend"].to_numpy()[10:], trend[10:])
    assert btc_features["smc_trend"].iloc[:10].isna().all()

    breaks = structure(btc_slice)
    index = btc_slice.index
    for side in ("bull", "bear"):
        stamps = set(breaks.loc[breaks["direction"] == side, "confirmed_at"])
        expected, last = [], None
        for i, stamp in enumerate(index):
            if stamp in stamps:
                last = i
            expected.append(math.nan if last is None or i < 10 else math.log1p(i - last))
        # np.log1p (a SIMD kernel on some CPUs) against math.log1p: one ulp apart on some CPUs.
        assert_allclose_ulps(btc_features[f"since_{side}_break"].to_numpy(), expected)

    scores = confluence(btc_slice)
    np.testing.assert_allclose(
        btc_features["conf_bull"].to_numpy()[10:], scores["bull_score"].to_numpy()[10:] / 100
    )
    htf = (scores["bull_htf"] - scores["bear_htf"]).to_numpy()
    np.testing.assert_array_equal(btc_features["conf_htf"].to_numpy()[10:], htf[10:])


def test_features_are_truncation_invariant(btc_slice: pd.DataFrame) -> None:
    assert_no_lookahead(make_features, btc_slice, [0, 5, 10, 11, 60, 300, 1234, 2100, 2999])


def _continue_randomly(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """``bars`` up to row ``t``, then a random walk of valid bars on the same index."""
    rng = np.random.default_rng(seed)
    future = len(bars) - t - 1
    closes = bars["close"].iloc[t] * np.exp(np.cumsum(rng.normal(0, 0.02, future)))
    opens = np.r_[bars["close"].iloc[t], closes[:-1]]
    wick = rng.uniform(0, 0.03, (2, future))
    tail = pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, closes) * (1 + wick[0]),
            "low": np.minimum(opens, closes) * (1 - wick[1]),
            "close": closes,
            "volume": rng.uniform(0, 1e4, future),
        },
        index=bars.index[t + 1 :],
    )
    return pd.concat([bars.iloc[: t + 1], tail])


def _permute_future(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """``bars`` with the rows after ``t`` shuffled (each bar kept whole, the index kept)."""
    rng = np.random.default_rng(seed)
    values = bars.to_numpy().copy()
    values[t + 1 :] = values[t + 1 :][rng.permutation(len(bars) - t - 1)]
    return pd.DataFrame(values, index=bars.index, columns=bars.columns)


@pytest.mark.parametrize("t", [30, 400, 1500, 2500])
def test_changing_the_future_leaves_features_at_t_unchanged(
    btc_slice: pd.DataFrame, btc_features: pd.DataFrame, t: int
) -> None:
    for changed in (_continue_randomly(btc_slice, t, seed=t), _permute_future(btc_slice, t, t)):
        assert not changed.iloc[t + 1 :].equals(btc_slice.iloc[t + 1 :])
        features = make_features(changed)
        pd.testing.assert_frame_equal(
            features.iloc[: t + 1], btc_features.iloc[: t + 1], check_exact=True
        )
        # The future really moved the features after t (the test can fail).
        assert not features.iloc[t + 1 :].equals(btc_features.iloc[t + 1 :])


def test_full_bundled_series_is_fast(btc: pd.DataFrame) -> None:
    make_features(btc.iloc[:2000])  # compile the numba kernels outside the timing
    start = time.perf_counter()
    features = make_features(btc)
    elapsed = time.perf_counter() - start
    assert len(features) == len(btc) == 64_524
    assert elapsed < 5.0, f"make_features took {elapsed:.2f} s on {len(btc)} bars"
    # After the longest warm-up (168 bars and the first days) every feature exists.
    assert not features.iloc[200:].isna().any().any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizons": ()}, "horizons is empty"),
        ({"horizons": (1, 1)}, r"horizons has duplicates \[1, 1\]"),
        ({"horizons": 4}, "horizons must be a sequence of integers"),
        ({"vol_windows": (1,)}, r"vol_windows item must be >= 2, got 1"),
        ({"atr_period": 0}, "atr_period must be >= 1"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_features(make_ohlcv(np.full(30, 100.0)), **kwargs)  # type: ignore[arg-type]


# --- Standardizer -----------------------------------------------------------------------


def test_standardizer_uses_only_the_rows_it_was_fitted_on() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0], "b": [0.0, 2.0, 0.0, 2.0, -50.0]})
    train = frame.iloc[:4]
    scaler = Standardizer.fit(train)
    assert scaler.mean == (2.5, 1.0)
    assert scaler.std == (math.sqrt(1.25), 1.0)
    changed = frame.copy()
    changed.iloc[4] = [1e9, -1e9]  # a different test row
    assert Standardizer.fit(changed.iloc[:4]) == scaler
    out = scaler.transform(changed)
    assert out["a"].iloc[4] == pytest.approx((1e9 - 2.5) / math.sqrt(1.25))
    assert out["b"].tolist()[:4] == [-1.0, 1.0, -1.0, 1.0]


def test_standardizer_on_features_ignores_warm_up_nan(btc_features: pd.DataFrame) -> None:
    train = btc_features.iloc[:2000]
    scaler = Standardizer.fit(train)
    scaled = scaler.transform(train)
    np.testing.assert_allclose(scaled.mean().to_numpy(), 0.0, atol=1e-9)
    # Population std (ddof 0) of each non-constant column becomes 1.
    np.testing.assert_allclose(scaled.std(ddof=0).to_numpy(), 1.0, rtol=1e-9)
    assert scaled["ret_24"].iloc[:24].isna().all()


def test_standardizer_constant_column_gets_unit_std_and_round_trips() -> None:
    scaler = Standardizer.fit(pd.DataFrame({"flat": [3.0, 3.0], "x": [0.0, 4.0]}))
    assert scaler.std == (1.0, 2.0)
    assert scaler.transform(pd.DataFrame({"x": [4.0], "flat": [5.0]})).columns.tolist() == [
        "flat",
        "x",
    ]
    restored = Standardizer.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler


def test_standardizer_errors_name_the_column_and_fix() -> None:
    with pytest.raises(DataError, match=r"column\(s\) \['b'\] have no finite value in the 2"):
        Standardizer.fit(pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.inf]}))
    scaler = Standardizer.fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match=r"lacks fitted column\(s\) \['a'\]"):
        scaler.transform(pd.DataFrame({"b": [1.0]}))
    with pytest.raises(ConfigError, match=r"state lacks \['std'\]"):
        Standardizer.from_dict({"columns": ["a"], "mean": [0.0]})
    with pytest.raises(ConfigError, match=r"std must be > 0, not for column\(s\) \['a'\]"):
        Standardizer(columns=("a",), mean=(0.0,), std=(0.0,))
