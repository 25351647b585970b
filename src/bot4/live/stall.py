"""The stuck-call watchdog (reliability.md E4): a hanging venue call blocks new entries until a REST reconcile.

It runs on the asyncio loop and only reads the lane's current call (one immutable object), so it keeps
working while the lane is stuck. The only slow thing the lane does is venue I/O (engine, risk and
journal work is sub-millisecond), so a call running longer than ``stall_s`` is a hanging exchange.
Then, at once: new entries are blocked through the node gate (the same seam that blocks them on a
user-stream gap) and an alert is logged. Whatever the stuck call and the calls queued behind it do
when it returns is judged with entries still blocked; only after a REST resync and a reconciliation
have run on the lane (both answered, i.e. not "unknown") are entries allowed again. A heal that
cannot reach the venue is retried with backoff; it never counts as "nothing happened" (B3).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot4.live.gates import NodeGate
from bot4.live.lane import LaneBusy, TradingLane

log = logging.getLogger("bot4.node")


@dataclass(slots=True)
class StallEvent:
    """One stall episode, for status and tests (all times monotonic ns)."""

    label: str
    call_started_ns: int
    detected_ns: int
    returned_ns: int | None = None  # the stuck call (and any later stuck one) finished
    healed_ns: int | None = None  # the REST reconcile answered; entries allowed again
    heal_attempts: int = 0


@dataclass
class StallWatch:
    lane: TradingLane
    gate: NodeGate
    stall_s: float
    heal: Callable[[], Awaitable[bool]]  # resync + reconcile on the lane; True once the venue answered
    events: list[StallEvent] = field(default_factory=list)
    _stuck: LaneBusy | None = None
    _heal_task: asyncio.Task[None] | None = None

    @property
    def stalled(self) -> bool:
        return self._stuck is not None

    async def run(self) -> None:
        period = min(0.2, self.stall_s / 4)
        while True:
            await asyncio.sleep(period)
            self.check()

    def check(self) -> None:
        busy = self.lane.busy()
        now = self.lane.clock.monotonic_ns()
        if busy is not None and now - busy.started_ns > self.stall_s * 1e9:
            if self._stuck is None or busy.seq != self._stuck.seq:
                self._flag(busy, now)
            return
        if self._stuck is not None and (self._heal_task is None or self._heal_task.done()):
            ev = self.events[-1]
            if ev.returned_ns is None:
                ev.returned_ns = now
            self._heal_task = asyncio.ensure_future(self._heal_until_ok())

    def _flag(self, busy: LaneBusy, now: int) -> None:
        first = self._stuck is None
        self._stuck = busy
        held = (now - busy.started_ns) / 1e9
        reason = f"venue call {busy.label} running for {held:.1f} s (venue_stall_s = {self.stall_s:g})"
        self.gate.venue_stall = reason
        if first:
            self.events.append(StallEvent(busy.label, busy.started_ns, now))
            log.error(
                "ALERT venue call stuck: %s; new entries blocked until a REST reconcile after it returns (E4)",
                reason,
                extra={"queued": self.lane.queued()},
            )

    async def _heal_until_ok(self) -> None:
        delay = 0.2
        while True:
            stuck = self._stuck
            ev = self.events[-1]
            ev.heal_attempts += 1
            try:
                ok = await self.heal()
            except Exception:
                log.exception("stall heal raised; retrying")
                ok = False
            if self._stuck is not stuck:  # the heal itself (or a call before it) got stuck: wait for that one
                return
            if ok:
                self._stuck = None
                ev.healed_ns = self.lane.clock.monotonic_ns()
                log.info(
                    "venue calls complete again after a stall of %s; reconciled, entries allowed",
                    ev.label,
                    extra={"stalled_s": round((ev.healed_ns - ev.call_started_ns) / 1e9, 2)},
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def cancel(self) -> None:
        if self._heal_task is not None:
            self._heal_task.cancel()
