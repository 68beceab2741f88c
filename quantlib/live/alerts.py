"""Alert notifiers: tell a human when the live engine halts, loses its data or its heartbeat.

A :class:`Notifier` is anything with ``send(alert)``. The engine builds one from configuration
with :func:`notifier_from_config` and calls it on a HALT, the kill switch, stale data, a lost
heartbeat, a reconciliation mismatch, a rejected order or an unexpected error.

Two promises keep alerts from hurting the thing they watch:

* **Sending never raises.** A webhook that is down or answers 500 is retried a bounded number
  of times, then the failure is logged (``quantlib.live.alerts`` logger, ERROR) and the engine
  goes on: an alert failure must never stop a kill switch.
* **Repeats are bounded.** :class:`Deduplicating` sends the same kind and message once per
  window, since a stale-data alert raised on every bar would bury the one that matters.

Webhook URLs often carry a secret token (Slack, Discord), so logs name only the host. An
alert's message and details are redacted when it is made (:func:`quantlib.live.redact.redact`,
as log lines are), so no notifier can send an API key that an exchange error quoted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests

from quantlib._validation import check_choice, check_float, check_int
from quantlib.exceptions import ConfigError
from quantlib.live.redact import redact, redact_payload

__all__ = [
    "Alert",
    "AlertKind",
    "Deduplicating",
    "LogNotifier",
    "MultiNotifier",
    "Notifier",
    "WebhookNotifier",
    "add_alert_context",
    "notifier_from_config",
]

LOGGER_NAME = "quantlib.live.alerts"
logger = logging.getLogger(LOGGER_NAME)


class AlertKind(StrEnum):
    HALT = "halt"
    KILL_SWITCH = "kill_switch"
    STALE_DATA = "stale_data"
    HEARTBEAT_LOST = "heartbeat_lost"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    ORDER_REJECTED = "order_rejected"
    ERROR = "error"
    STRATEGY_CHANGED = "strategy_changed"  # a pinned strategy file changed on disk


@dataclass(frozen=True)
class Alert:
    """One alert: what happened (``kind``, ``message``), when (epoch ms) and the details."""

    kind: AlertKind
    message: str
    at: int
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Redacted once, here: every notifier (log, webhook, a test's recorder) sees the same.
        object.__setattr__(self, "message", redact(str(self.message)))
        object.__setattr__(self, "details", redact_payload(dict(self.details)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON body a webhook receives: ``{"kind", "message", "at", "details"}``, plus one
        key per :func:`add_alert_context` provider (e.g. ``"audit_checkpoint"``)."""
        body = {
            "kind": str(self.kind),
            "message": self.message,
            "at": self.at,
            "details": self.details,
        }
        for name, provider in list(_CONTEXT.items()):
            try:
                value = provider()
            except Exception:  # a context provider must never cost the alert
                logger.exception("alert context %r failed", name)
                continue
            if value is not None:
                body[name] = value
        return body


_CONTEXT: dict[str, Callable[[], Any]] = {}


def add_alert_context(name: str, provider: Callable[[], Any]) -> None:
    """Add ``name: provider()`` to the JSON body of every alert from now on (left out when it
    returns None). The journal adds its signed audit checkpoint this way, so every alert
    carries a copy of the audit log's anchor off the host."""
    _CONTEXT[name] = provider


@runtime_checkable
class Notifier(Protocol):
    """Anything that delivers alerts; ``send`` must not raise."""

    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    """Log each alert as one WARNING line, ``ALERT <kind>: <message>``, on ``quantlib.live.alerts``
    (or ``logger_name``)."""

    def __init__(self, logger_name: str = LOGGER_NAME) -> None:
        self._logger = logging.getLogger(logger_name)

    def send(self, alert: Alert) -> None:
        self._logger.warning("ALERT %s: %s", alert.kind, alert.message)


