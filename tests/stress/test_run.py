"""The one-shot run, its history and its report (quantlib/stress/run.py, history.py,
quantlib/reports/stress_report.py)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from quantlib.backtest.runs import load_assets
from quantlib.exceptions import ConfigError
from quantlib.reports.stress_report import write_stress_report
from quantlib.stress.config import load_spec
from quantlib.stress.history import stress_history
from quantlib.stress.run import run_stress

NOW = pd.Timestamp("2025-01-01 06:00", tz="UTC")


def test_rerun_with_same_config_and_data_adds_no_row(small_config: Path, tmp_path: Path) -> None:
    spec = load_spec(small_config)
    out = tmp_path / "out"
    first = run_stress(spec, out, now=NOW, write_report=write_stress_report)
    page = first.report.read_bytes()
    again = run_stress(spec, out, now=NOW + pd.Timedelta(hours=6), write_report=write_stress_report)
    assert (first.created, again.created) == (True, False)
    assert again.run_id == first.run_id
    assert again.run_at == NOW
    assert again.metrics == first.metrics
    assert again.report.read_bytes() == page  # the same results, the same file
    history = stress_history()
    assert len(history) == 1
    row = history.iloc[0]
    assert row["config_id"] == spec.config_id
    assert row["run_at"] == NOW
    assert row["breaches"] == sorted(first.breaches)


def test_new_data_adds_a_row_with_what_changed(small_config: Path, tmp_path: Path) -> None:
    spec = load_spec(small_config)
    bars = load_assets(spec.assets, "1d")
    first = run_stress(spec, tmp_path, now=NOW, bars=bars)
    shorter = {asset: frame.loc[:"2024-06-30"] for asset, frame in bars.items()}
    second = run_stress(spec, tmp_path, now=NOW + pd.Timedelta(days=1), bars=shorter)
    assert second.created
    assert second.data_hash != first.data_hash
    history = stress_history("small")
    assert history["run_id"].tolist() == [first.run_id, second.run_id]
    latest = history.iloc[-1]
    assert not latest["config_changed"]
    # The FTX window is in both data sets: unchanged; the Monte Carlo history is shorter.
    assert "historical.ftx.pnl" not in latest["changes"]
    key = "montecarlo.bootstrap.pnl_median"
    assert latest["changes"][key] == pytest.approx(
        second.metrics[key] - first.metrics[key], rel=1e-12
    )
    assert set(latest["new_breaches"]) == set(second.breaches) - set(first.breaches)
    assert set(latest["cleared_breaches"]) == set(first.breaches) - set(second.breaches)


def test_breaches_name_the_value_and_limit(small_config: Path, tmp_path: Path) -> None:
    outcome = run_stress(load_spec(small_config), tmp_path, now=NOW)
    # FTX: BTC 60% and ETH 30% fell ~26% and ~31%: a drawdown beyond the 25% limit.
    message = outcome.breaches["historical.ftx.max_drawdown"]
    assert re.fullmatch(r"window ftx: max drawdown -2\d\.\d\d% is beyond the limit of 25%", message)
    assert outcome.metrics["historical.ftx.max_drawdown"] < -0.25


class _Tags(HTMLParser):
    """Every start tag and its attributes (script bodies are data, not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def test_report_is_offline_and_shows_every_part(small_config: Path, tmp_path: Path) -> None:
    outcome = run_stress(
        load_spec(small_config), tmp_path, now=NOW, write_report=write_stress_report
    )
    page = outcome.report.read_text()
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        for name in ("src", "href", "srcset", "data", "action"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {name}={value!r}>"
    assert [tag for tag, _ in parser.tags if tag in {"link", "img", "iframe", "object"}] == []
    assert [a for tag, a in parser.tags if tag == "script" and "src" in a] == []
    for anchor in ('id="fig-fan"', 'id="fig-drawdowns"', 'id="table-historical"',
                   'id="table-shocks"', 'id="table-breaches"', outcome.config_id):  # fmt: skip
        assert anchor in page
    record = json.loads(outcome.report.with_suffix(".json").read_text())
    assert record["config_id"] == outcome.config_id
    assert record["breaches"] == outcome.breaches


def test_now_must_be_aware(small_config: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="now must be a tz-aware pandas Timestamp"):
        run_stress(load_spec(small_config), tmp_path, now=pd.Timestamp("2025-01-01"))


@pytest.mark.network
def test_postgresql_history_is_idempotent(
    small_config: Path, tmp_path: Path, postgres: Engine
) -> None:
    spec = load_spec(small_config)
    first = run_stress(spec, tmp_path, now=NOW, engine=postgres)
    again = run_stress(spec, tmp_path, now=NOW + pd.Timedelta(hours=1), engine=postgres)
    assert (first.created, again.created) == (True, False)
    history = stress_history(engine=postgres)
    assert len(history) == 1
    assert history.iloc[0]["run_at"] == NOW
    assert history.iloc[0]["breaches"] == sorted(first.breaches)
