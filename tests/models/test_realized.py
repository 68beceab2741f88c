"""Realised-volatility estimators on OHLC bars (quantlib.models.realized).

Hand-computed values use ``math.log`` bar by bar and ``statistics.variance`` (divisor n−1),
written out from the formulas in the papers cited by each estimator.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.realized import (
    ESTIMATORS,
    close_to_close,
    garman_klass,
    parkinson,
    realized_volatility,
    rogers_satchell,
    yang_zhang,
    yang_zhang_k,
)
from quantlib.testing import bars_from_rows, make_ohlcv

# (open, high, low, close); every bar gaps away from the previous close.
ROWS = [(100, 105, 98, 102), (103, 108, 101, 107), (106, 107, 99, 100), (101, 104, 97, 103)]
BARS = bars_from_rows(ROWS, timeframe="1d")
LN = math.log


def rs_term(o: float, h: float, lo: float, c: float) -> float:
    return LN(h / c) * LN(h / o) + LN(lo / c) * LN(lo / o)


def test_close_to_close_by_hand() -> None:
    r = [LN(107 / 102), LN(100 / 107), LN(103 / 100)]

    vol = close_to_close(BARS, window=3)

    assert vol.iloc[:3].isna().all()
    assert vol.iloc[3] == pytest.approx(math.sqrt(statistics.variance(r)), rel=1e-12)
    zero_mean = close_to_close(BARS, window=3, demean=False)
    assert zero_mean.iloc[3] == pytest.approx(math.sqrt(sum(x * x for x in r) / 3), rel=1e-12)


def test_parkinson_by_hand() -> None:
    ranges = [LN(105 / 98), LN(108 / 101), LN(107 / 99), LN(104 / 97)]

    vol = parkinson(BARS, window=3)

    assert vol.iloc[:2].isna().all()
    for t in (2, 3):
        window = ranges[t - 2 : t + 1]
        expected = math.sqrt(sum(x * x for x in window) / (4 * LN(2) * 3))
        assert vol.iloc[t] == pytest.approx(expected, rel=1e-12)


def test_garman_klass_by_hand() -> None:
    terms = [0.5 * LN(h / lo) ** 2 - (2 * LN(2) - 1) * LN(c / o) ** 2 for o, h, lo, c in ROWS]

    vol = garman_klass(BARS, window=2)

    assert math.isnan(vol.iloc[0])
    for t in (1, 2, 3):
        expected = math.sqrt((terms[t - 1] + terms[t]) / 2)
        assert vol.iloc[t] == pytest.approx(expected, rel=1e-12)


def test_rogers_satchell_by_hand() -> None:
    terms = [rs_term(*row) for row in ROWS]

    vol = rogers_satchell(BARS, window=4)

    assert vol.iloc[:3].isna().all()
    assert vol.iloc[3] == pytest.approx(math.sqrt(sum(terms) / 4), rel=1e-12)


def test_yang_zhang_by_hand_with_opening_gaps() -> None:
    overnight = [LN(103 / 102), LN(106 / 107), LN(101 / 100)]
    open_close = [LN(107 / 103), LN(100 / 106), LN(103 / 101)]
    rs = sum(rs_term(*row) for row in ROWS[1:]) / 3
    k = 0.34 / (1.34 + 4 / 2)

    vol = yang_zhang(BARS, window=3)

    expected = statistics.variance(overnight) + k * statistics.variance(open_close) + (1 - k) * rs
    assert vol.iloc[:3].isna().all()
    assert vol.iloc[3] == pytest.approx(math.sqrt(expected), rel=1e-12)


def test_yang_zhang_k_constant() -> None:
    assert yang_zhang_k(2) == pytest.approx(0.34 / 4.34, rel=1e-15)
    assert yang_zhang_k(20) == pytest.approx(0.34 / (1.34 + 21 / 19), rel=1e-15)
    assert yang_zhang_k(10**9) == pytest.approx(0.34 / 2.34)  # the paper's large-n limit
    with pytest.raises(ConfigError, match="window must be >= 2, got 1"):
        yang_zhang_k(1)


def test_yang_zhang_without_gaps_is_k_open_close_plus_rest_rogers_satchell() -> None:
    bars = make_ohlcv([100.0, 103.0, 99.0, 104.0, 101.0], timeframe="1d")  # opens at last close
    k = yang_zhang_k(3)

    yz = yang_zhang(bars, window=3) ** 2
    oc = pd.Series(np.log(bars["close"] / bars["open"]), index=bars.index).rolling(3).var()
    rs = rogers_satchell(bars, window=3) ** 2

    np.testing.assert_allclose(yz.iloc[3:], (k * oc + (1 - k) * rs).iloc[3:], rtol=1e-12)


@pytest.mark.parametrize("method", list(ESTIMATORS))
def test_annualisation_multiplies_by_root_periods(method: str) -> None:
    per_bar = realized_volatility(BARS, method, 3)
    annual = realized_volatility(BARS, method, 3, periods_per_year=365)
    np.testing.assert_allclose(annual, per_bar * math.sqrt(365), rtol=1e-12)
    assert annual.name == method
    assert annual.index.equals(BARS.index)


@pytest.mark.parametrize("method", list(ESTIMATORS))
def test_estimators_are_truncation_invariant(method: str) -> None:
    bars = load_ohlcv("BTCUSDT", "1d").iloc[-200:]
    full = realized_volatility(bars, method, 30)
    part = realized_volatility(bars.iloc[:120], method, 30)
    pd.testing.assert_series_equal(part, full.iloc[:120])


def test_estimators_recover_the_volatility_of_simulated_diffusion_bars() -> None:
    # 2000 bars of a 500-step random walk (2% per bar) with 0.5% opening gaps: the range
    # estimators see the intrabar 2% (a little less: the path is sampled discretely), while
    # close-to-close and Yang–Zhang see the total sqrt(2%² + 0.5%²).
    rng = np.random.default_rng(7)
    bars_n, steps, sigma, gap = 2000, 500, 0.02, 0.005
    moves = rng.normal(0.0, sigma / math.sqrt(steps), (bars_n, steps))
    gaps = rng.normal(0.0, gap, bars_n)
    close_log = math.log(100.0) + np.cumsum(moves.sum(axis=1) + gaps)
    open_log = np.r_[math.log(100.0), close_log[:-1]] + gaps
    paths = open_log[:, None] + np.cumsum(moves, axis=1)
    o, c = np.exp(open_log), np.exp(paths[:, -1])
    h, lo = np.maximum(np.exp(paths.max(axis=1)), o), np.minimum(np.exp(paths.min(axis=1)), o)
    bars = bars_from_rows(np.c_[o, h, lo, c], timeframe="1d")

    last = {m: float(f(bars, bars_n - 1).iloc[-1]) for m, f in ESTIMATORS.items()}

    total = math.hypot(sigma, gap)
    assert last["close_to_close"] == pytest.approx(total, rel=0.05)
    assert last["yang_zhang"] == pytest.approx(total, rel=0.05)
    for method in ("parkinson", "garman_klass", "rogers_satchell"):
        assert last[method] == pytest.approx(sigma, rel=0.06), method
        assert last[method] < sigma  # discrete sampling of the extremes biases them down


def test_unknown_method_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="got 'garman_klas'; did you mean 'garman_klass'"):
        realized_volatility(BARS, "garman_klas")


def test_bad_windows_and_too_few_bars_are_refused() -> None:
    with pytest.raises(ConfigError, match="window must be >= 2, got 1"):
        close_to_close(BARS, window=1)
    with pytest.raises(ConfigError, match="window must be an integer, got 2.5"):
        parkinson(BARS, window=2.5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs at least 5 bars, got 4"):
        yang_zhang(BARS, window=4)
    with pytest.raises(ConfigError, match="periods_per_year must be >= 1"):
        parkinson(BARS, window=2, periods_per_year=0)


def test_bars_breaking_the_data_contract_are_refused() -> None:
    broken = BARS.copy()
    broken.loc[broken.index[1], "high"] = 100.0  # below the close of 107
    with pytest.raises(DataError, match="high"):
        garman_klass(broken, window=2)
