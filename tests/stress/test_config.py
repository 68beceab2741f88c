"""TOML configuration → StressSpec (quantlib/stress/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.config import PROJECT_ROOT
from quantlib.exceptions import ConfigError
from quantlib.stress.config import load_spec, parse_spec

EXAMPLE = PROJECT_ROOT / "configs" / "stress.example.toml"


def test_example_config_has_every_part() -> None:
    spec = load_spec(EXAMPLE)
    assert [w.name for w in spec.windows()][:4] == [
        "covid_2020", "may_2021", "terra_luna_2022", "ftx_2022",
    ]  # fmt: skip
    assert len(spec.shocks) == 2
    assert spec.montecarlo is not None
    assert spec.montecarlo.n_paths == 10_000
    assert spec.limits.max_drawdown == 0.35
    assert spec.limits.ruin_level == 0.5
    assert spec.backtest_config().slippage == 5.0


def test_config_id_is_stable_and_ignores_the_scheduler() -> None:
    base = {"name": "x", "weights": {"BTCUSDT": 1.0}, "montecarlo": {"n_paths": 10}}
    threads = parse_spec({**base, "montecarlo": {"n_paths": 10, "scheduler": "threads"}})
    assert parse_spec(base).config_id == threads.config_id
    assert parse_spec({**base, "montecarlo": {"n_paths": 11}}).config_id != threads.config_id


def test_unknown_key_gets_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nweight = { BTCUSDT = 1.0 }\n')
    with pytest.raises(ConfigError, match="'weight' is unknown; did you mean 'weights'"):
        load_spec(path)


def test_bad_backtest_setting_is_named() -> None:
    with pytest.raises(ConfigError, match="backtest setting 'fees' is unknown; did you mean 'fee'"):
        parse_spec({"name": "x", "weights": {"BTCUSDT": 1.0}, "backtest": {"fees": 0.001}})


def test_weights_summing_above_one_are_refused() -> None:
    with pytest.raises(ConfigError, match="sum to at most 1"):
        parse_spec({"name": "x", "weights": {"BTCUSDT": 0.7, "ETHUSDT": 0.7}})


def test_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the stress config .*Fix: pass an existing"):
        load_spec(tmp_path / "nope.toml")
