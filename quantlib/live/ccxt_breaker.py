"""The circuit breaker of the ccxt adapter: closed → open → half-open → closed.

An explicit "down" answer opens it at once, consecutive lost answers open it too; while it is
open every call raises :class:`~quantlib.live.errors.ExchangeDown` without touching the network
(see :mod:`quantlib.live.ccxt_exchange`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from quantlib.live.ccxt_errors import _Kind
from quantlib.live.errors import (
    ExchangeDown,
)

log = logging.getLogger("quantlib.live.ccxt_exchange")  # one logger name for the adapter


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class _CircuitBreaker:
    """Closed → open (after a "down" answer or consecutive lost ones) → half-open → closed.

    Thread-safe; times come from ``clock`` (epoch ms) so tests can move time.
    """

    def __init__(self, name: str, failures: int, cooldown_ms: int, clock: Callable[[], int]):
        self.name = name
        self.failures = failures
        self.cooldown_ms = cooldown_ms
        self.clock = clock
        self.state = "closed"
        self.consecutive = 0
        self.opened_at = 0
        self.probe_at = 0
        self._lock = threading.Lock()

    def admit(self, action: str) -> None:
        """Let a call through, or raise :class:`ExchangeDown` without touching the network."""
        with self._lock:
            if self.state == "closed":
                return
            now = self.clock()
            reopen_at = self.opened_at + self.cooldown_ms
            # A probe that never reported back (it raised a non-ccxt error) is replaced after
            # another cooldown, so the breaker cannot stay half-open forever.
            if (self.state == "open" and now >= reopen_at) or (
                self.state == "half_open" and now >= self.probe_at + self.cooldown_ms
            ):
                self.state, self.probe_at = "half_open", now
                log.warning("%s: circuit breaker half-open; probing with %s", self.name, action)
                return
            wait = (
                "a probe call is in flight"
                if self.state == "half_open"
                else (f"it retries in {max(0, reopen_at - now) / 1000:.1f} s")
            )
        raise ExchangeDown(
            f"{self.name}: {action} not sent: the circuit breaker is open after the exchange "
            f"was unavailable; {wait}. Nothing was sent, so nothing needs reconciling"
        )

    def settle(self, kind: _Kind | None) -> None:
        """Record a call's outcome: ``None`` or any answer from a reachable exchange closes."""
        with self._lock:
            if kind in (_Kind.DOWN, _Kind.MAINTENANCE) or (
                kind is _Kind.LOST
                and (self.state == "half_open" or self.consecutive + 1 >= self.failures)
            ):
                if self.state != "open":
                    log.warning("%s: circuit breaker opens (%s)", self.name, kind.value)
                self.state, self.opened_at = "open", self.clock()
                self.consecutive = 0
            elif kind is _Kind.LOST:
                self.consecutive += 1
            else:
                if self.state != "closed":
                    log.warning("%s: circuit breaker closes", self.name)
                self.state, self.consecutive = "closed", 0
