"""The control panel shows the code each strategy runs, as the engine pinned it at start."""

from __future__ import annotations

import pytest

from quantlib.live.journal import Journal
from quantlib.live.status import K, PinnedSource
from quantlib.live.types import Role
from tests.apps.test_control_panel import PW, log_in, panel, seed_engine, store

SHA = "ab12cd34ef56" + "0" * 52


def test_viewer_sees_each_strategys_code_hash_and_check_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANT_PANEL_REFRESH_S", "3600")  # no real refresh timer in AppTest
    users = store()
    users.create_first_admin("ann", PW)
    users.add("vic", PW, Role.VIEWER)
    journal = Journal.open()
    seed_engine(journal)
    record = PinnedSource(
        strategy="momo",
        origin="user",
        location="/home/q/strategies/momo.py",
        path="/home/q/strategies/momo.py",
        sha256=SHA,
        check="unchecked",
        check_label="unchecked (no passing check of its current source); run "
        "`quant strategy check momo`",
        disk="changed",
        disk_sha256="ffff" + "0" * 60,
    )
    journal.set_state(K.strategy_source("sma"), record.to_json())

    app = log_in(panel(), "vic")

    assert "Strategy code (pinned at start)" in [h.value for h in app.subheader]
    table = app.dataframe[4].value
    assert table.to_dict("records") == [
        {
            "strategy": "sma",
            "runs": "momo",
            "code": "user file /home/q/strategies/momo.py",
            "sha256": "ab12cd34ef56",
            "check": record.check_label,
            "on disk": "file changed on disk (now ffff00000000); the engine runs the pinned "
            "ab12cd34ef56",
        }
    ]
