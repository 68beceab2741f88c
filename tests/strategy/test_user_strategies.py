"""Users' own strategies: files in $QUANT_HOME/strategies and installed packages' entry points."""

from __future__ import annotations

import os
import pickle
import sys
import textwrap
from pathlib import Path

import pytest

from quantlib.backtest import run_strategy
from quantlib.exceptions import ConfigError
from quantlib.strategy import STRATEGIES, make_strategy
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES, make_portfolio_strategy
from quantlib.strategy.user import (
    check_status,
    record_check,
    strategy_source,
    user_catalog,
    warmup_bars,
)
from quantlib.testing import make_ohlcv

RISING = '''
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib.strategy import empty_signals


class Rising(BaseModel):
    """Long after LOOKBACK rising closes in a row, out on the first falling close."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "rising"
    lookback: int = Field(LOOKBACK, ge=1, le=50, description="rising closes in a row")

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        up = (bars["close"].diff() > 0).astype(float)
        out["entry"] = (up.rolling(self.lookback).sum() == self.lookback).to_numpy(np.int8)
        out["exit"] = (bars["close"].diff() < 0).to_numpy()
        return out

    def warmup_bars(self) -> int:
        return self.lookback
'''


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    # A new stat key even within one clock tick (the catalog re-reads on size/mtime/inode).
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    return tmp_path / "strategies"


BARS = make_ohlcv([1, 2, 3, 4, 3, 4, 5, 6, 7, 6, 5, 6, 7, 8])


def test_a_file_in_the_folder_is_a_strategy_by_name(home: Path) -> None:
    write(home, "rising.py", RISING.replace("LOOKBACK", "3"))
    assert "rising" in STRATEGIES
    assert "rising" in list(STRATEGIES)
    strategy = make_strategy("rising", {"lookback": "2"})
    # Hand-worked: closes 1,2,3 rise twice by bar 2 -> entry at bars 2,3 (4 rises), 6,7,8, 12,13.
    entries = strategy.signals(BARS)["entry"].to_numpy().nonzero()[0].tolist()
    assert entries == [2, 3, 6, 7, 8, 12, 13]
    source = strategy_source("rising")
    assert source.origin == "user"
    assert source.path == home / "rising.py"
    assert source.sha256 is not None
    assert len(source.sha256) == 64
    assert warmup_bars(strategy) == 2
    # No engine_defaults() method: none apply, and the backtest runs.
    assert run_strategy(strategy, BARS).n_trades >= 1


def test_an_edited_file_is_read_again_without_a_restart(home: Path) -> None:
    path = write(home, "rising.py", RISING.replace("LOOKBACK", "3"))
    first = strategy_source("rising")
    assert make_strategy("rising").lookback == 3  # type: ignore[attr-defined]
    write(home, "rising.py", RISING.replace("LOOKBACK", "5"))
    assert make_strategy("rising").lookback == 5  # type: ignore[attr-defined]
    assert strategy_source("rising").sha256 != first.sha256
    path.unlink()
    assert "rising" not in STRATEGIES


def test_helpers_tests_and_hidden_files_are_not_strategy_files(home: Path) -> None:
    write(home, "_shared.py", "THRESHOLD = 2\n")
    write(home, "test_rising.py", "raise RuntimeError('a test file is not executed')\n")
    write(
        home,
        "rising.py",
        RISING.replace("LOOKBACK", "THRESHOLD").replace(
            "from quantlib.strategy import empty_signals",
            "from quantlib.strategy import empty_signals\n\nfrom ._shared import THRESHOLD",
        ),
    )
    assert make_strategy("rising").lookback == 2  # type: ignore[attr-defined]
    assert user_catalog().errors() == []


def test_a_broken_file_is_named_with_its_line_and_hides_nothing_else(home: Path) -> None:
    write(home, "rising.py", RISING.replace("LOOKBACK", "3"))
    write(home, "broken.py", "x = 1\ndef f(:\n")
    write(home, "fails.py", "import math\n\nraise ValueError('no data here')\n")
    errors = user_catalog().errors()
    assert any(e.startswith(f"{home / 'broken.py'}:2: SyntaxError") for e in errors), errors
    assert any(e.startswith(f"{home / 'fails.py'}:3: ValueError: no data here") for e in errors), (
        errors
    )
    assert "rising" in STRATEGIES
    with pytest.raises(ConfigError, match=r"2 strategy file\(s\) failed to load: .*broken.py:2"):
        make_strategy("broken")


