"""The portfolio evaluation (series that add up to the book's own numbers, hand-worked
contributions, causal rows) and its offline HTML report (sections, numbers equal the result's,
labelled sample, costs stated, deterministic)."""

from __future__ import annotations

import base64
import dataclasses
import json
import re

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
from tests.portfolio_synthetic import ASSETS as UNBUNDLED
from tests.portfolio_synthetic import EARLY, LATE, synthetic_bars
from tests.reports.test_html import PLOTLY_MARKER, Page
from tests.reports.test_html import test_report_loads_nothing_from_the_network as assert_offline

ASSETS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
SECTIONS = ("headline", "weights", "costs-turnover", "risk", "contribution", "universe", "rules")


def _ids(page: Page) -> set[str]:
    return {attrs["id"] for _, attrs in page.tags if "id" in attrs}


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
    assert_offline(Page(html))
    assert html.count(PLOTLY_MARKER) == 1


def test_every_section_is_there(html: str) -> None:
    page = Page(html)
    ids = _ids(page)
    assert set(SECTIONS) <= ids
    for key in ("equity", "weights", "turnover", "costs", "risk", "diversification",
                "contribution", "universe"):  # fmt: skip
        assert f"fig-{key}" in ids, key
    assert {"table-headline", "table-assets", "table-universe"} <= ids
    assert "Headline (out-of-sample, costs on)" in [h.text for h in page.root.find_all("h2")]


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


# --------------------------------------------------------------------------------------------
# Each section of the page, on assets and a period that are not in the repository: four-hour
# bars in 2030, XRPUSDT listed late and FOOBAR delisted early.


def figure_traces(html: str, key: str) -> dict[str, tuple[pd.Index, np.ndarray]]:
    """The traces of the figure ``fig-<key>`` as plotly wrote them into the page: name to
    (x, y); plotly stores numeric arrays as base64 ``{"dtype", "bdata"}``."""
    marker = f'"fig-{key}",'
    text = html[html.index(marker) + len(marker) :].lstrip()
    traces, _ = json.JSONDecoder().raw_decode(text)

    def values(data: object) -> np.ndarray:
        if isinstance(data, dict):
            return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
        return np.asarray(data)

    out = {}
    for trace in traces:
        x = values(trace["x"])
        dated = x.dtype.kind in "OU" and re.match(r"\d{4}-\d\d-\d\dT", str(x[0]))
        index = pd.DatetimeIndex(x) if dated else pd.Index(x)
        out[trace["name"]] = (index, values(trace["y"]).astype(float))
    return out


@pytest.fixture(scope="module")
def unbundled() -> PortfolioEvaluation:
    bars = synthetic_bars("4h", "2030-01-01T00:00Z", n=600)
    weights = make_portfolio_strategy("allocator", method="erc", lookback=30, every="1D")
    book = run_portfolio(bars, weights.weights(bars), make_portfolio_config(rebalance="1D"))
    equal = _book(bars, "equal")
    return evaluate_portfolio(
        book, returns=close_returns(bars), benchmarks={"equal weight": equal.equity}, name="erc"
    )


@pytest.fixture(scope="module")
def unbundled_html(unbundled: PortfolioEvaluation) -> str:
    return build_portfolio_report(unbundled)


def test_report_of_unbundled_assets_is_offline_and_complete(unbundled_html: str) -> None:
    page = Page(unbundled_html)
    assert_offline(page)
    assert unbundled_html.count(PLOTLY_MARKER) == 1
    assert set(SECTIONS) <= _ids(page)
    assert "2030-01-01 to 2030-04-10 20:00 UTC" in unbundled_html
    assert "assets DOGEUSDT, XRPUSDT, FOOBAR" in unbundled_html


def test_weights_over_time_are_the_books_actual_weights(
    unbundled: PortfolioEvaluation, unbundled_html: str
) -> None:
    traces = figure_traces(unbundled_html, "weights")
    weights = unbundled.result.weights
    assert list(traces) == list(UNBUNDLED)
    for asset, (x, y) in traces.items():
        assert x.equals(weights.index)
        np.testing.assert_allclose(y, weights[asset].to_numpy(), rtol=0, atol=1e-12)
    # Nothing is held in an asset outside its listing.
    for asset in (LATE, EARLY):  # before XRPUSDT's first bar, after FOOBAR's last
        outside = traces[asset][1][~unbundled.universe[asset].to_numpy()]
        assert outside.size > 100
        assert np.all(outside == 0.0)


