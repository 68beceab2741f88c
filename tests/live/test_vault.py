"""Tests of quantlib.live.vault: API keys encrypted at rest under a master key."""

from __future__ import annotations

import sys
import types

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from quantlib.exceptions import ConfigError
from quantlib.live.redact import redact
from quantlib.live.vault import ApiCredentials, Vault, master_key_from_env

KEY = Fernet.generate_key()
CREDS = ApiCredentials("binance", "vault-api-key-AAAA1111", "vault-secret-BBBB2222")


@pytest.fixture(autouse=True)
def no_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANT_MASTER_KEY", raising=False)
    # No keyring here either, even if one gets installed on a developer machine.
    monkeypatch.setitem(sys.modules, "keyring", None)


def test_roundtrip(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY, clock=lambda: 1_700_000_000_000)
    vault.store("binance-main", CREDS)
    kucoin = ApiCredentials("kucoin", "kc-key-123456", "kc-secret-123456", "kc-pass-123456")
    vault.store("kucoin", kucoin)
    assert vault.load("binance-main") == CREDS
    assert vault.load("kucoin") == kucoin
    assert vault.names() == ["binance-main", "kucoin"]
    with engine.connect() as conn:
        stamps = conn.execute(text("SELECT created_at FROM live_credentials")).scalars().all()
    assert stamps == [1_700_000_000_000, 1_700_000_000_000]


def test_store_replaces_existing_entry(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY)
    vault.store("main", CREDS)
    newer = ApiCredentials("binance", "rotated-key-123456", "rotated-secret-123456")
    vault.store("main", newer)
    assert vault.load("main") == newer
    assert vault.names() == ["main"]


def test_ciphertext_in_db_holds_neither_key_nor_secret(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY)
    vault.store("binance-main", CREDS)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM live_credentials")).mappings().all()
    assert len(rows) == 1
    raw = " ".join(str(value) for value in rows[0].values())
    for secret in (CREDS.api_key, CREDS.secret, KEY.decode()):
        assert secret not in raw
    assert rows[0]["exchange"] == "binance"


def test_wrong_master_key_is_a_clear_error(engine: Engine) -> None:
    Vault(engine, master_key=KEY).store("binance-main", CREDS)
    other = Vault(engine, master_key=Fernet.generate_key())
    with pytest.raises(
        ConfigError,
        match=r"cannot decrypt credentials 'binance-main': the master key is not the one",
    ):
        other.load("binance-main")


def test_swapped_ciphertext_is_detected(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY)
    vault.store("a-account", CREDS)
    vault.store("b-account", ApiCredentials("binance", "b-key-123456", "b-secret-123456"))
    with engine.begin() as conn:
        token = conn.execute(
            text("SELECT ciphertext FROM live_credentials WHERE name = 'a-account'")
        ).scalar_one()
        conn.execute(
            text("UPDATE live_credentials SET ciphertext = :t WHERE name = 'b-account'"),
            {"t": token},
        )
    with pytest.raises(ConfigError, match=r"'b-account' hold the ciphertext of another entry"):
        vault.load("b-account")


def test_unknown_name_lists_stored_names(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY)
    with pytest.raises(ConfigError, match=r"no stored credentials named 'x'; stored: none"):
        vault.load("x")
    vault.store("binance-main", CREDS)
    with pytest.raises(ConfigError, match=r"named 'binanse'; stored: 'binance-main'\. Fix"):
        vault.load("binanse")


def test_invalid_input_is_refused(engine: Engine) -> None:
    vault = Vault(engine, master_key=KEY)
    with pytest.raises(ConfigError, match=r"credential name must be 1-100 characters"):
        vault.store("bad name!", CREDS)
    with pytest.raises(ConfigError, match=r"credentials 'main': secret is empty"):
        vault.store("main", ApiCredentials("binance", "key-123456", ""))


def test_repr_hides_the_key_material() -> None:
    creds = ApiCredentials("kucoin", "kc-key-123456", "kc-secret-123456", "kc-pass-123456")
    assert repr(creds) == "ApiCredentials(exchange='kucoin', api_key=***, secret=***, password=***)"
    assert str(CREDS) == "ApiCredentials(exchange='binance', api_key=***, secret=***)"


def test_loaded_secrets_are_registered_for_redaction(engine: Engine) -> None:
    creds = ApiCredentials("binance", "fresh-key-ZZZZ9999", "fresh-secret-YYYY8888")
    Vault(engine, master_key=KEY).store("z", creds)
    assert redact("key fresh-key-ZZZZ9999 secret fresh-secret-YYYY8888") == "key *** secret ***"


def test_master_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANT_MASTER_KEY", KEY.decode())
    assert master_key_from_env() == KEY


def test_missing_master_key_says_how_to_create_one(engine: Engine) -> None:
    with pytest.raises(ConfigError, match=r"QUANT_MASTER_KEY is unset") as info:
        Vault(engine)
    assert "Fernet.generate_key().decode()" in str(info.value)


def test_malformed_master_key_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANT_MASTER_KEY", "not-a-real-key-but-maybe-a-secret")
    with pytest.raises(ConfigError, match=r"\$QUANT_MASTER_KEY is not a Fernet key") as info:
        master_key_from_env()
    assert "not-a-real-key" not in str(info.value)


def test_master_key_from_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("keyring")
    asked: list[tuple[str, str]] = []

    def get_password(service: str, username: str) -> str:
        asked.append((service, username))
        return KEY.decode()

    fake.get_password = get_password  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    assert master_key_from_env() == KEY
    assert asked == [("quant-workspace", "master-key")]
