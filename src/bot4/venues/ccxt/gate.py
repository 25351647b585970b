"""One gate in front of every REST request: obey Retry-After exactly and shed load near the limit.

Binance counts weight per IP, answers 429 with ``Retry-After`` and bans (418, 2 min to 3 days) a
client that keeps calling inside it (reliability.md rule 9, E1/E2). So after a 429/418 *nothing*
is sent until the wait is over: the gate raises at once, making no request. Near the limit it sheds
by priority: cancels always pass (unless blocked), new orders stop above ``order_share`` of the
weight budget, plain reads above ``read_share``.

Used weight is read from ``X-MBX-USED-WEIGHT-1M`` and decays linearly over the minute between
responses (an estimate: the venue's window is its own). Deadlines are on the monotonic clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, Protocol

from bot4.venues.ccxt.errors import RateLimitedError

Priority = Literal["cancel", "order", "read"]
NS = 1_000_000_000
MS = 1_000_000
WINDOW_NS = 60 * NS


class GateClock(Protocol):
    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class RequestGate:
    """Admission control for one venue connection (one IP): ``admit`` before, ``observe`` after."""

    def __init__(
        self,
        clock: GateClock,
        capacity_weight_1m: int,
        *,
        order_share: float = 0.9,
        read_share: float = 0.8,
        orders_10s_limit: int = 100,
        default_retry_after_s: float = 60.0,
    ) -> None:
        if capacity_weight_1m <= 0:
            raise ValueError(f"capacity_weight_1m: must be > 0 (got {capacity_weight_1m})")
        if not 0 < read_share <= order_share <= 1:
            raise ValueError(f"shares: need 0 < read_share <= order_share <= 1 (got {read_share}, {order_share})")
        self._clock = clock
        self.capacity = capacity_weight_1m
        self.order_share = order_share
        self.read_share = read_share
        self.orders_10s_limit = orders_10s_limit
        self.default_retry_after_s = default_retry_after_s
        self.used_weight = 0
        self.order_count_10s = 0
        self.requests = 0  # requests let through
        self.refused = 0  # requests refused here (never sent)
        self._used_at_ns = 0
        self._orders_at_ns = 0
        self._blocked_until_ns = 0
        self._banned_until_ns = 0

    def resize(self, capacity_weight_1m: int, orders_10s_limit: int | None = None) -> None:
        """Adopt the budget the venue publishes (``exchangeInfo.rateLimits``); shedding uses it at once."""
        if capacity_weight_1m <= 0:
            raise ValueError(f"capacity_weight_1m: must be > 0 (got {capacity_weight_1m})")
        if orders_10s_limit is not None and orders_10s_limit <= 0:
            raise ValueError(f"orders_10s_limit: must be > 0 (got {orders_10s_limit})")
        self.capacity = capacity_weight_1m
        if orders_10s_limit is not None:
            self.orders_10s_limit = orders_10s_limit

    # -- state -----------------------------------------------------------------------------------

    def _remaining_ns(self, until_ns: int) -> int:
        return max(0, until_ns - self._clock.monotonic_ns())

    @property
    def is_banned(self) -> bool:
        return self._remaining_ns(self._banned_until_ns) > 0

    @property
    def banned_until_ms(self) -> int:
        """Wall-clock ms when a 418 ban ends (0 when not banned)."""
        left = self._remaining_ns(self._banned_until_ns)
        return (self._clock.now_ns() + left) // MS if left else 0

    @property
    def blocked_until_ms(self) -> int:
        """Wall-clock ms when the current 429/418 wait ends (0 when free)."""
        left = self._remaining_ns(max(self._blocked_until_ns, self._banned_until_ns))
        return (self._clock.now_ns() + left) // MS if left else 0

    def pressure(self) -> float:
        """Estimated share of the weight budget in use now, in [0, 1] (1 while blocked)."""
        if self._remaining_ns(max(self._blocked_until_ns, self._banned_until_ns)):
            return 1.0
        elapsed = max(0, self._clock.monotonic_ns() - self._used_at_ns)
        used = self.used_weight - self.capacity * elapsed / WINDOW_NS
        return min(1.0, max(0.0, used / self.capacity))

    def _order_pressure(self) -> float:
        if self._clock.monotonic_ns() - self._orders_at_ns >= 10 * NS:
            return 0.0
        return self.order_count_10s / self.orders_10s_limit

    # -- admission -------------------------------------------------------------------------------

    def admit(self, priority: Priority, operation: str) -> None:
        """Raise ``RateLimitedError`` (nothing is sent) unless ``operation`` may go now."""
        wait_ns = self._remaining_ns(max(self._blocked_until_ns, self._banned_until_ns))
        if wait_ns:
            self.refused += 1
            what = "banned (418)" if self.is_banned else "rate limited (429)"
            raise RateLimitedError(
                f"{operation}: not sent, {what} for {wait_ns / NS:.1f} s more",
                wait_ns / NS,
                banned=self.is_banned,
            )
        if priority == "cancel":
            return
        p = self.pressure()
        share = self.order_share if priority == "order" else self.read_share
        if p > share or (priority == "order" and self._order_pressure() >= self.order_share):
            self.refused += 1
            raise RateLimitedError(
                f"{operation}: not sent, request weight at {p:.0%} of {self.capacity}/min "
                f"({priority} requests are shed above {share:.0%})",
                None,
            )

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Learn from one response: weight and order counters, and 429/418 ``Retry-After``."""
        self.requests += 1
        now = self._clock.monotonic_ns()
        h = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        used = _int(h.get("x-mbx-used-weight-1m"))
        if used is not None:
            self.used_weight, self._used_at_ns = used, now
        orders = _int(h.get("x-mbx-order-count-10s"))
        if orders is not None:
            self.order_count_10s, self._orders_at_ns = orders, now
        if status in (418, 429):
            retry = _float(h.get("retry-after"))
            wait_ns = int((retry if retry is not None else self.default_retry_after_s) * NS)
            self._blocked_until_ns = max(self._blocked_until_ns, now + wait_ns)
            if status == 418:
                self._banned_until_ns = max(self._banned_until_ns, now + wait_ns)

    def block(self, seconds: float, *, banned: bool = False) -> None:
        """Stop all requests for ``seconds`` (a limit learned from an error body rather than headers)."""
        until = self._clock.monotonic_ns() + int(seconds * NS)
        self._blocked_until_ns = max(self._blocked_until_ns, until)
        if banned:
            self._banned_until_ns = max(self._banned_until_ns, until)


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


__all__ = ["GateClock", "Priority", "RequestGate"]
