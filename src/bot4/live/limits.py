"""The node's side of a venue rate limit (E1) and IP ban (E2).

The ccxt client's ``RequestGate`` already keeps every request from leaving after a 429 or 418. What
only the node can do: stop strategies from placing orders that would just be refused (E1: until the
``Retry-After`` passes, the gate's own deadline), and on a ban (E2, 2 minutes to 3 days) enter Pause
through the risk engine, raise an ALERT and write an audit row. While banned nothing probes the venue
(the node's periodic reconciliation skips itself rather than asking a gate that refuses); when the ban
ends, a REST resync and reconciliation must answer before entries are allowed again (Pause itself is
lifted by an operator, as for any automatic escalation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bot4.node")
HEAL_EVERY_NS = 1_000_000_000  # after a ban: one reconcile attempt per second at most
Alert = Callable[[str, str, str], None]  # (audit kind, subject, text)


class VenueLimitGuard:
    """Watches the client's request gate from the lane's order-poll tick; owns ``NodeGate.venue_ban``."""

    def __init__(
        self,
        request_gate: Any,
        node_gate: Any,
        *,
        monotonic_ns: Callable[[], int],
        alert: Alert,
        pause: Callable[[str], None],
        heal: Callable[[], bool],
    ) -> None:
        self.request_gate = request_gate  # None: a paper venue, nothing to watch
        self.node_gate = node_gate
        self.monotonic_ns = monotonic_ns
        self.alert = alert
        self.pause = pause
        self.heal = heal
        self.bans = 0  # bans seen (each one paused the node)
        self.heals = 0  # reconciles that re-enabled entries after a ban
        self._ban_until_ms = 0
        self._last_heal_ns: int | None = None
        node_gate.venue_limited = self.limited

    def limited(self) -> str | None:
        """Why no request may leave now (a 429's Retry-After or a 418 ban), or None."""
        g = self.request_gate
        if g is None:
            return None
        until = g.blocked_until_ms
        if not until:
            return None
        what = "banned (418)" if g.is_banned else "rate limited (429)"
        return f"venue {what} until {until} ms (Retry-After)"

    def tick(self) -> None:
        g = self.request_gate
        if g is None:
            return
        if g.is_banned:
            until = g.banned_until_ms
            if self.node_gate.venue_ban is None or until > self._ban_until_ms + 1000:
                self._banned(until)
            return
        if self.node_gate.venue_ban is not None:
            now = self.monotonic_ns()
            if self._last_heal_ns is not None and now - self._last_heal_ns < HEAL_EVERY_NS:
                return
            self._last_heal_ns = now
            if self.heal():
                log.info("venue ban over; resynced and reconciled: entries allowed again (mode unchanged)")
                self.node_gate.venue_ban = None
                self.heals += 1

    def _banned(self, until_ms: int) -> None:
        new = self.node_gate.venue_ban is None
        self._ban_until_ms = until_ms
        text = (
            f"venue IP ban (418) until {until_ms} ms: no request is sent until it ends; "
            "no new orders until a REST reconcile after it"
        )
        self.node_gate.venue_ban = text
        if new:
            self.bans += 1
            self._last_heal_ns = None
        self.alert("VENUE_BANNED", "", text)
        self.pause(f"venue banned: {text}")


__all__ = ["VenueLimitGuard"]
