"""`quant portfolio run | sweep | walkforward | report` through typer's CliRunner: on the
bundled data, and on files and stored series of assets and periods that are not in the
repository (2015 daily bars, 2030 four-hour bars, one asset listed late, one delisted early)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data import load_ohlcv, universe
from quantlib.portfolio import PortfolioConfig
from quantlib.research.portfolio import portfolio_strategy, run_portfolio_spec
from quantlib.research.trials import load_trials
from tests.portfolio_synthetic import ASSETS, EARLY, LATE, store, synthetic_bars, write_csvs
from tests.reports.test_html import Page
from tests.reports.test_html import test_report_loads_nothing_from_the_network as assert_offline

runner = CliRunner()
DATA = ["--data", "BTCUSDT", "--data", "ETHUSDT", "--timeframe", "1d"]


def test_run_json_has_the_backtest_fields_and_the_engine_numbers(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["portfolio", "run", *DATA, "--allocator", "inverse_vol", "--lookback", "30"]
    args += ["--rebalance", "1M", "--fee", "0.002", "--slippage", "0", "--initial-cash", "5000"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    for key in (
        "final_equity",
        "n_trades",
        "config",
        "metrics",
        "open_position",
        "config_id",
        "costs",
        "start",
        "end",
        "sample",
        "assets",
        "timeframe",
        "data_sha256",
    ):
        assert key in record, key
    assert record["assets"] == ["BTCUSDT", "ETHUSDT"]
    assert record["config"]["fee"] == 0.002
    assert record["config"]["initial_cash"] == 5000
    bars = {s: load_ohlcv(s, "1d") for s in ("BTCUSDT", "ETHUSDT")}
    spec = portfolio_strategy(allocator="inverse_vol", lookback=30, rebalance="1M")
    expected = run_portfolio_spec(
        bars, spec, PortfolioConfig(fee=0.002, slippage=0.0, initial_cash=5000)
    )
    assert record["final_equity"] == pytest.approx(expected.result.final_equity, rel=1e-12)
    assert record["n_orders"] == expected.result.n_orders
    assert record["rebalance_times"] == [t.isoformat() for t in expected.result.rebalance_times]
    first = record["target_weights"][0]
    assert set(first["weights"]) == {"BTCUSDT", "ETHUSDT"}
    assert "inverse_vol" in result.output


def test_sweep_records_every_trial_and_reports_pbo(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    args = ["portfolio", "sweep", *DATA, "--grid", "allocator=equal,inverse_vol"]
    args += ["--grid", "lookback=30,60", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["n_trials"] == 4
    assert record["metrics"]["n_trials"] == 4
    assert 0.0 <= record["pbo"] <= 1.0
    trials = load_trials()
    assert len(trials) == 4
    assert trials["run_id"].str.startswith("portfolio-sweep-").all()


def test_walkforward_json_and_trials(tmp_path: Path) -> None:
    out = tmp_path / "wf.json"
    args = ["portfolio", "walkforward", *DATA, "--strategy", "momentum_rotation"]
    args += ["--param", "top_k=1", "--grid", "lookback=10,30", "--train", "730D", "--test", "365D"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["sample"] == "walk-forward out-of-sample"
    n_folds = len(record["folds"])
    assert record["n_trials"] == 2 * n_folds
    assert record["metrics"]["n_trials"] == record["n_trials"]
    assert len(load_trials()) == record["n_trials"] + n_folds


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["portfolio", "run", *DATA], "needs a strategy or an allocator"),
        (["portfolio", "run", *DATA, "--allocator", "ercc"], "erc"),
        (["portfolio", "run", *DATA, "--allocator", "erc", "--rebalance", "2W"], "rebalance"),
        (["portfolio", "sweep", *DATA, "--allocator", "equal", "--grid", "lookback=1"], "valid"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "error:" in result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_writes_the_offline_page_of_the_same_book(tmp_path: Path) -> None:
    page = tmp_path / "book.html"
    args = ["portfolio", "report", *DATA, "--allocator", "erc", "--lookback", "30"]
    result = runner.invoke(app, [*args, "--rebalance", "1M", "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "in-sample" in html
    assert "equal weight" in html
    assert "BTC buy-and-hold" in html
    bars = {s: load_ohlcv(s, "1d") for s in ("BTCUSDT", "ETHUSDT")}
    spec = portfolio_strategy(allocator="erc", rebalance="1M", lookback=30)
    final = run_portfolio_spec(bars, spec, PortfolioConfig()).result.final_equity
    assert f"{final:,.0f}" in html or f"{final:,.2f}" in html


# --------------------------------------------------------------------------------------------
# Assets and periods that are not in the repository (files written here, and the store)


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """2015–2016 daily bars of DOGEUSDT, XRPUSDT (listed late) and FOOBAR (delisted early)."""
    bars = synthetic_bars("1d", "2015-01-01T00:00Z", n=480)
    paths = write_csvs(tmp_path_factory.mktemp("daily"), bars)
    return bars, [arg for p in paths for arg in ("--data", str(p))]


@pytest.fixture(scope="module")
def four_hour(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The same three assets on four-hour bars in 2030."""
    bars = synthetic_bars("4h", "2030-01-01T00:00Z", n=600)
    paths = write_csvs(tmp_path_factory.mktemp("four_hour"), bars)
    return bars, [arg for p in paths for arg in ("--data", str(p))]


