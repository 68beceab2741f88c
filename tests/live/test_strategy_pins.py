"""The live engine pins each user strategy file by its sha256 at start.

A strategy file in a temporary ``$QUANT_HOME/strategies`` (never the repository) runs in a paper
``quant live run`` configuration (a bounded replay of the bundled BTCUSDT hours) and its hash is
in the journal; editing it mid-run changes nothing the engine does and alerts once; a restart
with the changed file is refused, and accepted by the config's ``sha256`` pin; a file writable by
others, a pin that does not match and an unchecked strategy in live mode are refused before
anything starts.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.db import make_engine
from quantlib.exceptions import ConfigError
from quantlib.live.alerts import Alert, AlertKind
from quantlib.live.config import load_live_config
from quantlib.live.control import strategies_frame
from quantlib.live.engine import LiveEngine
from quantlib.live.journal import Journal
from quantlib.live.paper import Bar
from quantlib.live.redact import register_secret
from quantlib.live.runner import run_live
from quantlib.live.status import K, PinnedSource, read_status
from quantlib.live.strategy_pins import pin_strategies
from quantlib.strategy.user import record_check

MOMO = '''
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from quantlib.strategy import empty_signals


class Momo(BaseModel):
    """Long when the fast mean crosses above the slow one, out when it crosses back."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "momo"
    fast: int = 3
    slow: int = 8

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        close = bars["close"]
        above = close.rolling(self.fast).mean() > close.rolling(self.slow).mean()
        before = above.shift(1, fill_value=False)
        out["entry"] = (above & ~before).to_numpy(np.int8)
        out["exit"] = (~above & before).to_numpy()
        return out

    def engine_defaults(self) -> dict[str, Any]:
        return {}