def test_a_name_defined_twice_is_an_error_naming_both_places(home: Path) -> None:
    write(home, "a.py", RISING.replace("LOOKBACK", "3"))
    write(home, "b.py", RISING.replace("LOOKBACK", "4"))
    with pytest.raises(ConfigError) as caught:
        make_strategy("rising")
    message = str(caught.value)
    assert str(home / "a.py") in message
    assert str(home / "b.py") in message
    (home / "b.py").unlink()
    write(home, "c.py", RISING.replace("LOOKBACK", "3").replace('"rising"', '"sma_cross"'))
    with pytest.raises(ConfigError, match=r"defined twice: built-in .*SmaCross.* and user file"):
        make_strategy("sma_cross")


def test_a_class_that_is_not_a_signal_strategy_is_refused_clearly(home: Path) -> None:
    write(
        home,
        "odd.py",
        """
        from typing import ClassVar
        from pydantic import BaseModel

        class Odd(BaseModel):
            name: ClassVar[str] = "odd"
            def weights(self, bars):
                return None
        """,
    )
    assert "odd" not in STRATEGIES
    assert "odd" in PORTFOLIO_STRATEGIES
    with pytest.raises(ConfigError, match="unknown strategy 'odd'"):
        make_strategy("odd")


def test_a_portfolio_strategy_file_returns_weights(home: Path) -> None:
    write(
        home,
        "halves.py",
        """
        from typing import ClassVar
        import pandas as pd
        from pydantic import BaseModel, ConfigDict

        class Halves(BaseModel):
            model_config = ConfigDict(frozen=True, extra="forbid")
            name: ClassVar[str] = "halves"

            def weights(self, bars):
                index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in bars.values()))))
                return pd.DataFrame(0.5, index=index.rename("timestamp"), columns=list(bars))
        """,
    )
    strategy = make_portfolio_strategy("halves")
    bars = {"A": BARS, "B": BARS}
    assert strategy.weights(bars).to_numpy().tolist()[0] == [0.5, 0.5]
    assert strategy_source("halves", "weights").origin == "user"
    with pytest.raises(ConfigError, match="unknown strategy 'halves'"):
        make_strategy("halves")


def test_check_records_follow_the_source_hash(home: Path) -> None:
    write(home, "rising.py", RISING.replace("LOOKBACK", "3"))
    assert check_status("sma_cross").state == "built-in"
    assert check_status("sma_cross").trusted
    status = check_status("rising")
    assert status.state == "unchecked"
    assert not status.trusted
    assert "quant strategy check rising" in status.label
    record_check("rising", strategy_source("rising").sha256 or "", True, "5 checks passed")
    assert check_status("rising").state == "checked"
    assert check_status("rising").trusted
    write(home, "rising.py", RISING.replace("LOOKBACK", "4"))
    assert check_status("rising").state == "unchecked"
    record_check("rising", strategy_source("rising").sha256 or "", False, "future leaked")
    failed = check_status("rising")
    assert failed.state == "failed"
    assert "future leaked" in failed.label
    # A damaged record trusts nothing.
    (home / ".checks.json").write_text("{not json")
    assert check_status("rising").state == "unchecked"


def test_instances_pickle_for_worker_processes(home: Path) -> None:
    write(home, "rising.py", RISING.replace("LOOKBACK", "3"))
    strategy = make_strategy("rising", {"lookback": 4})
    assert pickle.loads(pickle.dumps(strategy)) == strategy


def test_a_bad_warmup_declaration_is_refused(home: Path) -> None:
    write(
        home,
        "rising.py",
        RISING.replace("LOOKBACK", "3").replace("return self.lookback", "return -1"),
    )
    with pytest.raises(ConfigError, match="warmup_bars"):
        warmup_bars(make_strategy("rising"))


def test_installed_packages_add_strategies_through_the_entry_point_group(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    package = site / "acme_strats"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        RISING.replace("LOOKBACK", "3").replace('"rising"', '"acme"')
    )
    info = site / "acme_strats-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strats\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[quantlib.strategies]\nacme = acme_strats:Rising\n")
    monkeypatch.syspath_prepend(str(site))
    catalog = user_catalog()
    monkeypatch.setattr(catalog, "_packages", None)
    try:
        source = strategy_source("acme")
        assert source.origin == "package"
        assert "acme-strats 1.0" in source.label
        assert make_strategy("acme").signals(BARS)["entry"].sum() > 0
        assert check_status("acme").state == "unchecked"
    finally:
        catalog._packages = None
        sys.modules.pop("acme_strats", None)


def test_an_unknown_name_lists_the_user_folder(home: Path) -> None:
    with pytest.raises(ConfigError, match=f"read from {home}"):
        make_strategy("nothing_like_it")
