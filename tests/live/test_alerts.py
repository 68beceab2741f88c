"""Alert notifiers: the log line, webhook delivery against a real HTTP receiver on 127.0.0.1
(retries, failures that never raise), fan-out, deduplication and the config factory."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from quantlib.exceptions import ConfigError
from quantlib.live.alerts import (
    Alert,
    AlertKind,
    Deduplicating,
    LogNotifier,
    MultiNotifier,
    Notifier,
    WebhookNotifier,
    notifier_from_config,
)

ALERT = Alert(AlertKind.HALT, "daily loss 3% reached", 1_700_000_000_000, {"equity": 9_700.0})


@dataclass
class Receiver:
    """What the local webhook receiver saw, and the statuses it answers with (then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, object]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.bodies.append(json.loads(body))
                state.content_types.append(self.headers["Content-Type"])
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/SECRET-TOKEN"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Collect:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)


def test_log_notifier_writes_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="quantlib.live.alerts")
    LogNotifier().send(ALERT)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("quantlib.live.alerts", logging.WARNING, "ALERT halt: daily loss 3% reached")
    ]


def test_webhook_posts_the_alert_as_json(receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url, sleep=Sleeps())
    notifier.send(ALERT)
    notifier.close()
    assert receiver.bodies == [
        {
            "kind": "halt",
            "message": "daily loss 3% reached",
            "at": 1_700_000_000_000,
            "details": {"equity": 9_700.0},
        }
    ]
    assert receiver.content_types == ["application/json"]


def test_webhook_retries_server_errors_and_delivers_once(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500, 500]
    sleeps = Sleeps()
    WebhookNotifier(receiver.url, retries=2, sleep=sleeps).send(ALERT)
    assert len(receiver.bodies) == 3  # two 500s, then the 200
    assert sleeps.calls == [0.5, 1.0]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_webhook_gives_up_after_bounded_retries_and_logs_without_the_secret(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503, 503, 503, 503]
    WebhookNotifier(receiver.url, retries=2, sleep=Sleeps()).send(ALERT)
    assert len(receiver.bodies) == 3
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages == [
        "alert halt not delivered to webhook at 127.0.0.1 after 3 attempt(s): HTTP 503"
    ]
    assert "SECRET-TOKEN" not in caplog.text


