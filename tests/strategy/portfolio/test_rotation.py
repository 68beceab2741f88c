"""Rotation strategies: hand-worked rankings on small price sets (who is held on which date)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio import (
    MomentumRotation,
    RelativeStrength,
    SectorMomentum,
    check_weights,
)
from quantlib.testing import make_ohlcv

# Trailing 2-day returns (close[t] / close[t-2] - 1), worked by hand:
#   t=2: A +20.0%  B  0.0%  C  0.0%
#   t=3: A  0.0%   B +5.0%  C -4.76%
#   t=4: A -16.7%  B +10.0% C +15.0%
#   t=5: A -18.2%  B +14.3% C +10.0%
CLOSES = {
    "A": [100.0, 110.0, 120.0, 110.0, 100.0, 90.0],
    "B": [100.0, 100.0, 100.0, 105.0, 110.0, 120.0],
    "C": [100.0, 105.0, 100.0, 100.0, 115.0, 110.0],
}


def _bars(closes: dict[str, list[float]], start: str = "2024-01-01T00:00Z") -> dict:
    return {name: make_ohlcv(c, start=start, timeframe="1d") for name, c in closes.items()}


def _held(weights: pd.DataFrame) -> list[str]:
    """The assets with a positive weight on each decision row, as a joined string."""
    rows = weights.dropna(how="all")
    return ["".join(str(c) for c in rows.columns[row > 0]) for row in rows.to_numpy()]


def test_the_top_two_by_trailing_return_are_held_in_equal_parts() -> None:
    weights = MomentumRotation(lookback=2, top_k=2, every="bar").weights(_bars(CLOSES))
    check_weights(weights)
    # Rows 0-1 have no 2-day history: cash. Ties (B and C at t=2) go to the earlier column.
    assert _held(weights) == ["", "", "AB", "AB", "BC", "BC"]
    assert weights.iloc[4].tolist() == [0.0, 0.5, 0.5]


def test_the_top_one_rotates_through_the_leaders() -> None:
    weights = MomentumRotation(lookback=2, top_k=1, every="bar").weights(_bars(CLOSES))
    assert _held(weights)[2:] == ["A", "B", "C", "B"]
    assert weights.iloc[2:].sum(axis=1).tolist() == [1.0] * 4


def test_absolute_momentum_leaves_slots_with_no_gain_in_cash() -> None:
    weights = MomentumRotation(lookback=2, top_k=2, absolute=True, every="bar").weights(
        _bars(CLOSES)
    )
    # t=2: B's 0% is not a gain; t=3: A's 0% is not either.
    assert _held(weights)[2:] == ["A", "B", "BC", "BC"]
    assert weights.iloc[2].tolist() == [0.5, 0.0, 0.0]


def test_risk_adjusted_momentum_prefers_the_steady_riser() -> None:
    # At t=4 C gained more (+15%) but in one jump (returns 0 and +15%): score 0.15 / (0.1061 *
    # sqrt 2) = 1.0; B's +5%, +4.76% give 0.10 / (0.0017 * sqrt 2) = 41.7. Raw momentum holds C.
    strategy = MomentumRotation(lookback=2, top_k=1, score="risk_adjusted", every="bar")
    scores = strategy.scores(_bars(CLOSES))
    returns_c = np.array([0.0, 0.15])
    expected_c = 0.15 / (returns_c.std(ddof=1) * np.sqrt(2))
    assert scores["C"].iloc[4] == pytest.approx(expected_c, rel=1e-12)
    assert scores["C"].iloc[4] == pytest.approx(1.0, rel=1e-12)
    assert _held(strategy.weights(_bars(CLOSES)))[4] == "B"


def test_risk_adjusted_needs_two_returns() -> None:
    with pytest.raises(ConfigError, match="needs lookback >= 2"):
        MomentumRotation(lookback=1, score="risk_adjusted").weights(_bars(CLOSES))


def test_weekly_rotation_decides_at_the_first_bar_and_sunday_closes_only() -> None:
    rng = np.random.default_rng(3)
    closes = {s: list(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 15)))) for s in "XYZ"}
    weights = MomentumRotation(lookback=3, top_k=1).weights(_bars(closes))  # Mon 1 .. Mon 15
    decided = weights.dropna(how="all").index
    assert [d.day for d in decided] == [1, 7, 14]
    for day in decided[1:]:
        trailing = {s: closes[s][day.day - 1] / closes[s][day.day - 4] - 1 for s in closes}
        assert weights.loc[day].idxmax() == max(trailing, key=lambda s: trailing[s])


def test_a_newly_listed_asset_waits_for_its_lookback() -> None:
    bars = _bars({"OLD": [100.0, 101.0, 102.0, 103.0, 104.0]})
    bars["NEW"] = make_ohlcv([10.0, 20.0, 40.0], start="2024-01-03T00:00Z", timeframe="1d")
    weights = MomentumRotation(lookback=2, top_k=1, every="bar").weights(bars)
    # NEW lists on day 3 (row 2); its first 2-day return exists at row 4.
    assert _held(weights) == ["", "", "OLD", "OLD", "NEW"]


# Relative strength against BTC over 1 day, worked by hand (growth ratios):
#   t=1: BTC 1.10, A 1.20 (RS +9.1%), B 1.05 (-4.5%)     -> A
#   t=2: BTC 0.90, A 0.95 (+5.6%),    B 0.95 (+5.6%)     -> A and B
#   t=3: BTC 1.20, A 1.00 (-16.7%),   B 1.05 (-12.5%)    -> nothing (cash, or BTC as fallback)
RS_CLOSES = {
    "BTC": [100.0, 110.0, 99.0, 118.8],
    "A": [100.0, 120.0, 114.0, 114.0],
    "B": [100.0, 105.0, 99.75, 104.7375],
}


def test_relative_strength_against_btc_holds_who_beat_it() -> None:
    strategy = RelativeStrength(benchmark="BTC", lookback=1, every="bar")
    weights = strategy.weights(_bars(RS_CLOSES))
    check_weights(weights)
    assert _held(weights) == ["", "A", "AB", ""]
    assert weights.iloc[2].tolist() == [0.0, 0.5, 0.5]
    strength = strategy.strength(_bars(RS_CLOSES))
    assert strength["A"].iloc[1] == pytest.approx(1.2 / 1.1 - 1, rel=1e-12)
    assert strength["BTC"].isna().all()


def test_relative_strength_falls_back_to_the_benchmark() -> None:
    weights = RelativeStrength(
        benchmark="BTC", lookback=1, fallback="benchmark", every="bar"
    ).weights(_bars(RS_CLOSES))
    assert _held(weights) == ["", "A", "AB", "BTC"]


def test_relative_strength_top_k_keeps_empty_slots_in_cash() -> None:
    weights = RelativeStrength(benchmark="BTC", lookback=1, top_k=2, every="bar").weights(
        _bars(RS_CLOSES)
    )
    assert weights.iloc[1].tolist() == [0.0, 0.5, 0.0]


def test_relative_strength_against_the_equal_weight_basket() -> None:
    # Basket growth at t=1: (1.10 + 1.20 + 1.05) / 3 = 1.1167: only A (1.20) beats it.
    # t=3: (1.20 + 1.00 + 1.05) / 3 = 1.0833: only BTC beats it.
    strategy = RelativeStrength(benchmark="basket", lookback=1, every="bar")
    weights = strategy.weights(_bars(RS_CLOSES))
    assert _held(weights)[1] == "A"
    assert _held(weights)[3] == "BTC"
    strength = strategy.strength(_bars(RS_CLOSES))
    assert strength["A"].iloc[1] == pytest.approx(1.2 / ((1.1 + 1.2 + 1.05) / 3) - 1, rel=1e-12)


def test_an_unknown_benchmark_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"benchmark 'BTX' is not among .*did you mean 'BTC'"):
        RelativeStrength(benchmark="BTX", lookback=1).weights(_bars(RS_CLOSES))


# Sector momentum over 1 day: BTC +10%; L1s ETH +20%, SOL -10% (mean +5%); LINK +8%.
SECTOR_CLOSES = {
    "BTCUSDT": [100.0, 110.0],
    "ETHUSDT": [100.0, 120.0],
    "SOLUSDT": [100.0, 90.0],
    "LINKUSDT": [100.0, 108.0],
}


def test_sector_momentum_holds_the_best_sector_from_the_manifest() -> None:
    weights = SectorMomentum(lookback=1, every="bar").weights(_bars(SECTOR_CLOSES))
    check_weights(weights)
    assert weights.iloc[1].to_dict() == {
        "BTCUSDT": 1.0,
        "ETHUSDT": 0.0,
        "SOLUSDT": 0.0,
        "LINKUSDT": 0.0,
    }
    two = SectorMomentum(lookback=1, top_sectors=2, every="bar").weights(_bars(SECTOR_CLOSES))
    # Store of value (+10%) and oracles (+8%) beat the L1s' +5%.
    assert two.iloc[1].tolist() == [0.5, 0.0, 0.0, 0.5]
    three = SectorMomentum(lookback=1, top_sectors=3, every="bar").weights(_bars(SECTOR_CLOSES))
    assert three.iloc[1].tolist() == pytest.approx([1 / 3, 1 / 6, 1 / 6, 1 / 3], rel=1e-15)


def test_a_sector_override_moves_an_asset_into_its_own_sector() -> None:
    strategy = SectorMomentum(lookback=1, every="bar", sectors={"ETHUSDT": "eth"})
    assert strategy.sector_map(list(SECTOR_CLOSES))["ETHUSDT"] == "eth"
    weights = strategy.weights(_bars(SECTOR_CLOSES))
    assert weights.iloc[1].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_absolute_sector_momentum_stays_in_cash_when_every_sector_fell() -> None:
    falling = {s: [100.0, 90.0] for s in SECTOR_CLOSES}
    weights = SectorMomentum(lookback=1, absolute=True, every="bar").weights(_bars(falling))
    assert weights.iloc[1].sum() == 0.0
    held = SectorMomentum(lookback=1, every="bar").weights(_bars(falling))
    assert held.iloc[1].sum() == pytest.approx(1.0)


def test_an_asset_without_a_sector_is_named_with_the_fix() -> None:
    bars = _bars({"BTCUSDT": [1.0, 2.0], "XYZ": [1.0, 2.0]})
    with pytest.raises(ConfigError, match=r"no sector for \['XYZ'\]. Fix: .*sectors="):
        SectorMomentum(lookback=1).weights(bars)
    weights = SectorMomentum(lookback=1, every="bar", sectors={"XYZ": "other"}).weights(bars)
    check_weights(weights)
