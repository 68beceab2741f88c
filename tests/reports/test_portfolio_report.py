"""The portfolio evaluation (series that add up to the book's own numbers, hand-worked
contributions, causal rows) and its offline HTML report (sections, numbers equal the result's,
labelled sample, costs stated, deterministic)."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError, DataError
from quantlib.portfolio import PortfolioResult, make_portfolio_config, run_portfolio
from quantlib.reports._format import format_count, format_number, format_percent
from quantlib.reports.portfolio_report import build_portfolio_report, write_portfolio_report
from quantlib.research.portfolio_evaluation import (
    RESIDUAL,
    PortfolioEvaluation,
    close_returns,
    evaluate_portfolio,
)
from quantlib.strategy.portfolio import make_portfolio_strategy

PLOTLY_MARKER = "* plotly.js v"
ASSETS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
SECTIONS = ("headline", "weights", "costs-turnover", "risk", "contribution", "universe", "rules")


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.h2: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if "id" in values:
            self.ids.add(values["id"])
        self._in = tag if tag in {"h2", "style"} else None

    def handle_data(self, data: str) -> None:
        if self._in == "h2":
            self.h2.append(data.strip())
        elif self._in == "style":
            self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def _book(bars: dict[str, pd.DataFrame], method: str = "inverse_vol") -> PortfolioResult:
    weights = make_portfolio_strategy("allocator", method=method, lookback=60, every="1W")
    return run_portfolio(bars, weights.weights(bars), make_portfolio_config(rebalance="1W"))


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    return {a: load_ohlcv(a, "1d").loc["2021-01-01":"2023-12-31"] for a in ASSETS}


@pytest.fixture(scope="module")
def evaluation(bars: dict[str, pd.DataFrame]) -> PortfolioEvaluation:
    book = _book(bars)
    equal = _book(bars, "equal")
    btc = _book({"BTCUSDT": bars["BTCUSDT"]}, "equal")
    return evaluate_portfolio(
        book,
        returns=close_returns(bars),
        benchmarks={"equal weight": equal.equity, "BTC buy-and-hold": btc.equity},
        name="inverse_vol",
        n_trials=3,
        trials_sharpe_variance=0.25,
    )


@pytest.fixture(scope="module")
def html(evaluation: PortfolioEvaluation) -> str:
    return build_portfolio_report(evaluation, sample="out-of-sample")


# --------------------------------------------------------------------------------------------
# The evaluation


def _synthetic(closes: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    idx = pd.date_range("2024-01-01", periods=len(next(iter(closes.values()))), freq="D",
                        tz="UTC", name="timestamp")  # fmt: skip
    out = {}
    for name, values in closes.items():
        c = pd.Series(values, index=idx, dtype=float)
        out[name] = pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0})
    return out


def test_contributions_hand_worked_without_costs() -> None:
    bars = _synthetic({"A": [10, 11, 12, 11], "B": [20, 19, 20, 21]})
    idx = bars["A"].index
    w = pd.DataFrame({"A": [0.5, np.nan, np.nan, np.nan], "B": [0.5, np.nan, np.nan, np.nan]},
                     index=idx)  # fmt: skip
    config = make_portfolio_config(fee=0.0, slippage=0.0, fill="close", rebalance="bar")
    ev = evaluate_portfolio(run_portfolio(bars, w, config), returns=close_returns(bars))
    # Bar 1: half in A (+10%) and half in B (-5%).
    assert ev.contributions.iloc[1]["A"] == pytest.approx(0.05, abs=1e-12)
    assert ev.contributions.iloc[1]["B"] == pytest.approx(-0.025, abs=1e-12)
    # Bar 2: the book drifted to A 5.5/10.25 and B 4.75/10.25 of its value.
    assert ev.contributions.iloc[2]["A"] == pytest.approx(5.5 / 10.25 * (1 / 11), abs=1e-12)
    assert ev.contributions.iloc[2]["B"] == pytest.approx(4.75 / 10.25 * (1 / 19), abs=1e-12)
    # No costs and fills at the close: nothing is left over.
    assert ev.contributions[RESIDUAL].abs().max() < 1e-12
    total = ev.result.equity.iloc[-1] / ev.result.equity.iloc[0] - 1.0
    assert (1.0 + ev.book_returns).prod() - 1.0 == pytest.approx(total, abs=1e-12)


def test_series_add_up_to_the_books_own_numbers(evaluation: PortfolioEvaluation) -> None:
    result = evaluation.result
    assert (evaluation.contributions.sum(axis=1) - evaluation.book_returns).abs().max() < 1e-12
    assert (evaluation.turnover_by_asset.sum(axis=1) - result.turnover).abs().max() < 1e-12
    table = evaluation.asset_table()
    assert table.loc["book", "costs"] == pytest.approx(result.costs_by_asset["total"].sum())
    for asset in ASSETS:
        assert table.loc[asset, "fees"] == pytest.approx(result.orders.query("asset == @asset")
                                                         ["fee"].sum(), rel=1e-12)  # fmt: skip
    assert table.loc[RESIDUAL, "contribution"] < 0.0  # costs were paid
    shares = evaluation.risk.contributions.dropna()
    assert len(shares) > 500
    assert (shares.sum(axis=1) - 1.0).abs().max() < 1e-9
    assert evaluation.n_listed.iloc[-1] == 3
    assert evaluation.summary.n_trials == 3
    assert set(evaluation.benchmark_summaries) == {"equal weight", "BTC buy-and-hold"}


def test_evaluation_rows_are_causal(bars: dict[str, pd.DataFrame]) -> None:
    cut = "2022-06-30"
    full = evaluate_portfolio(_book(bars), returns=close_returns(bars))
    short_bars = {a: f.loc[:cut] for a, f in bars.items()}
    short = evaluate_portfolio(_book(short_bars), returns=close_returns(short_bars))
    for name in ("contributions", "turnover_by_asset"):
        a, b = getattr(short, name), getattr(full, name).loc[:cut]
        pd.testing.assert_frame_equal(a, b, rtol=1e-10, atol=1e-12)
    pd.testing.assert_frame_equal(
        short.risk.contributions, full.risk.contributions.loc[:cut], rtol=1e-9, atol=1e-12
    )


def test_evaluation_refuses_bad_input(evaluation: PortfolioEvaluation) -> None:
    result = evaluation.result
    with pytest.raises(DataError, match="lacks the book's asset"):
        evaluate_portfolio(result, returns=pd.DataFrame({"BTCUSDT": [0.0]}))
    with pytest.raises(ConfigError, match="returns must be a DataFrame"):
        evaluate_portfolio(result, returns=[0.0])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="PortfolioResult"):
        evaluate_portfolio("book", returns=pd.DataFrame())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The page


def test_report_loads_nothing_from_the_network(html: str) -> None:
    page = Page(html)
    external = ("http:", "https:", "//")
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(external), f"<{tag} {name}={value!r}>"
    assert [tag for tag, _ in page.tags if tag in {"link", "img", "iframe", "object"}] == []
    assert [a for tag, a in page.tags if tag == "script" and "src" in a] == []
    assert len(page.styles) == 1
    assert "url(" not in page.styles[0]
    assert "@import" not in page.styles[0]
    assert html.count(PLOTLY_MARKER) == 1


def test_every_section_is_there(html: str) -> None:
    page = Page(html)
    assert set(SECTIONS) <= page.ids
    for key in ("equity", "weights", "turnover", "costs", "risk", "diversification",
                "contribution", "universe"):  # fmt: skip
        assert f"fig-{key}" in page.ids, key
    assert {"table-headline", "table-assets", "table-universe"} <= page.ids
    assert "Headline (out-of-sample, costs on)" in page.h2


def test_headline_numbers_are_the_results(evaluation: PortfolioEvaluation, html: str) -> None:
    s = evaluation.summary
    table = html.split('id="table-headline"')[1].split("</table>")[0]
    for text in (
        format_percent(s.total_return), format_percent(s.cagr), format_number(s.sharpe),
        format_percent(s.max_drawdown), format_percent(s.deflated_sharpe, 1),
        format_number(evaluation.result.final_equity), format_count(evaluation.result.n_orders),
    ):  # fmt: skip
        assert f">{text}<" in table, text
    btc = evaluation.benchmark_summaries["BTC buy-and-hold"]
    assert f">{format_percent(btc.total_return)}<" in table
    result = evaluation.result
    years = (len(result.equity) - 1) / 365
    drag = result.costs_by_asset["total"].sum() / result.equity.mean() / years
    assert f">{format_percent(drag)}<" in table
    assets = html.split('id="table-assets"')[1].split("</table>")[0]
    fees = evaluation.result.costs_by_asset.loc["ETHUSDT", "fees"]
    assert f">{format_number(fees)}<" in assets


def test_sample_and_costs_are_stated(evaluation: PortfolioEvaluation, html: str) -> None:
    assert ">Out-of-sample</span>" in html
    assert evaluation.result.config.describe_costs() in html
    in_sample = build_portfolio_report(evaluation)
    assert ">In-sample</span>" in in_sample
    with pytest.raises(ConfigError, match="sample"):
        build_portfolio_report(evaluation, sample="backtest")
    with pytest.raises(ConfigError, match="PortfolioEvaluation"):
        build_portfolio_report(evaluation.result)  # type: ignore[arg-type]


def test_write_is_deterministic(evaluation: PortfolioEvaluation, html: str, tmp_path) -> None:
    path = write_portfolio_report(evaluation, tmp_path / "p.html", sample="out-of-sample")
    assert path == tmp_path / "p.html"
    assert path.read_text(encoding="utf-8") == html


def test_a_delisting_is_a_cost_but_not_turnover() -> None:
    bars = _synthetic({"A": [10, 11, 12, 11, 12, 13], "B": [20, 19, 20, 21, 20, 22]})
    bars["B"] = bars["B"].iloc[:4]  # B's last bar is the fourth: delisted
    idx = bars["A"].index
    w = pd.DataFrame({"A": [0.5] + [np.nan] * 5, "B": [0.5] + [np.nan] * 5}, index=idx)
    ev = evaluate_portfolio(run_portfolio(bars, w), returns=close_returns(bars))
    orders = ev.result.orders
    assert orders["reason"].tolist() == ["rebalance", "rebalance", "delisting"]
    assert (ev.turnover_by_asset.sum(axis=1) - ev.result.turnover).abs().max() < 1e-12
    assert ev.turnover_by_asset["B"].iloc[3] == 0.0
    delisting_fee = orders.loc[orders["reason"] == "delisting", "fee"].iloc[0]
    assert ev.asset_table().loc["B", "fees"] == pytest.approx(
        orders.loc[orders["asset"] == "B", "fee"].sum(), rel=1e-12
    )
    assert delisting_fee > 0.0
    assert ev.n_listed.tolist() == [2, 2, 2, 2, 1, 1]
    assert (ev.contributions.sum(axis=1) - ev.book_returns).abs().max() < 1e-12