def test_webhook_does_not_retry_a_client_error(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [400]
    sleeps = Sleeps()
    WebhookNotifier(receiver.url, retries=2, sleep=sleeps).send(ALERT)
    assert (len(receiver.bodies), sleeps.calls) == (1, [])
    assert "after 1 attempt(s): HTTP 400" in caplog.text


def test_webhook_to_a_receiver_that_is_down_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    notifier = WebhookNotifier(f"http://127.0.0.1:{port}/alerts", timeout=1.0, sleep=sleeps)
    notifier.send(ALERT)  # must not raise
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "quantlib.live.alerts"
    assert record.getMessage().startswith(
        "alert halt not delivered to webhook at 127.0.0.1 after 3 attempt(s): ConnectionError"
    )
    assert sleeps.calls == [0.5, 1.0]


def test_webhook_serialises_details_that_are_not_json(receiver: Receiver) -> None:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    WebhookNotifier(receiver.url).send(Alert(AlertKind.ERROR, "boom", 1, {"when": when}))
    assert receiver.bodies[0]["details"] == {"when": "2024-01-02 00:00:00+00:00"}


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com", ""])
def test_webhook_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(ConfigError, match=r"webhook url must be an http:// or https:// URL"):
        WebhookNotifier(url)


def test_multi_notifier_keeps_going_when_one_notifier_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def send(self, alert: Alert) -> None:
            raise RuntimeError("disk full")

    first, last = Collect(), Collect()
    MultiNotifier([first, Broken(), last]).send(ALERT)
    assert (first.sent, last.sent) == ([ALERT], [ALERT])
    assert "notifier Broken failed on alert halt" in caplog.text


def test_deduplicating_sends_the_same_alert_once_per_window() -> None:
    inner = Collect()
    dedup = Deduplicating(inner, window_ms=60_000)
    for at in (0, 30_000, 59_999, 60_000, 60_001):
        dedup.send(Alert(AlertKind.STALE_DATA, "BTC/USDT: no bar for 2 h", at))
    dedup.send(Alert(AlertKind.STALE_DATA, "ETH/USDT: no bar for 2 h", 60_001))  # other message
    dedup.send(Alert(AlertKind.HALT, "BTC/USDT: no bar for 2 h", 60_001))  # other kind
    assert [(a.kind, a.message[:3], a.at) for a in inner.sent] == [
        (AlertKind.STALE_DATA, "BTC", 0),
        (AlertKind.STALE_DATA, "BTC", 60_000),
        (AlertKind.STALE_DATA, "ETH", 60_001),
        (AlertKind.HALT, "BTC", 60_001),
    ]


def test_notifier_from_config_builds_each_type(receiver: Receiver) -> None:
    assert isinstance(notifier_from_config([]), LogNotifier)
    assert isinstance(notifier_from_config([{"type": "log"}]), LogNotifier)
    multi = notifier_from_config(
        [
            {"type": "log"},
            {"type": "webhook", "url": receiver.url, "retries": 0, "dedup_window_ms": 1_000},
        ]
    )
    assert isinstance(multi, MultiNotifier)
    log, dedup = multi.notifiers
    assert isinstance(log, LogNotifier)
    assert isinstance(dedup, Deduplicating)
    assert isinstance(dedup.notifier, WebhookNotifier)
    assert (dedup.window_ms, dedup.notifier.retries) == (1_000, 0)
    multi.send(ALERT)
    multi.send(ALERT)  # deduplicated
    assert len(receiver.bodies) == 1
    assert isinstance(multi, Notifier)


def test_notifier_from_config_explains_mistakes() -> None:
    with pytest.raises(
        ConfigError, match=r"alerts\[0\].type must be one of .*did you mean 'webhook'"
    ):
        notifier_from_config([{"type": "webhok", "url": "http://127.0.0.1/x"}])
    with pytest.raises(
        ConfigError, match=r"alerts\[1\] \(webhook\) has unknown key\(s\) \['retry'\]"
    ):
        notifier_from_config([{"type": "log"}, {"type": "webhook", "url": "http://x", "retry": 1}])
    with pytest.raises(ConfigError, match=r"alerts\[0\] \(webhook\) needs a 'url'"):
        notifier_from_config([{"type": "webhook"}])
    with pytest.raises(ConfigError, match=r"retries must be >= 0, got -1"):
        notifier_from_config([{"type": "webhook", "url": "http://x", "retries": -1}])


# -- secrets ----------------------------------------------------------------------------------


def test_alert_message_and_details_are_redacted_when_made() -> None:
    alert = Alert(
        AlertKind.ORDER_REJECTED,
        "htx GET https://api.huobi.pro/v1/account/accounts?AccessKeyId=ab12cd34ef56&Signature=x9",
        1,
        {"request": {"KC-API-KEY": "kc-key-123456", "n": 1}},
    )

    body = json.dumps(alert.to_dict())

    assert "ab12cd34ef56" not in body
    assert "kc-key-123456" not in body
    assert alert.details == {"request": {"KC-API-KEY": "***", "n": 1}}


def test_a_webhook_that_cannot_be_reached_is_logged_without_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "T000/B000/SeCrEtWeBhOoKtOkEn"

    class Unreachable(requests.Session):
        def post(self, url: str | bytes, *args: object, **kwargs: object) -> requests.Response:
            # urllib3's wording: the host, and the path (which holds the token) alone.
            raise requests.ConnectionError(
                f"HTTPSConnectionPool(host='hooks.example.com', port=443): Max retries "
                f"exceeded with url: /services/{token} (Caused by NewConnectionError)"
            )

    notifier = WebhookNotifier(
        f"https://hooks.example.com/services/{token}",
        retries=0,
        session=Unreachable(),
        sleep=lambda _: None,
    )

    with caplog.at_level(logging.ERROR, logger="quantlib.live.alerts"):
        notifier.send(ALERT)

    assert "not delivered to webhook at hooks.example.com" in caplog.text
    assert token not in caplog.text
