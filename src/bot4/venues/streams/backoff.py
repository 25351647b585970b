"""Reconnect delays: exponential, capped, with jitter from a seeded RNG so tests can replay them.

Written here rather than taken from ``tenacity``/``backoff``: those wrap a call in a retry decorator,
while a stream loop only needs the next delay (and a reset once a connection is good again).
"""

from __future__ import annotations

import random
from typing import Protocol


class MonotonicClock(Protocol):
    """The clock the streams need: wall time for stamps, monotonic time for every deadline."""

    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class Backoff:
    """``base * factor**n`` seconds, capped at ``cap``; each delay drawn uniformly from [d/2, d].

    Half the delay stays deterministic so a flapping venue is not hammered, and the random half keeps
    many clients (or many feeds of one process) from reconnecting in lockstep.
    """

    def __init__(
        self, base_s: float = 0.5, cap_s: float = 30.0, factor: float = 2.0, rng: random.Random | None = None
    ) -> None:
        if base_s <= 0 or cap_s < base_s or factor < 1:
            raise ValueError(f"Backoff: need 0 < base_s <= cap_s and factor >= 1 (got {base_s}, {cap_s}, {factor})")
        self.base_s = base_s
        self.cap_s = cap_s
        self.factor = factor
        self.rng = rng if rng is not None else random.Random(0)
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        top = min(self.cap_s, self.base_s * self.factor**self.attempt)
        self.attempt += 1
        return top / 2 + self.rng.random() * top / 2

    def reset(self) -> None:
        """A connection worked: the next failure starts from ``base_s`` again."""
        self.attempt = 0
