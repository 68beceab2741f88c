"""Funding on perpetual legs of a rebalanced book: hand-worked ledgers, signs and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.testing import make_ohlcv

NO_COSTS = {"fee": 0.0, "slippage": 0.0, "initial_cash": 1000.0}


def book() -> dict[str, pd.DataFrame]:
    # 8-hour bars from 2024-01-01 00:00; each bar opens at the previous close.
    return {
        "P": make_ohlcv([100.0, 100.0, 110.0, 110.0, 105.0], timeframe="8h"),
        "C": make_ohlcv([50.0] * 5, timeframe="8h"),
    }


def rates() -> pd.Series:
    times = pd.to_datetime(
        ["2024-01-01T08:00Z", "2024-01-01T16:00Z", "2024-01-02T00:00Z", "2024-01-02T08:00Z"]
    )
    return pd.Series([0.001, 0.002, -0.001, 0.0005], index=times, name="funding_rate")


def first_row(index: pd.DatetimeIndex, **weights: float) -> pd.DataFrame:
    frame = pd.DataFrame(np.nan, index=index, columns=list(weights))
    frame.iloc[0] = list(weights.values())
    return frame


def test_a_long_perpetual_leg_pays_each_funding_time_it_holds() -> None:
    bars = book()
    config = PortfolioConfig(perpetual=("P",), **NO_COSTS)
    result = run_portfolio(bars, first_row(bars["P"].index, P=0.5, C=0.5), config,
                           funding={"P": rates()})  # fmt: skip

    # 5 P units bought at bar 1's open (08:00): the 08:00 funding is not paid (entry < T).
    # Held at bar 1's close (100): 16:00 at 0.002 → pays 1.0; bar 2's close (110): 00:00 at
    # -0.001 → receives 0.55; bar 3's close (110): 08:00 at 0.0005 → pays 0.275.
    paid = 5 * 100 * 0.002 + 5 * 110 * -0.001 + 5 * 110 * 0.0005
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(paid, rel=1e-12)
    assert result.costs_by_asset.loc["C", "funding"] == 0.0
    assert result.final_equity == pytest.approx(5 * 105 + 10 * 50 - paid, rel=1e-12)
    # The trade spends all the cash; after it, the cash moves by the funding at each close.
    assert result.cash.to_numpy() == pytest.approx([1000.0, -1.0, -0.45, -0.725, -0.725], rel=1e-12)


def test_a_position_traded_at_a_close_pays_from_the_next_bar() -> None:
    bars = book()
    w = first_row(bars["P"].index, P=0.5, C=0.5)
    config = PortfolioConfig(perpetual=("P",), fill="close", **NO_COSTS)

    result = run_portfolio(bars, w, config, funding={"P": rates()})

    # Bought at bar 0's close (08:00, 100): the 08:00 funding time is its entry, not paid; the
    # position pays bars 1 to 3 as the next-open book does.
    paid = 5 * 100 * 0.002 + 5 * 110 * -0.001 + 5 * 110 * 0.0005
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(paid, rel=1e-12)
    # Sold at bar 2's close (00:00): that time is its exit, so it pays it.
    w2 = w.copy()
    w2.iloc[2] = [0.0, 0.5]
    result = run_portfolio(bars, w2, config, funding={"P": rates()})
    paid = 5 * 100 * 0.002 + 5 * 110 * -0.001
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(paid, rel=1e-12)


def test_a_short_perpetual_leg_receives_funding_and_pays_no_borrow() -> None:
    bars = book()
    config = PortfolioConfig(perpetual=("P",), allow_short=True, borrow_rate=0.5, **NO_COSTS)
    w = first_row(bars["P"].index, P=-0.5, C=0.5)

    result = run_portfolio(bars, w, config, funding=rates())

    received = 5 * 100 * 0.002 + 5 * 110 * -0.001 + 5 * 110 * 0.0005
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(-received, rel=1e-12)
    assert result.costs_by_asset.loc["P", "borrow"] == 0.0
    # A spot short with the same book pays borrow and no funding.
    spot = run_portfolio(bars, w, config.model_copy(update={"perpetual": ()}))
    assert spot.costs_by_asset.loc["P", "borrow"] > 0.0
    assert spot.costs_by_asset.loc["P", "funding"] == 0.0


def test_a_constant_funding_rate_is_charged_at_every_funding_time() -> None:
    bars = book()
    config = PortfolioConfig(perpetual=("P",), funding_rate=0.0001, **NO_COSTS)

    result = run_portfolio(bars, first_row(bars["P"].index, P=1.0), config)

    # 10 units held at the closes of bars 1-4; one 8 h funding time in each of those bars.
    closes = [100.0, 110.0, 110.0, 105.0]
    paid = sum(10 * c * 0.0001 for c in closes)
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(paid, rel=1e-12)
    assert "funding 0.0100% per 8h on perpetual legs (P)" in config.describe_costs()
    assert any("Perpetual legs (P)" in rule for rule in config.describe_rules())


def test_daily_bars_sum_the_funding_times_of_each_day() -> None:
    # Daily bars: a position held at the close of day d pays the 08:00, 16:00 and next 00:00
    # funding times, each on the day's close.
    closes = [100.0, 100.0, 120.0]
    bars = {"P": make_ohlcv(closes, timeframe="1d")}
    times = pd.date_range("2024-01-01T08:00Z", periods=9, freq="8h")
    series = pd.Series(np.arange(1, 10) * 1e-4, index=times)
    config = PortfolioConfig(perpetual=["P"], **NO_COSTS)

    result = run_portfolio(bars, first_row(bars["P"].index, P=1.0), config, funding=series)

    # 10 units from day 1's open; day 1 (close 100): times 2024-01-02 08:00, 16:00, 01-03 00:00
    # are rows 3, 4, 5 → 4e-4 + 5e-4 + 6e-4; day 2 (close 120): rows 6, 7, 8 → 7e-4+8e-4+9e-4.
    paid = 10 * 100 * 15e-4 + 10 * 120 * 24e-4
    assert result.costs_by_asset.loc["P", "funding"] == pytest.approx(paid, rel=1e-12)


def test_a_perpetual_leg_without_funding_is_refused() -> None:
    bars = book()
    w = first_row(bars["P"].index, P=0.5, C=0.5)
    with pytest.raises(ConfigError, match="'P' has no funding series"):
        run_portfolio(bars, w, PortfolioConfig(perpetual=("P",)), funding={})
    with pytest.raises(ConfigError, match="needs funding"):
        run_portfolio(bars, w, PortfolioConfig(perpetual=("P",)))


@pytest.mark.parametrize(
    ("config", "funding", "message"),
    [
        ({}, "series", "no asset is perpetual"),
        ({"perpetual": ("P",)}, {"C": "series"}, "'C', which is not a perpetual leg"),
        ({"perpetual": ("Q",)}, None, r"config.perpetual names asset 'Q'"),
        ({"perpetual": ("P",)}, {"P": [0.1]}, "must be a pandas Series"),
        ({"perpetual": ("P",)}, {"P": "naive"}, "tz-aware UTC"),
        ({"perpetual": ("P",)}, {"P": "nan"}, "missing or infinite rate"),
        ({"perpetual": ("P",)}, {"P": "twice"}, "two rates at"),
    ],
)
def test_bad_funding_input_gets_a_clear_error(
    config: dict[str, object], funding: object, message: str
) -> None:
    bars = book()
    good = rates()
    variants = {
        "series": good,
        "naive": good.tz_localize(None),
        "nan": good.where(good.index != good.index[1]),
        "twice": pd.concat([good, good.iloc[:1]]),
    }
    if isinstance(funding, str):
        funding = variants[funding]
    elif isinstance(funding, dict):
        funding = {k: variants.get(v, v) if isinstance(v, str) else v for k, v in funding.items()}
    with pytest.raises(ConfigError, match=message):
        run_portfolio(bars, first_row(bars["P"].index, P=0.5), PortfolioConfig(**config),
                      funding=funding)  # fmt: skip


def test_funding_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="perpetual legs only"):
        PortfolioConfig(funding_rate=0.0001)
    with pytest.raises(ValueError, match="not a positive duration"):
        PortfolioConfig(perpetual=("P",), funding_interval="soon")
    assert PortfolioConfig(perpetual="P").perpetual == ("P",)
    assert (
        PortfolioConfig(perpetual=["B", "A"]).config_id
        == PortfolioConfig(perpetual=("A", "B")).config_id
    )
