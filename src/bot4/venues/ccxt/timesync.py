"""The venue's clock as seen from here: offset by round-trip midpoint, median of samples.

Signed requests need ``timestamp`` within ``recvWindow`` of the server and less than 1 s ahead of it
(-1021 otherwise), so a local clock 1 s fast fails every signed call. Each sample pairs the server's
time with the midpoint of our send and receive; the round trip is timed on the monotonic clock.
"Server now" is anchored to the monotonic clock, so a wall-clock step between syncs cannot move it;
the wall offset is kept for reporting (E3).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Protocol

MS = 1_000_000


class SyncClock(Protocol):
    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class TimeSync:
    """Estimate server time from ``fetch_server_ms`` (e.g. ``GET /api/v3/time``)."""

    def __init__(
        self,
        clock: SyncClock,
        fetch_server_ms: Callable[[], int],
        *,
        samples: int = 5,
        interval_s: float = 300.0,
    ) -> None:
        if samples < 1:
            raise ValueError(f"samples: must be >= 1 (got {samples})")
        if interval_s <= 0:
            raise ValueError(f"interval_s: must be > 0 (got {interval_s})")
        self._clock = clock
        self._fetch = fetch_server_ms
        self.samples = samples
        self.interval_ns = int(interval_s * 1e9)
        self.offset_ms: float | None = None  # server − local wall clock, for reports
        self.rtt_ms: float = 0.0  # median round trip of the last sync
        self.syncs = 0
        self._mono_offset_ms: float | None = None  # server − local monotonic
        self._synced_mono_ns = 0
        self._stale = True

    @property
    def synced(self) -> bool:
        return self._mono_offset_ms is not None

    def sync(self) -> float:
        """Measure now (``samples`` requests); returns the wall offset in ms. Venue errors propagate."""
        wall, mono, rtts = [], [], []
        for _ in range(self.samples):
            wall0, mono0 = self._clock.now_ns(), self._clock.monotonic_ns()
            server_ms = int(self._fetch())
            mono1 = self._clock.monotonic_ns()
            half = (mono1 - mono0) // 2
            wall.append(server_ms - (wall0 + half) / MS)
            mono.append(server_ms - (mono0 + half) / MS)
            rtts.append((mono1 - mono0) / MS)
        self.offset_ms = statistics.median(wall)
        self._mono_offset_ms = statistics.median(mono)
        self.rtt_ms = statistics.median(rtts)
        self._synced_mono_ns = self._clock.monotonic_ns()
        self._stale = False
        self.syncs += 1
        return self.offset_ms

    def invalidate(self) -> None:
        """The venue refused a timestamp (-1021): re-sync before the next signed request."""
        self._stale = True

    def due(self) -> bool:
        return self._stale or self._clock.monotonic_ns() - self._synced_mono_ns >= self.interval_ns

    def ensure(self) -> None:
        """Sync if never synced, invalidated, or older than ``interval_s``."""
        if self.due():
            self.sync()

    def server_now_ms(self) -> int:
        """The venue's current time in ms; never makes a request (callers ``ensure`` first).

        Before the first sync it is the local wall clock: signing must not fail, and the venue's
        -1021 then triggers the sync.
        """
        if self._mono_offset_ms is None:
            return self._clock.now_ns() // MS
        return int(self._clock.monotonic_ns() / MS + self._mono_offset_ms)


__all__ = ["SyncClock", "TimeSync"]