def test_turnover_and_costs_are_the_engines(
    unbundled: PortfolioEvaluation, unbundled_html: str
) -> None:
    turnover = figure_traces(unbundled_html, "turnover")
    traded = unbundled.result.turnover > 0.0
    for asset, (x, y) in turnover.items():
        assert x.equals(unbundled.result.turnover.index[traded])
        assert y[-1] == pytest.approx(unbundled.turnover_by_asset[asset].sum(), rel=1e-12)
    costs = figure_traces(unbundled_html, "costs")
    booked = unbundled.result.costs_by_asset
    assert list(costs) == [c for c in booked.columns if c != "total"]
    for kind, (x, y) in costs.items():
        assert list(x) == list(UNBUNDLED)
        np.testing.assert_allclose(y, booked.loc[list(UNBUNDLED), kind], rtol=1e-12)
    rows = Page(unbundled_html).root.by_id("table-assets").rows()
    fees = {row[0]: row[5] for row in rows}
    assert fees[EARLY] == format_number(booked.loc[EARLY, "fees"])
    assert fees["book"] == format_number(booked["fees"].sum())


def test_risk_contributions_are_euler_shares_summing_to_one(
    unbundled: PortfolioEvaluation, unbundled_html: str
) -> None:
    traces = figure_traces(unbundled_html, "risk")
    shares = unbundled.risk.contributions.dropna(how="all")
    assert list(traces) == list(UNBUNDLED)
    stacked = np.vstack([np.nan_to_num(y) for _, y in traces.values()])
    assert np.abs(stacked.sum(axis=0) - 1.0).max() < 1e-9
    for asset, (x, y) in traces.items():
        assert x.equals(shares.index)
        np.testing.assert_allclose(y, shares[asset].to_numpy(), rtol=1e-12, equal_nan=True)


def test_contribution_by_asset_adds_up_to_the_books_return(
    unbundled: PortfolioEvaluation, unbundled_html: str
) -> None:
    traces = figure_traces(unbundled_html, "contribution")
    assert list(traces) == [*UNBUNDLED, RESIDUAL]
    totals = {name: y[-1] for name, (_, y) in traces.items()}
    assert sum(totals.values()) == pytest.approx(unbundled.book_returns.sum(), abs=1e-12)
    table = unbundled.asset_table()
    for asset in UNBUNDLED:
        assert totals[asset] == pytest.approx(table.loc[asset, "contribution"], abs=1e-12)
    assert totals[RESIDUAL] < 0.0  # costs were paid


def test_universe_over_time_counts_the_listed_assets(
    unbundled: PortfolioEvaluation, unbundled_html: str
) -> None:
    (_, y), *_ = figure_traces(unbundled_html, "universe").values()
    np.testing.assert_array_equal(y, unbundled.n_listed.to_numpy())
    # Two at first, three once XRPUSDT lists, two again after FOOBAR's last bar.
    assert [int(v) for v in pd.Series(y).loc[lambda s: s.diff() != 0]] == [2, 3, 2]
    rows = Page(unbundled_html).root.by_id("table-universe").rows()
    listed = unbundled.universe
    assert [row[0] for row in rows] == list(UNBUNDLED)
    assert rows[1][1] == "2030-01-26"  # XRPUSDT's first bar: bar 150 of 4h, at midnight
    assert rows[2][2] == "2030-03-08 12:00 UTC"  # FOOBAR's last bar: bar 399, 66.5 days in
    assert rows[2][3] == format_count(int(listed[EARLY].sum()))


def test_costs_show_every_kind_the_engine_books_funding_included(
    unbundled: PortfolioEvaluation,
) -> None:
    # The engine books each kind of cost in its own column of costs_by_asset (fees, slippage,
    # borrow, and signed funding on perpetual legs), then the total; the report shows whatever
    # kinds the result holds, not a fixed list. Funding here as a perpetual run would book it
    # (negative: received).
    costs = unbundled.result.costs_by_asset.drop(columns="total")
    costs["funding"] = [1.5, -0.25, 0.0]
    costs["total"] = costs.sum(axis=1)
    result = dataclasses.replace(unbundled.result, costs_by_asset=costs)
    html = build_portfolio_report(dataclasses.replace(unbundled, result=result))
    table = Page(html).root.by_id("table-assets")
    header = [cell.text for cell in table.find_all("th")]
    assert header[5:10] == ["Fees", "Slippage", "Borrow", "Funding", "Costs"]
    rows = {row[0]: row for row in table.rows()}
    assert rows["DOGEUSDT"][8] == format_number(1.5)
    assert rows["XRPUSDT"][8] == format_number(-0.25)
    assert rows["book"][8] == format_number(1.25)
    assert rows["book"][9] == format_number(costs["total"].sum())
    assert list(figure_traces(html, "costs")) == ["fees", "slippage", "borrow", "funding"]
    assert "costs: fees, slippage, borrow, funding;" in html
    # A result without a funding column (a run before the engine booked it): no funding shown.
    older = costs.drop(columns=["funding", "total"]).assign(total=lambda f: f.sum(axis=1))
    result = dataclasses.replace(unbundled.result, costs_by_asset=older)
    html = build_portfolio_report(dataclasses.replace(unbundled, result=result))
    header = [cell.text for cell in Page(html).root.by_id("table-assets").find_all("th")]
    assert header[5:9] == ["Fees", "Slippage", "Borrow", "Costs"]
    assert list(figure_traces(html, "costs")) == ["fees", "slippage", "borrow"]
