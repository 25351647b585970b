"""Per-instrument health of a market-data feed: a synced book *and* fresh data, reported on change.

Both conditions matter: a book can be exactly in sync yet frozen (the socket is open, the venue sends
nothing, D3), and data can be flowing into a book that a gap has invalidated (D1). Freshness counts
book updates only: trades resuming after a silence do not prove that no book update was missed. The node prices
orders only from an instrument that is healthy, so every transition goes to ``on_state`` at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot4.venues.streams.backoff import MonotonicClock
from bot4.venues.streams.watchdog import Watchdog

log = logging.getLogger(__name__)

StateCallback = Callable[[str, bool, str], None]  # (instrument_id, healthy, reason)


@dataclass(slots=True)
class FeedStats:
    """Counters a feed keeps for monitoring; tests assert on them."""

    messages: int = 0  # frames received
    gaps: int = 0  # sequence gaps (D1)
    resyncs: int = 0  # books rebuilt from a snapshot
    rejected_messages: int = 0  # well-formed JSON with unusable content: bad level, crossed book (D2)
    malformed: int = 0  # frames that are not JSON (E5)
    stale_snapshots: int = 0  # snapshots older than the buffered diffs, fetched again (D1)
    snapshot_errors: int = 0  # snapshot requests that failed (HTTP error, timeout, bad body)
    stale: int = 0  # times an instrument went silent past stale_after_s (D3)
    reconnects: int = 0
    callback_errors: int = 0  # exceptions raised by on_trade/on_quote/on_state (logged, never fatal)


class FeedHealth:
    """Book state plus a watchdog per instrument; ``check`` re-evaluates, firing ``on_state`` on changes."""

    def __init__(
        self, instruments: list[str], clock: MonotonicClock, stale_after_s: float, on_state: StateCallback
    ) -> None:
        self.stale_after_s = stale_after_s
        self.watchdog = Watchdog(clock, stale_after_s)
        self.stats = FeedStats()
        self._on_state = on_state
        self._book_ok = dict.fromkeys(instruments, False)
        self._why = dict.fromkeys(instruments, "not synced yet")
        self._reported = dict.fromkeys(instruments, False)

    def known(self, instrument_id: str) -> None:
        if instrument_id not in self._book_ok:
            raise KeyError(f"instrument_id {instrument_id!r} is not fed here (have {sorted(self._book_ok)})")

    def healthy(self, instrument_id: str) -> bool:
        """Evaluated now (not at the last check), so a silent feed is refused even between checks."""
        self.known(instrument_id)
        return self._book_ok[instrument_id] and not self.watchdog.expired(instrument_id)

    def set_book(self, instrument_id: str, ok: bool, why: str = "") -> None:
        self._book_ok[instrument_id] = ok
        if not ok:
            self._why[instrument_id] = why
        self.check(instrument_id)

    def check(self, instrument_id: str) -> None:
        now = self.healthy(instrument_id)
        if now == self._reported[instrument_id]:
            return
        self._reported[instrument_id] = now
        if now:
            reason = "book in sync, data fresh"
        elif self._book_ok[instrument_id]:
            age = self.watchdog.age_s(instrument_id)
            reason = f"stale: no book update for {age if age is not None else float('inf'):.1f} s"
            reason += f" (limit {self.stale_after_s:g} s)"
            self.stats.stale += 1
        else:
            reason = self._why[instrument_id]
        log.info("market data %s: %s (%s)", instrument_id, "healthy" if now else "UNHEALTHY", reason)
        self.call(self._on_state, instrument_id, now, reason)

    def call(self, fn: Callable[..., None], *args: object) -> None:
        """Run a user callback; its exception is logged and counted, never allowed to stop the feed."""
        try:
            fn(*args)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("market data callback %s raised", getattr(fn, "__name__", fn))

    async def watch(self) -> None:
        """Re-check every instrument a few times per ``stale_after_s`` until cancelled."""
        interval = min(0.5, self.stale_after_s / 4)
        while True:
            await asyncio.sleep(interval)
            for instrument_id in self._book_ok:
                self.check(instrument_id)
