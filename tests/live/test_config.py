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
    # On the replay's clock a proposal lives proposal_ttl_minutes of bars: at the shipped speed
    # a person has minutes of wall time to approve it in the panel, not a fraction of a second.
    assert config.feed.speed > 0
    assert config.proposal_ttl_minutes * 60 / config.feed.speed >= 60


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text('mode = "paper"\ncapitl = 5\n[[strategy]]\nname = "x"\nstrategy = "sma_cross"\n'
                    'symbol = "BTC/USDT"\ndata = "BTCUSDT"\nfraction = 2\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"capitl: Extra inputs are not permitted") as info:
        load_live_config(path)
    assert "strategy.0.fraction: Input should be less than or equal to 1" in str(info.value)
    with pytest.raises(ConfigError, match="cannot read the live config"):
        load_live_config(tmp_path / "missing.toml")


STRATEGY = (
    '[[strategy]]\nname = "x"\nstrategy = "sma_cross"\nsymbol = "BTC/USDT"\n'
    'data = "BTCUSDT"\nmode = "auto"\n'
)


def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text + STRATEGY)
    return path


@pytest.mark.parametrize("word", ['"no"', '"false"', '"off"', "0"])
def test_a_sandbox_flag_that_is_not_a_boolean_is_an_error_not_false(
    tmp_path: Path, word: str
) -> None:
    path = _config_file(tmp_path, f"[exchange]\nsandbox = {word}\n")
    with pytest.raises(
        ConfigError,
        match=r"exchange\.sandbox: Input should be a valid boolean .* Fix: write true or false, "
        r"without quotes",
    ):
        load_live_config(path)


def test_sandbox_false_written_as_a_boolean_still_turns_it_off(tmp_path: Path) -> None:
    assert load_live_config(_config_file(tmp_path, "")).exchange.sandbox is True
    config = load_live_config(_config_file(tmp_path, "[exchange]\nsandbox = false\n"))
    assert config.exchange.sandbox is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_leverage = inf\n", r"risk\.max_leverage: must be a finite number, got inf"),
        ("[risk]\nmax_heat = nan\n", r"risk\.max_heat: must be a finite number, got nan"),
        (
            '[risk]\nmax_position = { "BTC/USDT" = inf }\n',
            r"risk\.max_position\['BTC/USDT'\]: must be a finite number, got inf",
        ),
        (
            "[risk]\ndefault_max_notional = inf\n",
            r"risk\.default_max_notional: must be a finite number, got inf \(omit the key",
        ),
        (
            '[risk]\nmax_drawdown = "0.2"\n',
            r"risk\.max_drawdown: must be a number \(without quotes",
        ),
        ("[risk]\nmax_orders_per_minute = true\n", r"risk\.max_orders_per_minute: must be a whole"),
        ("capital = inf\n", r"capital: Input should be a finite number .* Fix: write a finite"),
        ("[paper]\nslippage_bps = -inf\n", r"paper\.slippage_bps: Input should be a finite"),
        ('[feed]\npoll_seconds = "10"\n', r"feed\.poll_seconds: Input should be a valid number"),
    ],
)
def test_limits_and_numbers_must_be_finite_numbers_written_as_numbers(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        load_live_config(_config_file(tmp_path, text))
    assert "Fix: " in str(info.value)


def test_risk_limits_from_a_file_keep_their_bounds_and_defaults(tmp_path: Path) -> None:
    config = load_live_config(
        _config_file(tmp_path, '[risk]\nmax_leverage = 2\nmax_position = { "BTC/USDT" = 0.5 }\n')
    )
    assert config.risk.max_leverage == 2.0
    assert config.risk.max_position == {"BTC/USDT": 0.5}
    assert config.risk.default_max_notional == float("inf")  # omitted: no cap
    with pytest.raises(ConfigError, match=r"risk\.max_leverage: Input should be greater than 0"):
        load_live_config(_config_file(tmp_path, "[risk]\nmax_leverage = 0\n"))


def test_a_misspelt_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"exchange\.sandbx: Extra inputs .* Fix: did you mean 'sandbox'\?"
    ):
        load_live_config(_config_file(tmp_path, "[exchange]\nsandbx = false\n"))


def test_a_refused_value_is_quoted_redacted(tmp_path: Path) -> None:
    path = _config_file(tmp_path, 'alerts = ["https://hooks.example/send?token=s3cr3tvalue42"]\n')
    with pytest.raises(ConfigError, match=r"alerts\.0: Input should be a valid dictionary") as info:
        load_live_config(path)
    assert "s3cr3tvalue42" not in str(info.value)
    assert "token=***" in str(info.value)


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
