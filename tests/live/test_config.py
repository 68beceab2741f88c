"""The live engine's TOML configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.config import PROJECT_ROOT
from quantlib.exceptions import ConfigError
from quantlib.live.config import load_live_config
from quantlib.live.runner import run_live
from quantlib.live.status import K
from quantlib.live.types import StrategyMode


def test_example_paper_config_loads() -> None:
    config = load_live_config(PROJECT_ROOT / "configs" / "live.paper.toml")

    assert config.mode == "paper"
    assert [s.name for s in config.strategy] == ["sma_btc", "sma_eth"]
    assert config.strategy[0].mode is StrategyMode.SUPERVISED
    assert config.risk.allowed_symbols == ("BTC/USDT", "ETH/USDT")
    assert config.feed.speed == 3600


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text('mode = "paper"\ncapitl = 5\n[[strategy]]\nname = "x"\nstrategy = "sma_cross"\n'
                    'symbol = "BTC/USDT"\ndata = "BTCUSDT"\nfraction = 2\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"capitl: Extra inputs are not permitted") as info:
        load_live_config(path)
    assert "strategy.0.fraction: Input should be less than or equal to 1" in str(info.value)
    with pytest.raises(ConfigError, match="cannot read the live config"):
        load_live_config(tmp_path / "missing.toml")


def test_a_paper_run_replays_to_the_end_and_reports_its_state(tmp_path: Path) -> None:
    from quantlib.db import make_engine
    from quantlib.live.journal import Journal

    path = tmp_path / "live.toml"
    path.write_text(
        'mode = "paper"\n[feed]\nstart = "2024-12-20"\n'
        '[[strategy]]\nname = "sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
        'data = "BTCUSDT"\nmode = "auto"\nfraction = 0.5\nparams = { fast = 5, slow = 20 }\n'
    )
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))

    summary = run_live(path, journal=journal, exit_at_end=True)

    assert summary.bars == 12 * 24  # 2024-12-20 to 2024-12-31, hourly
    assert summary.state == "active"
    assert journal.get_state(K.MODE) == "paper"
    assert len(journal.orders()) >= 2  # auto mode traded the replay
    assert journal.verify_audit().ok
