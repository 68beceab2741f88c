"""Attribution of a trade ledger by key, and the contribution of components by ablation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics.attribution import ATTRIBUTION_COLUMNS, attribute, session_of_hour
from quantlib.backtest.runs import run_named
from quantlib.exceptions import ConfigError, DataError
from quantlib.research.attribution import ablation
from quantlib.testing import make_ohlcv


def ledger() -> pd.DataFrame:
    """Four trades worked by hand: total pnl 60, sum of squares 100² + 20² + 10² + 10² = 10600."""
    return pd.DataFrame(
        {
            "strategy": ["a", "a", "b", "b"],
            "asset": ["BTC", "ETH", "BTC", "BTC"],
            "timeframe": ["1h"] * 4,
            "side": ["long", "short", "long", "short"],
            "exit_reason": ["target", "stop", "stop", "open"],
            "entry_time": pd.to_datetime(
                ["2024-01-01 03:00", "2024-01-01 09:30", "2024-01-02 15:00", "2024-01-03 07:59"],
                utc=True,
            ),
            "pnl": [100.0, -20.0, -10.0, -10.0],
            "return": [0.10, -0.02, -0.01, -0.01],
        }
    )


def test_strategy_table_sums_pnl_and_shares_of_total_exactly() -> None:
    table = attribute(ledger(), by=["strategy"]).tables["strategy"]
    assert list(table.columns) == list(ATTRIBUTION_COLUMNS)
    assert table["n_trades"].tolist() == [2, 2]
    assert table["pnl"].tolist() == [80.0, -20.0]
    assert table["pnl_share"].tolist() == [80.0 / 60.0, -20.0 / 60.0]
    assert table["win_rate"].tolist() == [0.5, 0.0]
    assert table["risk_share"].tolist() == [10400.0 / 10600.0, 200.0 / 10600.0]
    assert table["pnl_share"].sum() == pytest.approx(1.0)


def test_return_std_is_sample_std_and_nan_for_a_single_trade() -> None:
    table = attribute(ledger(), by=["asset"]).tables["asset"]
    btc = np.array([0.10, -0.01, -0.01])
    assert table.loc["BTC", "return_std"] == pytest.approx(float(np.std(btc, ddof=1)))
    assert table.loc["BTC", "mean_return"] == pytest.approx(float(btc.mean()))
    assert math.isnan(table.loc["ETH", "return_std"])


def test_hour_and_session_use_the_utc_entry_hour() -> None:
    tables = attribute(ledger(), by=["hour", "session"]).tables
    assert tables["hour"]["pnl"].to_dict() == {3: 100.0, 7: -10.0, 9: -20.0, 15: -10.0}
    assert tables["session"]["pnl"].to_dict() == {"Asia": 90.0, "Europe": -20.0, "US": -10.0}
    assert [session_of_hour(h) for h in (7, 8, 13, 14)] == ["Asia", "Europe", "Europe", "US"]


def test_open_positions_count_with_their_marked_pnl() -> None:
    table = attribute(ledger(), by=["exit_reason"]).tables["exit_reason"]
    assert table["pnl"].to_dict() == {"open": -10.0, "stop": -30.0, "target": 100.0}


def test_regime_is_the_last_label_known_at_or_before_entry() -> None:
    known_at = pd.to_datetime(["2024-01-01 09:30", "2024-01-02 00:00"], utc=True)
    regimes = pd.DataFrame({"regime": pd.array([1, 0], dtype="Int64")}, index=known_at)
    table = attribute(ledger(), by=["regime"], regimes=regimes).tables["regime"]
    # 03:00 precedes every label; 09:30 sees the label stamped at 09:30; later trades regime 0.
    assert table["pnl"].to_dict() == {"regime 0": -20.0, "regime 1": -20.0, "unknown": 100.0}


def test_default_keys_leave_out_regime_without_regimes() -> None:
    result = attribute(ledger())
    assert result.keys == (
        "strategy",
        "asset",
        "timeframe",
        "side",
        "exit_reason",
        "hour",
        "session",
    )
    assert (result.total_pnl, result.n_trades) == (60.0, 4)
    frame = result.to_frame()
    assert frame.groupby("by")["pnl"].sum().eq(60.0).all()


def test_bad_keys_and_missing_columns_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown key 'sid'"):
        attribute(ledger(), by=["sid"])
    with pytest.raises(ConfigError, match="no regimes were given"):
        attribute(ledger(), by=["regime"])
    with pytest.raises(DataError, match=r"lacks column\(s\) \['side'\]"):
        attribute(ledger().drop(columns=["side"]), by=["side"])
    naive = pd.Series([0], index=pd.to_datetime(["2024-01-01"]))
    with pytest.raises(DataError, match="tz-aware"):
        attribute(ledger(), by=["regime"], regimes=naive)


def test_attribute_accepts_a_backtest_result() -> None:
    bars = {"X": make_ohlcv(100 + np.sin(np.arange(300) / 9) * 5, timeframe="1d")}
    result = run_named("sma_cross", bars, {"fast": 5, "slow": 20})
    out = attribute(result, by=["side"])
    assert out.tables["side"]["pnl"].sum() == pytest.approx(result.trades["pnl"].sum())
    assert out.n_trades == result.n_trades


def test_ablation_reports_what_each_component_adds_by_rerunning() -> None:
    bars = {"X": make_ohlcv(100 + np.sin(np.arange(400) / 9) * 5, timeframe="1d")}
    table = ablation("sma_cross", {"fast": 5, "slow": 20}, bars, None, {"slow": {"slow": 40}})
    full = run_named("sma_cross", bars, {"fast": 5, "slow": 20})
    off = run_named("sma_cross", bars, {"fast": 5, "slow": 40})
    assert table.index.tolist() == ["full", "slow"]
    assert table.loc["full", "final_equity"] == full.final_equity
    assert table.loc["slow", "n_trades"] == off.n_trades
    assert table.loc["slow", "d_final_equity"] == full.final_equity - off.final_equity
    assert table.loc["slow", "d_trades"] == full.n_trades - off.n_trades
    assert table.loc["slow", "d_sharpe"] == pytest.approx(
        full.summary().sharpe - off.summary().sharpe
    )


def test_ablation_rejects_empty_or_malformed_components() -> None:
    bars = {"X": make_ohlcv(100 + np.sin(np.arange(100) / 9) * 5, timeframe="1d")}
    with pytest.raises(ConfigError, match="components is empty"):
        ablation("sma_cross", {}, bars, None, {})
    with pytest.raises(ConfigError, match=r"components\['x'\] must map"):
        ablation("sma_cross", {}, bars, None, {"x": 3})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="has no parameter 'slwo'"):
        ablation("sma_cross", {}, bars, None, {"x": {"slwo": 3}})