'''
NEVER = MOMO.replace("(above & ~before).to_numpy(np.int8)", "np.zeros(len(bars), np.int8)")
NEVER_AGAIN = NEVER + "\n# edited once more\n"

CONFIG = """heartbeat_seconds = 60.0
mode = "{mode}"
[feed]
timeframe = "1h"
start = "2024-12-20"
end = "2024-12-23"
[[strategy]]
name = "m1"
strategy = "{strategy}"
symbol = "BTC/USDT"
data = "BTCUSDT"
mode = "auto"
fraction = 0.5
{extra}
"""


def sha(text: str) -> str:
    return hashlib.sha256(textwrap.dedent(text).encode()).hexdigest()


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    path.chmod(0o644)
    # A new stat key even within one clock tick (the registry re-reads on size/mtime/inode).
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$QUANT_HOME/strategies`` in the test's own folder (mode 0755), holding ``momo.py``."""
    home = tmp_path / "home"
    folder = home / "strategies"
    folder.mkdir(parents=True)
    for each in (tmp_path, home, folder):
        each.chmod(0o755)
    monkeypatch.setenv("QUANT_HOME", str(home))
    write(folder / "momo.py", MOMO)
    return folder


def config(tmp_path: Path, *, mode: str = "paper", strategy: str = "momo", extra: str = "") -> Path:
    path = tmp_path / f"live-{mode}-{strategy}.toml"
    path.write_text(CONFIG.format(mode=mode, strategy=strategy, extra=extra))
    return path


def journal_at(path: Path) -> Journal:
    return Journal(make_engine(f"sqlite:///{path}"))


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def of(self, kind: AlertKind) -> list[Alert]:
        return [a for a in self.alerts if a.kind is kind]


def fills(journal: Journal) -> list[tuple[int, str, float, float]]:
    return [(f.timestamp, f.side.value, f.amount, f.price) for f in journal.fills()]


def audits(journal: Journal, action: str) -> list[dict[str, Any]]:
    return [row["detail"] for row in journal.audit_rows(1_000) if row["action"] == action]


def pinned(journal: Journal, slot: str = "m1") -> PinnedSource:
    source = PinnedSource.from_json(journal.get_state(K.strategy_source(slot)))
    assert source is not None
    return source


def test_a_user_strategy_runs_in_a_paper_config_and_its_hash_is_in_the_journal(
    home: Path, tmp_path: Path
) -> None:
    journal = journal_at(tmp_path / "journal.db")

    summary = run_live(config(tmp_path), journal=journal, exit_at_end=True)

    assert summary.bars > 60
    assert len(journal.fills()) >= 2  # the user's strategy traded the replay
    source = pinned(journal)
    assert (source.strategy, source.origin) == ("momo", "user")
    assert source.path == str(home / "momo.py")
    assert source.sha256 == sha(MOMO)
    assert source.check == "unchecked"  # allowed in paper, with the warning recorded
    assert source.disk == "as pinned"
    (row,) = audits(journal, "strategy.pinned")
    assert row["sha256"] == sha(MOMO)
    assert row["path"] == str(home / "momo.py")
    assert row["warning"].startswith("unchecked: paper only")
    assert "quant strategy check momo" in row["warning"]
    assert journal.verify_audit().ok


def test_editing_the_file_mid_run_keeps_the_pinned_code_and_alerts_once(
    home: Path, tmp_path: Path
) -> None:
    unedited = journal_at(tmp_path / "unedited.db")
    run_live(config(tmp_path), journal=unedited, exit_at_end=True)
    expected = fills(unedited)
    assert len(expected) >= 2
    second_bar = 1_734_656_400_000  # 2024-12-20 01:00 UTC opens the replay's second bar
    assert expected[0][0] > second_bar  # the first entry comes after the edit below

    journal = journal_at(tmp_path / "edited.db")
    alerts = Recorder()

    def ready(engine: LiveEngine) -> None:
        engine.notifier = alerts
        inner, seen = engine.on_bar, [0]

        def editing(symbol: str, bar: Bar) -> list[str]:
            seen[0] += 1
            if seen[0] == 2:  # before the first entry: the new code would never trade
                write(home / "momo.py", NEVER)
            if seen[0] == 30:
                write(home / "momo.py", NEVER_AGAIN)
            return inner(symbol, bar)

        engine.on_bar = editing  # type: ignore[method-assign]

    run_live(config(tmp_path), journal=journal, exit_at_end=True, on_ready=ready)

    assert fills(journal) == expected  # the pinned code ran to the end
    assert journal.get_state(K.ERRORS) == "0"
    (alert,) = alerts.of(AlertKind.STRATEGY_CHANGED)  # two edits, one alert
    assert alert.message == (
        f"strategy file {home / 'momo.py'} changed on disk; the engine runs the pinned version "
        f"{sha(MOMO)[:12]}; a restart refuses the new file unless accepted "
        f'(sha256 = "{sha(NEVER)}" in its [[strategy]] table)'
    )
    (row,) = audits(journal, "strategy.file_changed")
    assert (row["pinned"], row["on_disk"], row["slots"]) == (sha(MOMO), sha(NEVER), ["m1"])
    source = pinned(journal)
    assert (source.sha256, source.disk, source.disk_sha256) == (
        sha(MOMO),
        "changed",
        sha(NEVER_AGAIN),
    )
    assert "file changed on disk" in source.line()

    # The edit would have mattered: the new code from the start never trades.
    fresh = journal_at(tmp_path / "fresh.db")
    run_live(config(tmp_path), journal=fresh, exit_at_end=True)
    assert fills(fresh) == []


def test_a_restart_with_a_changed_file_is_refused_and_accepted_by_the_config_pin(
    home: Path, tmp_path: Path
) -> None:
    journal = journal_at(tmp_path / "journal.db")
    run_live(config(tmp_path), journal=journal, max_bars=5)
    owner = journal.get_state(K.OWNER)
    rows = len(journal.audit_rows(10_000))
    write(home / "momo.py", NEVER)

    with pytest.raises(ConfigError) as refused:
        run_live(config(tmp_path), journal=journal, max_bars=5)

    message = str(refused.value)
    assert str(home / "momo.py") in message
    assert f"that run pinned sha256 {sha(MOMO)[:12]}, the file now has {sha(NEVER)[:12]}" in message
    assert f'Fix: review the change, then accept it with sha256 = "{sha(NEVER)}"' in message
    # Nothing half-started: the journal is as the last run left it.
    assert pinned(journal).sha256 == sha(MOMO)
    assert journal.get_state(K.OWNER) == owner
    assert len(journal.audit_rows(10_000)) == rows

    accept = f'sha256 = "{sha(NEVER)}"'
    run_live(config(tmp_path, extra=accept), journal=journal, max_bars=5)

    assert pinned(journal).sha256 == sha(NEVER)
    (accepted,) = audits(journal, "strategy.change_accepted")
    assert (accepted["from"], accepted["to"], accepted["slot"]) == (sha(MOMO), sha(NEVER), "m1")
    # The accepted hash is the one on record now: a plain restart runs.
    run_live(config(tmp_path), journal=journal, max_bars=5)


def test_a_file_that_does_not_match_its_config_pin_is_refused(home: Path, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(ConfigError, match=f"has sha256 {sha(MOMO)}, but its") as refused:
        pin_strategies(load_live_config(config(tmp_path, extra=f'sha256 = "{wrong}"')))
    assert f'set sha256 = "{sha(MOMO)}"' in str(refused.value)
    assert pin_strategies(load_live_config(config(tmp_path, extra=f'sha256 = "{sha(MOMO)}"')))

    with pytest.raises(ConfigError, match="is built in: it has no file to pin"):
        pin_strategies(
            load_live_config(config(tmp_path, strategy="hold", extra=f'sha256 = "{wrong}"'))
        )
    with pytest.raises(ConfigError, match=r"strategy\.0\.sha256: String should match pattern"):
        load_live_config(config(tmp_path, extra='sha256 = "ABC"'))


def test_a_file_writable_by_others_is_refused_before_anything_starts(
    home: Path, tmp_path: Path
) -> None:
    (home / "momo.py").chmod(0o666)
    journal = journal_at(tmp_path / "journal.db")

    with pytest.raises(ConfigError) as refused:
        run_live(config(tmp_path), journal=journal, exit_at_end=True)

    assert str(refused.value) == (
        f"refusing to start: strategy file {home / 'momo.py'} is writable by others (mode "
        "0666): anyone on this host could change the code the engine trades with. Fix: chmod "
        f"o-w {home / 'momo.py'}"
    )
    assert journal.get_state(K.MODE) is None
    assert journal.audit_rows() == []


def test_a_folder_writable_by_others_needs_the_sticky_bit(home: Path, tmp_path: Path) -> None:
    path = config(tmp_path)
    home.chmod(0o777)
    with pytest.raises(ConfigError, match=r"sits in folder .*strategies, writable by others"):
        pin_strategies(load_live_config(path))
    home.chmod(0o1777)  # like /tmp: only a file's owner may replace it
    (pin,) = pin_strategies(load_live_config(path))
    assert pin.source.sha256 == sha(MOMO)


def test_live_mode_refuses_an_unchecked_user_strategy(home: Path, tmp_path: Path) -> None:
    path = config(tmp_path, mode="live")
    journal = journal_at(tmp_path / "journal.db")

    with pytest.raises(ConfigError, match=r"Fix: run `quant strategy check momo`") as refused:
        run_live(path, journal=journal)  # refused before any exchange is reached
    assert 'is unchecked: mode = "live" trades real money only' in str(refused.value)
    assert journal.audit_rows() == []

    record_check("momo", sha(MOMO), False, "look-ahead at bar 12")
    with pytest.raises(ConfigError, match="is failed"):
        pin_strategies(load_live_config(path))
    record_check("momo", sha(MOMO), True, "all checks passed")
    (pin,) = pin_strategies(load_live_config(path))
    assert pin.check.state == "checked"
    assert pin_strategies(load_live_config(config(tmp_path, mode="live", strategy="hold")))


def test_status_and_panel_show_the_pinned_code(home: Path, tmp_path: Path) -> None:
    path = config(tmp_path)
    run_live(path, journal=Journal.open(), max_bars=3)  # the settings' journal, as the CLI's

    result = CliRunner().invoke(app, ["live", "status"])

    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("strategy m1:"))
    assert line == (
        f"strategy m1: momo · user file {home / 'momo.py'} · sha256 {sha(MOMO)[:12]} · unchecked "
        "(no passing check of its current source); run `quant strategy check momo`"
    )
    frame = strategies_frame(read_status(Journal.open(), 0))
    assert frame.to_dict("records") == [
        {
            "strategy": "m1",
            "runs": "momo",
            "code": f"user file {home / 'momo.py'}",
            "sha256": sha(MOMO)[:12],
            "check": "unchecked (no passing check of its current source); run "
            "`quant strategy check momo`",
            "on disk": "as pinned",
        }
    ]


def test_secrets_in_a_strategy_path_are_redacted_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-in-a-path-42"
    register_secret(secret)
    folder = tmp_path / secret / "strategies"
    folder.mkdir(parents=True)
    for each in (tmp_path, folder.parent, folder):
        each.chmod(0o755)
    monkeypatch.setenv("QUANT_HOME", str(folder.parent))
    write(folder / "momo.py", MOMO)
    journal = journal_at(tmp_path / "journal.db")
    alerts = Recorder()

    def ready(engine: LiveEngine) -> None:
        engine.notifier = alerts
        write(folder / "momo.py", NEVER)

    run_live(config(tmp_path), journal=journal, max_bars=3, on_ready=ready)

    (alert,) = alerts.of(AlertKind.STRATEGY_CHANGED)
    stored = [journal.get_state(K.strategy_source("m1")), *map(str, journal.audit_rows(1_000))]
    for text in (alert.message, str(alert.details), *stored):
        assert secret not in str(text)
    assert "***" in alert.message
