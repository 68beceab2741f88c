"""Tests of quantlib.live.redact: no secret reaches a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from quantlib.live.redact import (
    SecretFilter,
    install_redaction,
    redact,
    redact_payload,
    register_secret,
)

API_KEY = "k3yk3yk3yAPIKEY0123456789"
SIGNATURE = "abc123def456abc123def456"
SECRET = "my-registered-secret-value-42"

# What ccxt logs at DEBUG for a signed request (format of ccxt.base.exchange.fetch), sent at
# INFO here because install_redaction raises the ccxt logger to INFO.
CCXT_LINE = "%s %s, Request: %s %s"
CCXT_ARGS = (
    "POST",
    f"https://api.binance.com/api/v3/order?symbol=BTCUSDT&side=BUY&timestamp=1&signature={SIGNATURE}",
    {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"},
    None,
)


def _remove_filters(target: logging.Logger | logging.Handler) -> None:
    for existing in list(target.filters):
        if isinstance(existing, SecretFilter):
            target.removeFilter(existing)


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """A real StreamHandler on the root logger; removed with every filter afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    ccxt = logging.getLogger("ccxt")
    old_level, old_ccxt_level = root.level, ccxt.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        ccxt.setLevel(old_ccxt_level)
        for name in ("", "ccxt", "quantlib", "urllib3"):
            logger = logging.getLogger(name)
            _remove_filters(logger)
            for other in logger.handlers:
                _remove_filters(other)
        if logging.lastResort is not None:
            _remove_filters(logging.lastResort)


def test_ccxt_request_line_and_registered_secret_never_reach_handlers(
    root_stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret(SECRET)
    install_redaction()
    caplog.set_level(logging.DEBUG)
    install_redaction()  # again, after caplog added its handler to the root logger
    logger = logging.getLogger("ccxt.base.exchange")
    logger.info(CCXT_LINE, *CCXT_ARGS)
    logging.getLogger("quantlib.live.engine").warning("connected with %s", SECRET)
    try:
        # A bare value is caught only when registered (the vault registers what it loads).
        raise RuntimeError(f"exchange said: bad key {SECRET}, signature={SIGNATURE}")
    except RuntimeError:
        logging.getLogger("quantlib.live.ccxt").exception("order failed (secret %s)", SECRET)
    written = root_stream.getvalue()
    captured = caplog.text + "".join(record.getMessage() for record in caplog.records)
    for text in (written, captured):
        for leaked in (API_KEY, SIGNATURE, SECRET):
            assert leaked not in text
    assert (
        "ccxt.base.exchange INFO POST https://api.binance.com/api/v3/order?symbol=BTCUSDT"
        "&side=BUY&timestamp=1&signature=***, Request: " in written
    )
    assert "{'X-MBX-APIKEY': '***', 'Content-Type': 'application/x-www-form-urlencoded'}" in (
        written
    )
    assert "quantlib.live.engine WARNING connected with ***" in written
    assert "RuntimeError: exchange said: bad key ***, signature=***" in written


def test_child_logger_records_need_the_handler_filter(root_stream: io.StringIO) -> None:
    # Why install_redaction filters handlers: a filter on the "ccxt" logger alone misses
    # records created by its child "ccxt.base.exchange".
    logging.getLogger("ccxt").addFilter(SecretFilter())
    logging.getLogger("ccxt.base.exchange").warning(CCXT_LINE, *CCXT_ARGS)
    assert SIGNATURE in root_stream.getvalue()
    install_redaction()
    root_stream.truncate(0)
    root_stream.seek(0)
    logging.getLogger("ccxt.base.exchange").warning(CCXT_LINE, *CCXT_ARGS)
    assert SIGNATURE not in root_stream.getvalue()
    assert API_KEY not in root_stream.getvalue()


def test_install_sets_ccxt_to_info_and_is_idempotent(root_stream: io.StringIO) -> None:
    logging.getLogger("ccxt").setLevel(logging.DEBUG)
    install_redaction()
    install_redaction()
    assert logging.getLogger("ccxt").level == logging.INFO
    root = logging.getLogger()
    assert sum(isinstance(f, SecretFilter) for f in root.filters) == 1
    for handler in root.handlers:
        assert sum(isinstance(f, SecretFilter) for f in handler.filters) == 1
    logging.getLogger("ccxt.base.exchange").debug(CCXT_LINE, *CCXT_ARGS)
    assert root_stream.getvalue() == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /sapi?timestamp=1&signature=9f86d0818", "GET /sapi?timestamp=1&signature=***"),
        ('{"apiKey": "abcdef123", "symbol": "BTC"}', '{"apiKey": "***", "symbol": "BTC"}'),
        ("{'secret': 'abc\\'def', 'x': 1}", "{'secret': '***', 'x': 1}"),
        ('{"password": 123456789}', '{"password": ***}'),
        ("password=hunter2hunter2 user=bob", "password=*** user=bob"),
        ("passphrase: my pass", "passphrase: *** pass"),
        ("Authorization: Bearer eyJhbGciOi.xyz", "Authorization: Bearer ***"),
        ("KC-API-KEY: 5f1d2c KC-API-SIGN: zz9", "KC-API-KEY: *** KC-API-SIGN: ***"),
        ("OK-ACCESS-PASSPHRASE='p@ss w'", "OK-ACCESS-PASSPHRASE='***'"),
        ("api_secret = s3cr3t;next", "api_secret = ***;next"),
        ("signal=long designation: desk", "signal=long designation: desk"),
        ("secretive note", "secretive note"),
    ],
)
def test_redact_patterns(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_short_values_are_not_registered() -> None:
    register_secret("abc12")
    register_secret(None)
    assert redact("abc12 is short") == "abc12 is short"


def test_registered_secret_is_replaced_whole_and_url_encoded() -> None:
    register_secret("p@ss/word+99")
    register_secret("p@ss/word+99-longer")
    assert redact("a p@ss/word+99-longer b p@ss/word+99 c") == "a *** b *** c"
    assert redact("q=p%40ss%2Fword%2B99") == "q=***"


def test_redact_payload_redacts_nested_strings_and_credential_named_values() -> None:
    payload = {
        "error": "GET /v1/order?AccessKeyId=htx-key-0001&Signature=sig0001",
        "headers": {"OK-ACCESS-KEY": "okx-key-0001", "OK-ACCESS-PASSPHRASE": "pp-0001"},
        "items": ["bfx-apikey: bfx-key-0001", 3, None],
        "key": "engine.state",  # a state key is not a credential
        "amount": 0.1,
    }

    assert redact_payload(payload) == {
        "error": "GET /v1/order?AccessKeyId=***&Signature=***",
        "headers": {"OK-ACCESS-KEY": "***", "OK-ACCESS-PASSPHRASE": "***"},
        "items": ["bfx-apikey: ***", 3, None],
        "key": "engine.state",
        "amount": 0.1,
    }
