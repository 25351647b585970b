"""Request-weight limits per client IP: a token bucket that answers 429, then bans with 418.

Binance counts weight per IP, not per key. A request that does not fit gets HTTP 429 with
``Retry-After`` (seconds); a client that keeps sending during that back-off collects strikes and,
past ``ban_after`` strikes, is banned: every request then gets 418 with the ban's ``Retry-After``.
Time comes from the server clock's monotonic reading, so tests can drive it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Verdict:
    """``status`` 200 (go on), 429 or 418; ``retry_after_s`` for the refusals; ``used`` for the header."""

    status: int
    used: int
    retry_after_s: int = 0


@dataclass(slots=True)
class _Ip:
    tokens: float
    last_ns: int
    blocked_until_ns: int = 0
    banned_until_ns: int = 0
    strikes: int = 0


@dataclass(slots=True)
class WeightLimiter:
    """``capacity`` weight refilled evenly over ``window_s`` (1 minute, like ``X-MBX-USED-WEIGHT-1M``)."""

    capacity: int = 6000
    window_s: float = 60.0
    ban_after: int = 3
    ban_s: int = 120
    _ips: dict[str, _Ip] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.capacity <= 0:
            raise ValueError(f"capacity: must be > 0 (got {self.capacity})")
        if self.window_s <= 0:
            raise ValueError(f"window_s: must be > 0 (got {self.window_s})")

    @property
    def rate_per_ns(self) -> float:
        return self.capacity / (self.window_s * 1e9)

    def check(self, ip: str, weight: int, now_ns: int) -> Verdict:
        st = self._ips.get(ip)
        if st is None:
            st = self._ips[ip] = _Ip(float(self.capacity), now_ns)
        st.tokens = min(float(self.capacity), st.tokens + (now_ns - st.last_ns) * self.rate_per_ns)
        st.last_ns = now_ns
        used = self.capacity - int(st.tokens)
        if now_ns < st.banned_until_ns:
            return Verdict(418, used, _seconds(st.banned_until_ns - now_ns))
        if now_ns < st.blocked_until_ns:
            st.strikes += 1
            if st.strikes > self.ban_after:
                st.banned_until_ns = now_ns + self.ban_s * 1_000_000_000
                return Verdict(418, used, self.ban_s)
            return Verdict(429, used, _seconds(st.blocked_until_ns - now_ns))
        if weight > st.tokens:
            wait_ns = int((weight - st.tokens) / self.rate_per_ns)
            st.blocked_until_ns = now_ns + max(wait_ns, 1_000_000_000)
            st.strikes = 0
            return Verdict(429, used, _seconds(st.blocked_until_ns - now_ns))
        st.tokens -= weight
        st.strikes = 0
        return Verdict(200, self.capacity - int(st.tokens))

    def banned_until_ns(self, ip: str) -> int:
        st = self._ips.get(ip)
        return 0 if st is None else st.banned_until_ns


def _seconds(ns: int) -> int:
    return max(1, math.ceil(ns / 1e9))
