"""A small stress configuration (fast Monte Carlo) shared by the run, schedule and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_TOML = """
name = "small"
initial_equity = 10000.0
default_windows = false

[weights]
BTCUSDT = 0.6
ETHUSDT = 0.3

[backtest]
fee = 0.001
slippage = 2.0

[[extra_windows]]
name = "ftx"
start = 2022-11-06
end = 2022-11-21

[[shocks]]
name = "btc_-30"
moves = { BTCUSDT = -0.30 }
as_of = 2024-12-31

[montecarlo]
methods = ["bootstrap"]
n_paths = 400
horizon_days = 90
seed = 3
history_start = 2022-01-01
history_end = 2024-12-31

[limits]
max_drawdown = 0.25
"""


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TOML)
    return path
