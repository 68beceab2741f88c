"""The HTML report: one offline file, every section, the summary's numbers, escaped text,
written atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.analytics import PerformanceSummary, benchmark_stats, common_period_returns
from quantlib.backtest import BacktestResult, run_strategy
from quantlib.research.baselines import buy_and_hold, random_entry
from quantlib.research.walkforward import walk_forward
from quantlib.data import load_ohlcv
from quantlib.exceptions import ConfigError
from quantlib.reports import html as report
from quantlib.reports.html import (
    build_report,
    collect_provenance,
    format_count,
    format_number,
    format_percent,
    write_report,
)
from quantlib.strategy import SmaCross
from quantlib.testing import make_ohlcv

PLOTLY_MARKER = "* plotly.js v"  # first line of plotly.js's bundle header
VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"})
SECTIONS = {
    "summary": "Headline figures (in-sample)",
    "equity": "Equity and benchmarks (in-sample)",
    "drawdown": "Drawdown (in-sample)",
    "monthly": "Monthly returns (in-sample)",
    "rolling": "Rolling Sharpe ratio and volatility (90-day window)",
    "trades": "Trade distribution (in-sample)",
    "exposure": "Exposure over time",
    "attribution": "Attribution (in-sample)",
    "baselines": "Baselines",
    "walkforward": "Walk-forward validation",
    "methodology": "Methodology",
    "disclaimer": "Risk disclaimer",
}
KPIS: dict[str, Callable[[PerformanceSummary], str]] = {
    "total_return": lambda s: format_percent(s.total_return),
    "cagr": lambda s: format_percent(s.cagr),
    "volatility": lambda s: format_percent(s.volatility),
    "sharpe": lambda s: format_number(s.sharpe),
    "probabilistic_sharpe": lambda s: format_percent(s.probabilistic_sharpe, 1),
    "deflated_sharpe": lambda s: format_percent(s.deflated_sharpe, 1),
    "n_trials": lambda s: format_count(s.n_trials),
    "sortino": lambda s: format_number(s.sortino),
    "max_drawdown": lambda s: format_percent(s.max_drawdown),
    "calmar": lambda s: format_number(s.calmar),
    "win_rate": lambda s: format_percent(s.trades.win_rate if s.trades else None, 1),
    "profit_factor": lambda s: format_number(s.trades.profit_factor if s.trades else None),
    "n_trades": lambda s: format_count(s.trades.n_trades if s.trades else None),
    "exposure": lambda s: format_percent(s.exposure, 1),
}


# --------------------------------------------------------------------------------------------
# A small DOM from the standard library's parser


@dataclasses.dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None
    children: list[Node] = dataclasses.field(default_factory=list)
    chunks: list[str] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
            if (tag is None or child.tag == tag) and all(
                child.attrs.get(k) == v for k, v in wanted.items()
            ):
                found.append(child)
            found.extend(child.find_all(tag, **attrs))
        return found

    def by_id(self, element_id: str) -> Node:
        (node,) = self.find_all(id=element_id)
        return node

    def rows(self) -> list[list[str]]:
        """Body rows of a table, as cell texts."""
        rows = [row for row in self.find_all("tr") if row.parent and row.parent.tag == "tbody"]
        return [[cell.text for cell in row.children] for row in rows]


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.open: list[Node] = [self.root]
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        node = Node(tag, values, self.open[-1])
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, 0, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                return

    def handle_data(self, data: str) -> None:
        for node in self.open:
            node.chunks.append(data)

    def kpis(self, sample: str) -> dict[str, str]:
        (grid,) = self.root.find_all("div", data_sample=sample)
        return {
            node.attrs["data-kpi"]: node.find_all("div", **{"class": "kpi-value"})[0].text
            for node in grid.find_all("div", **{"class": "kpi"})
        }


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return load_ohlcv("BTCUSDT", "1d", origin="bundled").loc["2022-01-01":"2023-12-31"]


@pytest.fixture(scope="module")
def spy() -> pd.Series:
    return load_ohlcv("SPY", "1d", origin="bundled")["close"]


@pytest.fixture(scope="module")
def result(btc: pd.DataFrame) -> BacktestResult:
    return run_strategy(SmaCross(fast=5, slow=20), {"BTCUSDT": btc})


@pytest.fixture(scope="module")
def html(result: BacktestResult, spy: pd.Series) -> str:
    provenance = {
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "generated_at": "2025-01-02T03:04:05Z",
        "command": "quant report BTCUSDT",
        "data_files": {"data/BTCUSDT-1d.csv.gz": "f" * 64},
    }
    return build_report(result, benchmarks={"SPY": spy}, provenance=provenance)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


# --------------------------------------------------------------------------------------------
# Offline, single file


def test_report_loads_nothing_from_the_network(page: Page) -> None:
    external = ("http:", "https:", "//")
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(external), f"<{tag} {name}={value!r}>"
    assert [tag for tag, _ in page.tags if tag in {"link", "img", "iframe", "object"}] == []
    assert [attrs for tag, attrs in page.tags if tag == "script" and "src" in attrs] == []
    styles = [node.text.lower() for node in page.root.find_all("style")]
    assert len(styles) == 1
    assert "@import" not in styles[0]
    assert "url(" not in styles[0]
    assert "@font-face" not in styles[0]


def test_plotly_js_is_inlined_exactly_once(html: str, page: Page) -> None:
    assert html.count(PLOTLY_MARKER) == 1
    scripts = page.root.find_all("script")
    bundles = [s for s in scripts if PLOTLY_MARKER in "".join(s.chunks)]
    assert len(bundles) == 1
    assert bundles[0].parent is not None
    assert bundles[0].parent.tag == "head"
    # every other script is a figure's Plotly.newPlot call, one per figure div
    figures = page.root.find_all("div", **{"class": "plotly-graph-div"})
    assert len(scripts) == 1 + len(figures)
    assert all("Plotly.newPlot" in "".join(s.chunks) for s in scripts if s is not bundles[0])


def test_the_same_result_renders_the_same_bytes(result: BacktestResult, html: str) -> None:
    again = build_report(
        result,
        benchmarks={"SPY": load_ohlcv("SPY", "1d", origin="bundled")["close"]},
        provenance={
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "generated_at": "2025-01-02T03:04:05Z",
            "command": "quant report BTCUSDT",
            "data_files": {"data/BTCUSDT-1d.csv.gz": "f" * 64},
        },
    )
    assert again == html


# --------------------------------------------------------------------------------------------
# Content


def test_every_section_is_present_with_its_heading(page: Page) -> None:
    for section_id, heading in SECTIONS.items():
        section = page.root.by_id(section_id)
        assert section.tag == "section"
        assert section.find_all("h2")[0].text == heading
    figures = page.root.find_all("div", **{"class": "plotly-graph-div"})
    figure_ids = {node.attrs["id"] for node in figures}
    assert figure_ids == {
        "fig-equity", "fig-drawdown", "fig-monthly", "fig-rolling-sharpe",
        "fig-rolling-volatility", "fig-trade-returns", "fig-r-multiples", "fig-exposure",
    }  # fmt: skip


def test_headline_figures_equal_the_performance_summary(result: BacktestResult, page: Page) -> None:
    summary = result.summary()
    shown = page.kpis("in-sample")
    assert shown == {key: render(summary) for key, render in KPIS.items()}
    # the formatting keeps the value: 2 decimals of the Sharpe ratio, 0.01% of the return
    assert float(shown["sharpe"]) == round(summary.sharpe, 2)
    total = float(shown["total_return"].rstrip("%").replace(",", "")) / 100
    assert total == pytest.approx(summary.total_return, abs=5e-5)
    assert shown["n_trades"] == str(result.n_trades)


def test_sample_label_heads_the_report(page: Page) -> None:
    assert page.root.by_id("sample-label").text == "In-sample"
    assert "In-sample: these figures come from the same data" in page.root.by_id("summary").text


def test_out_of_sample_report_deflates_the_sharpe_by_the_trials_given(
    result: BacktestResult,
) -> None:
    page = Page(
        build_report(result, sample="out-of-sample", n_trials=25, trials_sharpe_variance=0.5)
    )
    summary = result.summary(n_trials=25, trials_sharpe_variance=0.5)
    shown = page.kpis("out-of-sample")
    assert page.root.by_id("sample-label").text == "Out-of-sample"
    assert page.root.by_id("summary").find_all("h2")[0].text == "Headline figures (out-of-sample)"
    assert shown["deflated_sharpe"] == format_percent(summary.deflated_sharpe, 1)
    assert shown["n_trials"] == "25"
    assert summary.deflated_sharpe < summary.probabilistic_sharpe
    note = page.root.find_all("div", data_kpi="deflated_sharpe")[0].text
    assert "expected best of 25 unskilled trials" in note
    assert "In-sample: these figures" not in page.root.by_id("summary").text


def test_unknown_sample_is_refused_with_the_closest_name(result: BacktestResult) -> None:
    with pytest.raises(ConfigError, match="sample must be one of .* did you mean 'out-of-sample'"):
        build_report(result, sample="out_of_sample")


def test_btc_buy_and_hold_and_spy_are_compared_on_common_days(
    result: BacktestResult, spy: pd.Series, page: Page
) -> None:
    rows = {row[0]: row for row in page.root.by_id("table-benchmarks").rows()}
    assert set(rows) == {"BTCUSDT buy and hold", "SPY"}
    assert "not dividend-adjusted" in rows["SPY"][1]
    assert "252 days/yr" in rows["SPY"][1]
    ours, theirs = common_period_returns(result.equity, spy, "1D")
    stats = benchmark_stats(ours, theirs, 252)
    assert rows["SPY"][2] == format_count(stats.n_common)
    assert stats.n_common < 520  # exchange sessions only: nothing was filled over weekends
    assert rows["SPY"][5:] == [
        format_number(stats.beta),
        format_number(stats.correlation),
        format_percent(stats.alpha),
    ]
    close = result.bars["BTCUSDT"]["close"]
    assert rows["BTCUSDT buy and hold"][4] == format_percent(close.iloc[-1] / close.iloc[0] - 1)


def test_attribution_sums_pnl_per_group(result: BacktestResult, page: Page) -> None:
    closed = result.trades.loc[result.trades["exit_time"].notna()]
    for column in ("strategy", "asset", "side", "exit_reason"):
        rows = page.root.by_id(f"table-attribution-{column}").rows()
        expected = closed.groupby(column)["pnl"].sum()
        assert {row[0]: row[4] for row in rows if row[2] != "0"} == {
            str(key): format_number(value) for key, value in expected.items()
        }
    (side,) = page.root.by_id("table-attribution-side").rows()
    wins = int((closed["pnl"] > 0).sum())
    win_rate = format_percent(wins / len(closed), 1)
    assert side[:4] == ["long", str(result.n_trades), str(len(closed)), win_rate]


def test_methodology_states_config_costs_data_and_versions(
    result: BacktestResult, page: Page
) -> None:
    methodology = page.root.by_id("methodology")
    assert page.root.by_id("config-id").text == result.config_id
    assert page.root.by_id("costs").text == result.config.describe_costs()
    data = page.root.by_id("table-data").rows()
    assert data == [
        [
            "BTCUSDT",
            "Binance spot (bundled: BTCUSDT-1d.csv.gz)",
            "1d",
            "2022-01-01",
            "2023-12-31",
            "730",
            result.data_sha256["BTCUSDT"],
        ]
    ]
    versions = dict(page.root.by_id("table-libraries").rows())
    assert versions["numpy"] == importlib.metadata.version("numpy")
    assert set(versions) == {"numpy", "pandas", "numba", "plotly", "quantlib"}
    provenance = dict(page.root.by_id("table-provenance").rows())
    assert provenance["Git commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert provenance["Uncommitted changes"] == "not recorded"
    assert page.root.by_id("table-files").rows() == [["data/BTCUSDT-1d.csv.gz", "f" * 64]]
    assert "No walk-forward validation accompanies this report" in methodology.text
    assert "No baseline runs were given" in page.root.by_id("baselines").text
    assert "No walk-forward validation was run" in page.root.by_id("walkforward").text


def test_disclaimer_names_past_performance_advice_costs_and_the_seed_claims(page: Page) -> None:
    text = page.root.by_id("disclaimer").text
    for phrase in ("Past performance", "not investment advice", "slippage", "hypotheses"):
        assert phrase.lower() in text.lower()


def test_user_text_is_escaped(result: BacktestResult) -> None:
    hostile = dataclasses.replace(
        result, strategy="<script>alert(1)</script>", params={"note": "</td><script>x()</script>"}
    )
    html = build_report(hostile)
    page = Page(html)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    scripts = page.root.find_all("script")
    figures = page.root.find_all("div", **{"class": "plotly-graph-div"})
    assert len(scripts) == 1 + len(figures)  # no script came in with the text
    assert page.root.find_all("h1")[0].text.startswith("<script>alert(1)</script> on BTCUSDT")


def test_undefined_figures_read_n_a() -> None:
    assert format_percent(float("nan")) == "n/a"
    assert format_number(float("nan")) == "n/a"
    assert format_count(float("nan")) == "n/a"
    assert format_percent(None) == "n/a"
    assert format_number(float("inf")) == "∞"
    assert format_percent(0.123456) == "12.35%"
    assert format_percent(-0.5, 1) == "-50.0%"
    assert format_number(12345.678) == "12,345.68"
    assert format_count(1234) == "1,234"


def test_a_run_without_btc_or_benchmarks_says_so() -> None:
    closes = 100 + 10 * np.sin(np.arange(200) / 8)
    bars = {"ETHUSDT": make_ohlcv(closes, timeframe="1d")}
    page = Page(build_report(run_strategy(SmaCross(fast=5, slow=20), bars)))
    assert "No benchmark was given and the run holds no BTC" in page.root.by_id("equity").text
    (row,) = page.root.by_id("table-data").rows()
    assert row[1] == "not recorded (bars passed without catalog metadata)"
    # 200 days: a third of them per rolling window
    assert page.root.by_id("rolling").find_all("h2")[0].text.endswith("(66-day window)")


def test_baselines_and_walkforward_fill_their_sections() -> None:
    closes = 100 + 10 * np.sin(np.arange(24 * 120) / 40) + np.arange(24 * 120) * 0.001
    bars = make_ohlcv(closes, timeframe="1h")
    result = run_strategy(SmaCross(fast=5, slow=20), bars)
    hold = buy_and_hold(bars)
    chance = random_entry(bars, result, n_seeds=10, scheduler="sync")
    wf = walk_forward(
        "sma_cross", {"fast": [5, 10], "slow": [20, 40]}, bars, train="60D", test="20D",
        scheduler="sync", progress=False,
    )  # fmt: skip
    page = Page(
        build_report(result, baselines={"Buy and hold": hold, "Random": chance}, walkforward=wf)
    )
    runs = {row[0]: row for row in page.root.by_id("table-baseline-runs").rows()}
    assert runs["Buy and hold"][1] == format_percent(hold.summary().total_return)
    assert runs["sma_cross (this report)"][1] == format_percent(result.summary().total_return)
    (random_row,) = page.root.by_id("table-baseline-random").rows()
    assert random_row[:3] == ["Random", "10", str(result.n_trades)]
    assert random_row[-1] == format_number(chance.sharpe_percentile, 1)
    folds = page.root.by_id("table-walkforward-folds").rows()
    assert [row[0] for row in folds] == [str(f) for f in wf.folds["fold"]]
    first = wf.folds.iloc[0]
    assert folds[0][3] == f"fast={int(first['fast'])}, slow={int(first['slow'])}"
    oos = page.kpis("walk-forward out-of-sample")
    assert oos["sharpe"] == format_number(wf.summary().sharpe)
    assert oos["n_trials"] == str(wf.n_trials)
    assert page.root.find_all("div", id="fig-walkforward")
    assert page.root.find_all("div", id="fig-random-1")
    assert "Rolling walk-forward: train 60D, test 20D" in page.root.by_id("methodology").text


# --------------------------------------------------------------------------------------------
# Writing and provenance


def test_write_report_writes_the_page_and_returns_its_path(
    result: BacktestResult, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.html"
    written = write_report(result, target, sample="out-of-sample")
    assert written == target
    assert target.read_text(encoding="utf-8") == build_report(result, sample="out-of-sample")


def test_a_failed_render_leaves_no_file(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(context: object) -> str:
        raise RuntimeError("template failed")

    monkeypatch.setattr(report, "_render", broken)
    with pytest.raises(RuntimeError, match="template failed"):
        write_report(result, tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_report_whole(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")
    real_write = Path.write_text

    def half_then_fail(self: Path, data: str, *args: object, **kwargs: object) -> int:
        real_write(self, data[: len(data) // 2], encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_collect_provenance_hashes_files_and_reads_no_commit_outside_git(tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    data.write_bytes(b"timestamp,close\n")
    out = collect_provenance([data], repo=tmp_path)
    assert out["data_files"] == {str(data): hashlib.sha256(b"timestamp,close\n").hexdigest()}
    assert out["git_commit"] is None
    assert out["git_dirty"] is None


def test_collect_provenance_reads_the_commit_of_a_checkout() -> None:
    here = Path(__file__).resolve().parent
    out = collect_provenance(repo=here)
    if out["git_commit"] is None:
        pytest.skip("not run from a git checkout")
    assert len(out["git_commit"]) == 40
    assert int(out["git_commit"], 16) >= 0
    assert isinstance(out["git_dirty"], bool)


def test_collect_provenance_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match=r"paths: '.*nope\.csv' is not a file"):
        collect_provenance([missing])
