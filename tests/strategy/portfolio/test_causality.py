"""Every portfolio strategy is truncation-invariant (weights on data up to t equal the full-data
weights up to t), with assets listed and delisted at different dates, and runs on the bundled
daily data of six assets."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.strategy.portfolio import (
    PORTFOLIO_STRATEGIES,
    AllocatorStrategy,
    CorrelationRegimeSwitch,
    MomentumRotation,
    PortfolioStrategy,
    RelativeStrength,
    SectorMomentum,
    TimeSeriesMomentum,
    check_weights,
    make_portfolio_strategy,
)
from quantlib.testing import make_ohlcv

SIX = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT")


def assert_no_lookahead_bars(
    strategy: PortfolioStrategy,
    bars: Mapping[str, pd.DataFrame],
    cuts: list[pd.Timestamp],
) -> pd.DataFrame:
    """``strategy.weights`` on every asset's bars up to ``t`` equals the full-data weights up to
    ``t``, exactly (assets not listed by ``t`` are passed with no bars)."""
    full = strategy.weights(bars)
    for t in cuts:
        part = strategy.weights({name: frame.loc[:t] for name, frame in bars.items()})
        try:
            pd.testing.assert_frame_equal(part, full.loc[:t], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"look-ahead in {strategy!r} at {t}:\n{exc}") from None
    return full


def _staggered_bars(n: int = 160) -> dict[str, pd.DataFrame]:
    """Five random walks on one daily grid: two from the start, one listed on day 40, one on
    day 75, and one delisted after day 110."""
    rng = np.random.default_rng(2024)
    start = pd.Timestamp("2024-01-01T00:00Z")
    out = {}
    for i, symbol in enumerate(("BTCUSDT", "ETHUSDT", "SOLUSDT", "LINKUSDT", "MATICUSDT")):
        closes = 100 * np.exp(np.cumsum(rng.normal(0.001 * (i - 2), 0.03, n)))
        frame = make_ohlcv(closes, start=str(start), timeframe="1d")
        first, last = {"SOLUSDT": (40, n), "LINKUSDT": (75, n), "MATICUSDT": (0, 111)}.get(
            symbol, (0, n)
        )
        out[symbol] = frame.iloc[first:last]
    return out


def _strategies() -> list[PortfolioStrategy]:
    return [
        MomentumRotation(lookback=10, top_k=2),
        MomentumRotation(lookback=10, top_k=3, score="risk_adjusted", every="bar"),
        MomentumRotation(lookback=5, top_k=1, absolute=True, every=3),
        RelativeStrength(benchmark="BTCUSDT", lookback=7, fallback="benchmark"),
        RelativeStrength(benchmark="basket", lookback=7, top_k=2, every="1D"),
        SectorMomentum(lookback=10, top_sectors=2),
        TimeSeriesMomentum(lookback=20, vol_lookback=10, every="bar"),
        TimeSeriesMomentum(lookback=20, vol_lookback=10, allow_short=True, every="1M"),
        CorrelationRegimeSwitch(decay=0.9, threshold=0.1, min_periods=5),
        CorrelationRegimeSwitch(
            decay=0.9, threshold=0.1, min_periods=5, base=MomentumRotation(lookback=5, top_k=2)
        ),
    ]


@pytest.mark.parametrize("strategy", _strategies(), ids=repr)
def test_weights_are_truncation_invariant_with_staggered_listings(
    strategy: PortfolioStrategy,
) -> None:
    bars = _staggered_bars()
    index = bars["BTCUSDT"].index
    cuts = [index[i] for i in (0, 1, 20, 39, 40, 41, 74, 76, 110, 111, 130, 159)]
    weights = assert_no_lookahead_bars(strategy, bars, cuts)
    check_weights(weights, long_only=not getattr(strategy, "allow_short", False), index=index)
    assert list(weights.columns) == list(bars)
    decided = weights.dropna(how="all")
    assert len(decided) > 3
    # Point-in-time: nothing is held before listing or after delisting.
    assert (decided.loc[: index[39], "SOLUSDT"] == 0).all()
    assert (decided.loc[: index[74], "LINKUSDT"] == 0).all()
    assert (decided.loc[index[111] :, "MATICUSDT"] == 0).all()


def _allocation_ready() -> bool:
    try:
        from quantlib.allocation import rolling_weights  # noqa: F401
    except ImportError:
        return False
    return True


needs_allocation = pytest.mark.skipif(
    not _allocation_ready(), reason="quantlib.allocation.rolling_weights is not available yet"
)


@needs_allocation
@pytest.mark.parametrize("method", ["equal", "inverse_vol", "erc", "hrp"])
def test_allocator_weights_are_truncation_invariant(method: str) -> None:
    bars = _staggered_bars()
    index = bars["BTCUSDT"].index
    strategy = AllocatorStrategy(method=method, lookback=20, every="1W")
    cuts = [index[i] for i in (0, 25, 41, 76, 111, 140)]
    weights = assert_no_lookahead_bars(strategy, bars, cuts)
    check_weights(weights, index=index)
    decided = weights.dropna(how="all")
    assert len(decided) > 10
    assert (decided.loc[index[112] :, "MATICUSDT"] == 0).all()
    full = decided.loc[index[60] :]
    assert full.sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-9)


@needs_allocation
def test_an_unknown_allocator_gets_a_did_you_mean() -> None:
    from quantlib.exceptions import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'erc'"):
        make_portfolio_strategy("allocator", method="ecr")


@pytest.fixture(scope="module")
def six_daily() -> dict[str, pd.DataFrame]:
    return {symbol: load_ohlcv(symbol, "1d", origin="bundled") for symbol in SIX}


def _bundled_strategies() -> list[PortfolioStrategy]:
    out: list[PortfolioStrategy] = [
        MomentumRotation(lookback=30, top_k=2),
        MomentumRotation(lookback=30, top_k=2, score="risk_adjusted"),
        RelativeStrength(benchmark="BTCUSDT", lookback=30),
        RelativeStrength(benchmark="basket", lookback=30, top_k=2),
        SectorMomentum(lookback=30, top_sectors=2),
        TimeSeriesMomentum(lookback=90, vol_lookback=30),
        CorrelationRegimeSwitch(),
    ]
    if _allocation_ready():
        out.append(AllocatorStrategy(method="inverse_vol", lookback=60, every="1M"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy", _bundled_strategies(), ids=repr)
def test_each_strategy_runs_on_the_bundled_six_assets(
    strategy: PortfolioStrategy, six_daily: dict[str, pd.DataFrame]
) -> None:
    union = six_daily["BTCUSDT"].index
    for frame in six_daily.values():
        union = union.union(frame.index)
    weights = strategy.weights(six_daily)
    assert weights.shape == (len(union), 6)
    assert weights.index.equals(union)
    assert list(weights.columns) == list(SIX)
    check_weights(weights, index=union)
    decided = weights.dropna(how="all")
    # Weekly (or monthly) decisions over seven years, and something is held.
    assert len(decided) > 50
    assert decided.to_numpy().sum() > 10
    # Nothing is held in an asset before its first bar.
    for symbol, frame in six_daily.items():
        assert (decided.loc[decided.index < frame.index[0], symbol] == 0).all()
    # Causal: weights on data up to three dates equal the full run's.
    cuts = [union[len(union) // 3], pd.Timestamp("2021-06-30T00:00Z"), union[-40]]
    assert_no_lookahead_bars(strategy, six_daily, cuts)


def test_the_registry_names_every_strategy() -> None:
    names = set(PORTFOLIO_STRATEGIES)
    assert {
        "momentum_rotation",
        "relative_strength",
        "sector_momentum",
        "ts_momentum",
        "correlation_regime",
        "allocator",
    } <= names
    assert len(PORTFOLIO_STRATEGIES) == len(names)
    for name in names - {"allocator", "pairs"}:
        assert PORTFOLIO_STRATEGIES[name].name == name  # type: ignore[attr-defined]


def test_make_portfolio_strategy_converts_and_checks_parameters() -> None:
    from quantlib.exceptions import ConfigError

    strategy = make_portfolio_strategy("momentum_rotation", lookback="60", top_k="3", every="1M")
    assert strategy == MomentumRotation(lookback=60, top_k=3, every="1M")
    with pytest.raises(ConfigError, match="did you mean 'momentum_rotation'"):
        make_portfolio_strategy("momentum_rotaton")
    with pytest.raises(ConfigError, match="has no parameter 'lookbak'; did you mean 'lookback'"):
        make_portfolio_strategy("momentum_rotation", lookbak=3)
    with pytest.raises(ConfigError, match="parameter 'top_k'"):
        make_portfolio_strategy("momentum_rotation", top_k=0)
    with pytest.raises(ConfigError, match="parameter 'every'.*every must be 'bar'"):
        make_portfolio_strategy("sector_momentum", every="fortnight")
