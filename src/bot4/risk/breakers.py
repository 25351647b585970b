"""Circuit breakers: count bad observations in a time window and trip a control mode.

A breaker is CLOSED while things are normal. ``threshold`` bad observations within ``window_ns`` trip
it OPEN, which asks the risk engine for the configured mode. While OPEN it stays quiet for
``cooldown_ns`` (no repeated trips, no alert storm). After the cool-down it is HALF_OPEN: re-armed,
so a single bad observation trips it again at once, while ``probe_successes`` good ones close it fully.
Leaving the mode it tripped is still an operator decision; the breaker only decides when to trip.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from bot4.risk.modes import ControlMode


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        window_ns: int,
        cooldown_ns: int,
        mode: ControlMode,
        probe_successes: int = 3,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"breaker {name}: threshold must be at least 1, got {threshold}")
        if window_ns <= 0 or cooldown_ns <= 0:
            raise ValueError(f"breaker {name}: window_ns and cooldown_ns must be positive")
        self.name = name
        self.threshold = threshold
        self.window_ns = window_ns
        self.cooldown_ns = cooldown_ns
        self.mode = mode
        self.probe_successes = probe_successes
        self.state = BreakerState.CLOSED
        self.trips = 0
        self._bad: deque[int] = deque()
        self._opened_at = 0
        self._good_in_half_open = 0

    def poll(self, now: int) -> None:
        """Move OPEN -> HALF_OPEN once the cool-down is over."""
        if self.state is BreakerState.OPEN and now - self._opened_at >= self.cooldown_ns:
            self.state = BreakerState.HALF_OPEN
            self._good_in_half_open = 0
            self._bad.clear()

    def record(self, bad: bool, now: int) -> bool:
        """Feed one observation; return True exactly when this observation trips the breaker."""
        self.poll(now)
        state = self.state
        if state is BreakerState.OPEN:
            return False
        if not bad:
            if state is BreakerState.HALF_OPEN:
                self._good_in_half_open += 1
                if self._good_in_half_open >= self.probe_successes:
                    self.state = BreakerState.CLOSED
            return False
        if state is BreakerState.HALF_OPEN:
            return self._trip(now)
        bad_times = self._bad
        bad_times.append(now)
        while bad_times and now - bad_times[0] > self.window_ns:
            bad_times.popleft()
        if len(bad_times) >= self.threshold:
            return self._trip(now)
        return False

    def _trip(self, now: int) -> bool:
        self.state = BreakerState.OPEN
        self._opened_at = now
        self._bad.clear()
        self.trips += 1
        return True


class SpreadMonitor:
    """Learns the normal relative spread (EWMA) and flags quotes whose spread is a multiple above it."""

    def __init__(self, multiple: float, alpha: float = 0.02, warmup: int = 20, floor_bps: float = 0.0) -> None:
        self.multiple = multiple
        # On tick-bound books (BTC/USDT: one 0.01 tick on ~1e5) the normal spread is the tick itself, so a
        # 3-tick spread is "3x normal" yet costs well under 1 bp; the floor keeps such noise from tripping.
        self.floor = floor_bps / 10_000
        self.alpha = alpha
        self.warmup = warmup
        self.normal = 0.0
        self.seen = 0

    def observe(self, bid: float, ask: float) -> bool:
        """Return True when this spread is abnormal; abnormal spreads do not teach the baseline."""
        mid = (bid + ask) * 0.5
        if mid <= 0 or ask < bid:
            return True
        rel = (ask - bid) / mid
        if self.seen >= self.warmup and rel > max(self.multiple * self.normal, self.floor):
            return True
        self.seen += 1
        self.normal = rel if self.seen == 1 else self.normal + self.alpha * (rel - self.normal)
        return False