class WebhookNotifier:
    """POST each alert as JSON to ``url``, retrying server errors and connection failures.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` URL.
    timeout : float, default 3.0
        Seconds per attempt (connect and read).
    retries : int, default 2
        Extra attempts after the first (so at most ``retries + 1`` requests) on a connection
        error, a timeout, HTTP 429 or 5xx. Other 4xx answers are not retried: the request is
        wrong and will stay wrong.
    session : requests.Session, optional
        Reused for connection pooling; one is created when not given.
    sleep : callable, default time.sleep
        Waits ``backoff × 2**attempt`` seconds between attempts (tests pass a no-op).
    backoff : float, default 0.5

    Raises
    ------
    ConfigError
        If ``url`` is not an http(s) URL with a host.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        retries: int = 2,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"webhook url must be an http:// or https:// URL with a host, got {url!r}; "
                "e.g. 'https://hooks.example.com/alerts'"
            )
        self.url = url
        self.host = parts.hostname
        self.timeout = check_float("timeout", timeout, minimum=0.0, inclusive=False)
        self.retries = check_int("retries", retries, minimum=0)
        self.backoff = check_float("backoff", backoff, minimum=0.0)
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep

    def send(self, alert: Alert) -> None:
        """Deliver ``alert``; on final failure log an ERROR line and return."""
        # default=str: a detail that is not JSON (a datetime, a Decimal) must not lose the alert.
        body = json.dumps(alert.to_dict(), default=str)
        headers = {"Content-Type": "application/json"}
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._session.post(
                    self.url, data=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                # The exception's text holds the URL, and with it the webhook's token.
                problem = f"{type(exc).__name__}: {self._hide_url(str(exc))}"
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
        logger.error(
            "alert %s not delivered to webhook at %s after %d attempt(s): %s",
            alert.kind,
            self.host,
            attempt + 1,
            problem,
        )

    def _hide_url(self, text: str) -> str:
        """``text`` without the webhook's URL or its path (urllib3 quotes the path alone)."""
        parts = urlsplit(self.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        text = text.replace(self.url, f"<webhook at {self.host}>")
        if len(path) > 1:
            text = text.replace(path, "/<webhook path>")
        return redact(text)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()


class MultiNotifier:
    """Send every alert to each of ``notifiers``; one that raises does not stop the others."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = tuple(notifiers)

    def send(self, alert: Alert) -> None:
        for notifier in self.notifiers:
            try:
                notifier.send(alert)
            except Exception:
                # A third-party notifier broke its promise; the others must still be told.
                logger.exception(
                    "notifier %s failed on alert %s", type(notifier).__name__, alert.kind
                )


class Deduplicating:
    """Forward an alert unless the same kind and message went out less than ``window_ms`` ago.

    Time is the alerts' own ``at``, so replays deduplicate the same way as live runs.

    Examples
    --------
    >>> sent = []
    >>> class Collect:
    ...     def send(self, alert): sent.append(alert.at)
    >>> dedup = Deduplicating(Collect(), window_ms=1_000)
    >>> for at in (0, 500, 999, 1_000, 1_500):
    ...     dedup.send(Alert(AlertKind.STALE_DATA, "BTC/USDT stale", at))
    >>> sent
    [0, 1000]
    """

    def __init__(self, notifier: Notifier, window_ms: int) -> None:
        self.notifier = notifier
        self.window_ms = check_int("window_ms", window_ms, minimum=0)
        self._last: dict[tuple[str, str], int] = {}

    def send(self, alert: Alert) -> None:
        key = (str(alert.kind), alert.message)
        last = self._last.get(key)
        if last is not None and alert.at - last < self.window_ms:
            return
        self._last[key] = alert.at
        # Forget keys whose window has passed, so a long run does not grow the map forever.
        for old in [k for k, t in self._last.items() if alert.at - t >= self.window_ms]:
            if old != key:
                del self._last[old]
        self.notifier.send(alert)


_TYPES = ("log", "webhook")
_KEYS = {
    "log": {"type", "logger", "dedup_window_ms"},
    "webhook": {"type", "url", "timeout", "retries", "dedup_window_ms"},
}


def notifier_from_config(spec: Sequence[Mapping[str, Any]]) -> Notifier:
    """Build a notifier from a list of mappings, one per destination.

    ``{"type": "log"}`` (optional ``"logger"``) or ``{"type": "webhook", "url": ...}``
    (optional ``"timeout"``, ``"retries"``); any entry may add ``"dedup_window_ms"`` to wrap it
    in :class:`Deduplicating`. An empty list gives a :class:`LogNotifier`, so alerts always go
    somewhere.

    Raises
    ------
    ConfigError
        For an unknown type (with a "did you mean"), an unknown key, or a bad value.

    Examples
    --------
    >>> type(notifier_from_config([{"type": "log"}])).__name__
    'LogNotifier'
    >>> notifier_from_config([{"type": "slack"}])
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: alerts[0].type must be one of ['log', 'webhook'], got 'slack'
    """
    built: list[Notifier] = []
    for i, entry in enumerate(spec):
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"alerts[{i}] must be a mapping like {{'type': 'log'}}, got {entry!r}"
            )
        kind = check_choice(f"alerts[{i}].type", entry.get("type"), _TYPES)
        unknown = set(entry) - _KEYS[kind]
        if unknown:
            raise ConfigError(
                f"alerts[{i}] ({kind}) has unknown key(s) {sorted(unknown)}; "
                f"allowed: {sorted(_KEYS[kind])}"
            )
        notifier: Notifier
        if kind == "log":
            notifier = LogNotifier(str(entry.get("logger", LOGGER_NAME)))
        else:
            if "url" not in entry:
                raise ConfigError(f"alerts[{i}] (webhook) needs a 'url'")
            notifier = WebhookNotifier(
                entry["url"],
                timeout=entry.get("timeout", 3.0),
                retries=entry.get("retries", 2),
            )
        if "dedup_window_ms" in entry:
            notifier = Deduplicating(notifier, entry["dedup_window_ms"])
        built.append(notifier)
    if not built:
        return LogNotifier()
    return built[0] if len(built) == 1 else MultiNotifier(built)