def test_the_synthetic_assets_are_not_bundled() -> None:
    assert not set(ASSETS) & set(universe("all", quote=None))


def test_run_on_unbundled_files_holds_the_point_in_time_universe(daily, tmp_path: Path) -> None:
    bars, data = daily
    out = tmp_path / "run.json"
    args = ["portfolio", "run", *data, "--allocator", "equal", "--rebalance", "1W"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "DOGEUSDT, XRPUSDT, FOOBAR (1d)" in result.output
    record = json.loads(out.read_text())
    assert record["assets"] == list(ASSETS)
    assert record["timeframe"] == "1d"
    assert record["start"] == "2015-01-01T00:00:00+00:00"
    assert record["end"] == bars["DOGEUSDT"].index[-1].isoformat()
    assert set(record["data_sha256"]) == set(ASSETS)
    # The same book through the library on the same frames (same engine: 1e-12 relative).
    spec = portfolio_strategy(allocator="equal", rebalance="1W")
    expected = run_portfolio_spec(bars, spec, PortfolioConfig()).result
    assert record["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert record["n_orders"] == expected.n_orders
    # Nothing is held in XRPUSDT before its first bar nor in FOOBAR after its last; the rest
    # of the book takes their weight (equal weight, fully invested).
    listed, delisted = bars[LATE].index[0], bars[EARLY].index[-1]
    for decision in record["target_weights"]:
        time, weights = pd.Timestamp(decision["time"]), decision["weights"]
        held = {a: w for a, w in weights.items() if w}
        if time < listed:
            assert set(held) == {"DOGEUSDT", EARLY}, decision
        elif time > delisted:
            assert set(held) == {"DOGEUSDT", LATE}, decision
        assert sum(held.values()) == pytest.approx(1.0, abs=1e-12)
    assert (expected.orders["reason"] == "delisting").sum() == 1


def test_run_on_four_hour_bars_decides_at_the_last_bar_of_each_day(
    four_hour, tmp_path: Path
) -> None:
    bars, data = four_hour
    out = tmp_path / "run.json"
    args = ["portfolio", "run", *data, "--allocator", "inverse_vol", "--lookback", "30"]
    result = runner.invoke(app, [*args, "--rebalance", "1D", "--json", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["timeframe"] == "4h"
    times = pd.DatetimeIndex(record["rebalance_times"])
    # A daily calendar on 4h bars decides at the close of each day's last bar (open 20:00 UTC),
    # once the 30-bar lookback (five days) is filled, and then every day.
    assert (times.hour == 20).all()
    assert times[0] == pd.Timestamp("2030-01-06T20:00Z")
    assert (times.to_series().diff().dropna() == pd.Timedelta("1D")).all()
    # The last day's decision (at the last bar's close) has no next open to trade at.
    assert times[-1] == bars["DOGEUSDT"].index[-1] - pd.Timedelta("1D")
    # Daily returns annualised on the 24/7 calendar, whatever the bar length.
    assert record["metrics"]["periods_per_year"] == 365


def test_sweep_and_walkforward_on_unbundled_files(daily, tmp_path: Path) -> None:
    bars, data = daily
    sweep_json = tmp_path / "sweep.json"
    args = ["portfolio", "sweep", *data, "--grid", "allocator=equal,inverse_vol"]
    result = runner.invoke(app, [*args, "--grid", "lookback=20,40", "--json", str(sweep_json)])
    assert result.exit_code == 0, result.output
    assert json.loads(sweep_json.read_text())["n_trials"] == 4
    assert len(load_trials()) == 4
    wf_json = tmp_path / "wf.json"
    args = ["portfolio", "walkforward", *data, "--allocator", "inverse_vol"]
    args += ["--grid", "lookback=20,40", "--train", "180D", "--test", "90D"]
    result = runner.invoke(app, [*args, "--json", str(wf_json)])
    assert result.exit_code == 0, result.output
    record = json.loads(wf_json.read_text())
    assert record["sample"] == "walk-forward out-of-sample"
    folds = pd.DataFrame(record["folds"])
    assert len(folds) >= 3
    starts = pd.to_datetime(folds["test_start"], utc=True)
    ends = pd.to_datetime(folds["test_end"], utc=True)
    first, last = bars["DOGEUSDT"].index[[0, -1]]
    assert (starts >= first + pd.Timedelta("180D")).all()
    # Only the last fold runs past the data's end, and it says so.
    assert folds["partial"].tolist() == (ends > last + pd.Timedelta("1D")).tolist()
    assert folds["partial"].tolist() == [False] * (len(folds) - 1) + [True]
    assert record["n_trials"] == 2 * len(folds)


def test_report_on_unbundled_files_is_offline_with_their_universe(daily, tmp_path: Path) -> None:
    bars, data = daily
    page = tmp_path / "book.html"
    args = ["portfolio", "report", *data, "--allocator", "hrp", "--lookback", "30"]
    result = runner.invoke(app, [*args, "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert_offline(Page(html))
    assert "equal weight" in html
    assert "BTC buy-and-hold" not in html  # no BTC among these assets, none invented
    universe_rows = Page(html).root.by_id("table-universe").rows()
    expected = [
        [a, f"{f.index[0]:%Y-%m-%d}", f"{f.index[-1]:%Y-%m-%d}", f"{len(f):,}"]
        for a, f in bars.items()
    ]
    assert universe_rows == expected


def test_stored_symbols_run_like_the_files_they_came_from(daily, tmp_path: Path) -> None:
    bars, data = daily
    store(bars, "1d")
    runs = {}
    for name, sources in {"files": data, "store": [a for s in ASSETS for a in ("-d", s)]}.items():
        out = tmp_path / f"{name}.json"
        args = ["portfolio", "run", *sources, "--allocator", "erc", "--lookback", "30"]
        result = runner.invoke(app, [*args, "--timeframe", "1d", "--json", str(out)])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(out.read_text())
    assert runs["store"]["assets"] == runs["files"]["assets"] == list(ASSETS)
    assert runs["store"]["final_equity"] == pytest.approx(runs["files"]["final_equity"], rel=1e-12)


def test_bars_off_the_timeframe_are_one_clear_line(four_hour) -> None:
    _, data = four_hour
    result = runner.invoke(app, ["portfolio", "run", *data, "--allocator", "equal", "-t", "1d"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "DOGEUSDT.csv" in result.output
    assert "off the 1d bar grid" in result.output
    assert "Traceback" not in result.output
