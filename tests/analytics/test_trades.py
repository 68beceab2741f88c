"""Trade-ledger statistics: a hand-worked ledger with an open trade, a scratch trade and a
trade without a stop; edge cases (empty, no losses); exit reasons and the long/short split;
malformed ledgers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import TRADE_COLUMNS, exits_by_reason, side_split, trade_stats
from quantlib.exceptions import DataError

NAN = float("nan")


def ledger(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A ledger in the engine's layout from the fields that matter here."""
    frame = pd.DataFrame(
        rows,
        columns=["side", "exit_time", "pnl", "return", "r_multiple", "bars_held", "exit_reason"],
    )
    frame["exit_time"] = pd.to_datetime(frame["exit_time"], utc=True)
    frame.insert(0, "asset", "BTCUSDT")
    return frame


def trade(
    side: str,
    pnl: float,
    r: float = NAN,
    bars: int = 1,
    reason: str = "signal",
    closed: bool = True,
    notional: float = 1000.0,
) -> dict[str, object]:
    return {
        "side": side,
        "exit_time": "2024-01-02" if closed else None,
        "pnl": pnl if closed else NAN,
        "return": pnl / notional if closed else NAN,
        "r_multiple": r,
        "bars_held": bars,
        "exit_reason": reason if closed else "open",
    }


@pytest.fixture
def book() -> pd.DataFrame:
    return ledger(
        [
            trade("long", 30.0, r=1.5, bars=4, reason="take_profit"),
            trade("long", -10.0, r=-0.5, bars=2, reason="stop_loss"),
            trade("short", 20.0, r=1.0, bars=6, reason="take_profit"),
            trade("short", -20.0, r=NAN, bars=3, reason="signal"),  # no stop: no R
            trade("long", 0.0, r=0.0, bars=1, reason="signal"),  # scratch
            trade("long", 0.0, bars=5, closed=False),  # still open
        ]
    )


def test_statistics_cover_closed_trades_and_count_open_ones_apart(book: pd.DataFrame) -> None:
    s = trade_stats(book)
    assert (s.n_trades, s.n_closed, s.n_open) == (6, 5, 1)
    assert (s.n_wins, s.n_losses) == (2, 2)
    assert s.win_rate == pytest.approx(2 / 5)  # the scratch trade counts in the denominator
    assert s.profit_factor == pytest.approx(50 / 30)
    assert s.expectancy == pytest.approx(20 / 5)
    assert s.expectancy_return == pytest.approx(0.004)
    assert s.avg_r == pytest.approx((1.5 - 0.5 + 1.0 + 0.0) / 4)  # four trades had a stop
    assert s.avg_win == pytest.approx(25.0)
    assert s.avg_loss == pytest.approx(-15.0)
    assert s.largest_win == 30.0
    assert s.largest_loss == -20.0
    assert s.avg_bars_held == pytest.approx((4 + 2 + 6 + 3 + 1) / 5)
    assert (s.total_pnl, s.gross_profit, s.gross_loss) == (20.0, 50.0, -30.0)


def test_long_and_short_trades_are_split(book: pd.DataFrame) -> None:
    s = trade_stats(book)
    assert (s.n_long, s.n_short) == (3, 2)
    assert s.long_win_rate == pytest.approx(1 / 3)
    assert s.short_win_rate == pytest.approx(1 / 2)
    assert (s.long_pnl, s.short_pnl) == (20.0, 0.0)
    table = side_split(book)
    assert list(table.index) == ["long", "short"]
    assert table.loc["long", "n_closed"] == 3
    assert table.loc["long", "profit_factor"] == pytest.approx(3.0)
    assert table.loc["short", "profit_factor"] == pytest.approx(1.0)
    assert table.loc["short", "expectancy"] == 0.0


def test_exits_are_counted_by_reason_over_closed_trades(book: pd.DataFrame) -> None:
    counts = exits_by_reason(book)
    assert counts.to_dict() == {"signal": 2, "take_profit": 2, "stop_loss": 1}
    assert "open" not in counts.index
    assert dict(trade_stats(book).exits_by_reason) == counts.to_dict()


def test_to_dict_is_flat_and_numeric(book: pd.DataFrame) -> None:
    out = trade_stats(book).to_dict()
    assert "exits_by_reason" not in out
    assert all(isinstance(v, int | float) for v in out.values())
    assert out["n_trades"] == 6


def test_an_empty_ledger_has_counts_of_zero_and_undefined_rates() -> None:
    s = trade_stats(ledger([]))
    assert (s.n_trades, s.n_closed, s.n_open) == (0, 0, 0)
    for value in (s.win_rate, s.profit_factor, s.expectancy, s.avg_r, s.avg_bars_held):
        assert math.isnan(value)
    assert s.total_pnl == 0.0


def test_only_open_trades_leave_the_rates_undefined() -> None:
    s = trade_stats(ledger([trade("long", 0.0, closed=False)]))
    assert (s.n_trades, s.n_closed, s.n_open) == (1, 0, 1)
    assert math.isnan(s.win_rate)


def test_profit_factor_without_losses_is_infinite() -> None:
    s = trade_stats(ledger([trade("long", 5.0), trade("short", 1.0)]))
    assert s.profit_factor == math.inf
    assert math.isnan(s.avg_loss)
    assert math.isnan(s.largest_loss)


def test_missing_columns_are_named() -> None:
    frame = ledger([trade("long", 1.0)]).drop(columns=["r_multiple", "bars_held"])
    with pytest.raises(DataError, match=r"missing column\(s\) \['r_multiple', 'bars_held'\]"):
        trade_stats(frame)


def test_an_unknown_side_is_rejected_with_its_row() -> None:
    frame = ledger([trade("long", 1.0), trade("buy", 1.0)])
    with pytest.raises(DataError, match="must be 'long' or 'short', got 'buy' in row 1"):
        trade_stats(frame)


def test_a_closed_trade_without_pnl_is_rejected() -> None:
    frame = ledger([trade("long", 1.0), trade("long", 2.0)])
    frame.loc[1, "pnl"] = np.nan
    with pytest.raises(DataError, match=r"trades\['pnl'\] is NaN or infinite for closed trade"):
        trade_stats(frame)


def test_a_non_frame_is_rejected() -> None:
    with pytest.raises(DataError, match="trades must be a DataFrame"):
        trade_stats([1, 2])  # type: ignore[arg-type]


def test_the_columns_read_are_published() -> None:
    assert set(TRADE_COLUMNS) <= set(ledger([]).columns)
