"""The time the local exchange serves: wall time for ``serverTime``/``timestamp`` checks, monotonic for limits.

``LiveClock`` satisfies it; ``ManualClock`` lets unit tests move both readings by hand.
"""

from __future__ import annotations

from typing import Protocol


class ServerClock(Protocol):
    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class ManualClock:
    """Both readings move only through ``advance``, so rate limits and time windows are testable."""

    def __init__(self, now_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = now_ns
        self._mono = 0

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._mono

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError(f"ManualClock.advance: ns must be >= 0 (got {ns})")
        self._now += ns
        self._mono += ns
