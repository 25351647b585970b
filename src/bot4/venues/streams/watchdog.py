"""Silence detection on the monotonic clock: a socket that stays open but says nothing looks healthy.

Binance keeps pinging while a stream carries no data (reliability.md C5, D3), so a feed cannot rely on
the connection to notice; it touches a ``Watchdog`` on every message and asks it how long it has been.
"""

from __future__ import annotations

from bot4.venues.streams.backoff import MonotonicClock

NS = 1_000_000_000


class Watchdog:
    """Last-message times per key (an instrument, or one user stream)."""

    def __init__(self, clock: MonotonicClock, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: must be > 0 (got {timeout_s})")
        self.clock = clock
        self.timeout_ns = int(timeout_s * NS)
        self._last: dict[str, int] = {}

    def touch(self, key: str) -> None:
        self._last[key] = self.clock.monotonic_ns()

    def forget(self, key: str) -> None:
        self._last.pop(key, None)

    def age_s(self, key: str) -> float | None:
        """Seconds since ``key`` was last touched; None when it never was."""
        last = self._last.get(key)
        return None if last is None else (self.clock.monotonic_ns() - last) / NS

    def expired(self, key: str) -> bool:
        """True when ``key`` was never touched or has been silent for longer than the timeout."""
        last = self._last.get(key)
        return last is None or self.clock.monotonic_ns() - last > self.timeout_ns
