"""``quant live run`` on a perpetual: the ``[contracts]`` table of the TOML configuration sets
leverage and margin mode (required for every perpetual a strategy trades) and, in paper mode,
names the funding and mark series; a replay of the bundled BTCUSDT perpetual then journals its
funding on the mark price and its contract state. Misconfigurations are refused with the key
and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.config import load_live_config
from quantlib.live.journal import Journal
from quantlib.live.runner import run_live

STRATEGY = (
    '[[strategy]]\nname = "sma"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT:USDT"\n'
    'data = "BTCUSDT"\nmode = "auto"\nparams = { fast = 3, slow = 8 }\n'
)
RISK = (
    "[risk]\nmax_leverage = 3.0\nmax_contract_leverage = 2.0\nmax_heat = 1.0\n"
    "daily_loss_limit = 0.5\nmax_drawdown = 0.9\nreduce_at_drawdown = 0.8\n"
)
CONTRACT = (
    '[contracts."BTC/USDT:USDT"]\nleverage = 2\nmargin_mode = "isolated"\n'
    'funding = "BTCUSDT"\nmark = "BTCUSDT"\n'
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text)
    return path


def test_a_paper_replay_of_a_perpetual_journals_funding_and_its_contract(tmp_path: Path) -> None:
    feed = '[feed]\ntimeframe = "1h"\nstart = "2024-12-20"\nend = "2024-12-23"\n'
    config = write(tmp_path, f"heartbeat_seconds = 60.0\n{feed}{RISK}{STRATEGY}{CONTRACT}")
    journal = Journal(make_engine(f"sqlite:///{tmp_path / 'journal.db'}"))

    summary = run_live(config, journal=journal, exit_at_end=True)

    assert summary.bars > 60
    assert len(journal.fills()) >= 2
    contract = journal.contracts()["BTC/USDT:USDT"]
    assert (contract.leverage, contract.margin_mode) == (2.0, "isolated")
    payments = journal.funding_payments("BTC/USDT:USDT")
    assert payments
    assert {p.source for p in payments} == {"paper:mark"}
    assert all(p.rate is not None and p.mark is not None for p in payments)


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        ("", r"contract_missing|without a \[contracts\] table"),
        ('[contracts."BTC/USDT:USDT"]\nleverage = 2\nmargin_mode = "isolated"\n', r"no funding"),
        (
            '[contracts."BTC/USD:BTC"]\nleverage = 2\nmargin_mode = "cross"\nfunding_rate = 0.0\n',
            r"inverse contract",
        ),
        (CONTRACT.replace("isolated", "isolate"), r"margin_mode"),
        (CONTRACT.replace("leverage = 2", "leverage = 200"), r"leverage"),
    ],
)
def test_a_perpetual_misconfiguration_is_refused_with_the_fix(
    tmp_path: Path, contract: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_live_config(write(tmp_path, f"{STRATEGY}{contract}"))
