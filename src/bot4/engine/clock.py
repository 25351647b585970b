"""Clocks: the only place bot4 reads time.

Backtests advance a ``SimClock`` from the data, so the same inputs always give the same outputs;
live trading uses ``LiveClock``, the one class allowed to read the system clock.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from itertools import count


class SimClock:
    """Time that moves only when the driver says so, firing due timers in time order."""

    __slots__ = ("_now", "_seq", "_timers")

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[tuple[int, int, Callable[[int], None]]] = []
        self._seq = count()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def schedule(self, at_ns: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(at_ns)`` once the clock reaches ``at_ns`` (FIFO among equal times)."""
        heapq.heappush(self._timers, (at_ns, next(self._seq), callback))

    def advance_to(self, ts_ns: int) -> None:
        """Move to ``ts_ns`` (never backwards), firing every timer due on the way at its own time."""
        if ts_ns < self._now:
            raise ValueError(f"SimClock cannot go back from {self._now} to {ts_ns}")
        timers = self._timers
        while timers and timers[0][0] <= ts_ns:
            at, _, callback = heapq.heappop(timers)
            self._now = at
            callback(at)
        self._now = ts_ns


class LiveClock:
    """Wall-clock UTC time for stamping events and monotonic time for measuring durations."""

    __slots__ = ()

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()
