"""Sequence checking that keeps a local book an exact mirror of the exchange's, or says it is not.

Binance (spot and USD-M depth streams), per the exchange's documented procedure: buffer the diff
stream and note the first ``U``; take a snapshot and refuse it as stale when ``lastUpdateId < U``;
drop buffered events with ``u <= lastUpdateId``; then apply an event only if ``U <= local + 1`` (and,
on futures streams that carry it, ``pu`` equals the last applied ``u``), else the book is invalid and
must be resynced. Size 0 removes a level.

Bybit v5 ``orderbook.N`` streams: a ``snapshot`` message (or any message with ``u == 1``, the
service-restart marker) resets the book; each ``delta`` must carry ``u == previous u + 1``.

A refusal raises (``StaleSnapshot``, ``SequenceGap``, ``CrossedBook``) after marking the sync
``needs_resync``; nothing is applied from a message that is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot4.data.book.errors import BookNotReady, SequenceGap, StaleSnapshot
from bot4.data.book.l2 import L2Book, Level


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class DepthDiff:
    first_update_id: int  # U
    last_update_id: int  # u
    bids: list[Level]
    asks: list[Level]
    prev_update_id: int | None = None  # pu (futures streams only)
    ts_ms: int = 0

    def deltas(self) -> list[tuple[bool, int, int]]:
        return [(True, p, s) for p, s in self.bids] + [(False, p, s) for p, s in self.asks]


@dataclass(slots=True)
class BinanceDepthSync:
    """Drives an ``L2Book`` from a Binance diff stream plus REST snapshots."""

    book: L2Book = field(default_factory=L2Book)
    buffer: list[DepthDiff] = field(default_factory=list)
    needs_resync: bool = True
    last_event_ms: int = 0  # exchange time of the last applied message
    _chained: bool = False  # True once an event (not only the snapshot) has been applied

    def is_stale(self, now_ms: int, max_age_ms: int) -> bool:
        """True when invalid or silent for longer than ``max_age_ms`` (a stalled stream looks valid)."""
        return self.needs_resync or now_ms - self.last_event_ms > max_age_ms

    def on_diff(self, diff: DepthDiff) -> None:
        if self.needs_resync:
            self.buffer.append(diff)
            return
        self._apply(diff)

    def on_snapshot(self, snap: DepthSnapshot) -> None:
        if self.buffer and snap.last_update_id < self.buffer[0].first_update_id:
            raise StaleSnapshot(
                f"snapshot lastUpdateId {snap.last_update_id} is older than the first buffered event "
                f"U={self.buffer[0].first_update_id}: fetch the snapshot again"
            )
        self.book.load_snapshot(snap.bids, snap.asks, snap.last_update_id)
        self.last_event_ms = max(self.last_event_ms, snap.ts_ms)
        self._chained = False
        self.needs_resync = False
        pending = [d for d in self.buffer if d.last_update_id > snap.last_update_id]
        self.buffer.clear()
        for diff in pending:
            self._apply(diff)

    def _apply(self, diff: DepthDiff) -> None:
        local = self.book.last_update_id
        if diff.last_update_id <= local:
            return  # already contained in the snapshot
        gap = diff.first_update_id > local + 1
        if self._chained and diff.prev_update_id is not None and diff.prev_update_id != local:
            gap = True
        if gap:
            self._invalidate()
            raise SequenceGap(
                f"depth event U={diff.first_update_id} u={diff.last_update_id} pu={diff.prev_update_id} "
                f"does not follow the local book at update {local}: resync from a new snapshot"
            )
        try:
            self.book.apply_message(diff.deltas(), diff.last_update_id)
        except Exception:
            self._invalidate()
            raise
        self._chained = True
        self.last_event_ms = max(self.last_event_ms, diff.ts_ms)

    def _invalidate(self) -> None:
        self.needs_resync = True
        self.book.valid = False
        self.buffer.clear()


@dataclass(frozen=True, slots=True)
class BybitBookMessage:
    is_snapshot: bool
    update_id: int  # u
    seq: int
    ts_ms: int
    bids: list[Level]
    asks: list[Level]

    def deltas(self) -> list[tuple[bool, int, int]]:
        return [(True, p, s) for p, s in self.bids] + [(False, p, s) for p, s in self.asks]


@dataclass(slots=True)
class BybitBookSync:
    """Drives an ``L2Book`` from a Bybit v5 order-book stream."""

    book: L2Book = field(default_factory=L2Book)
    needs_resync: bool = True
    last_event_ms: int = 0

    def is_stale(self, now_ms: int, max_age_ms: int) -> bool:
        """True when invalid or silent for longer than ``max_age_ms``."""
        return self.needs_resync or now_ms - self.last_event_ms > max_age_ms

    def on_message(self, msg: BybitBookMessage) -> None:
        self._on_message(msg)
        self.last_event_ms = max(self.last_event_ms, msg.ts_ms)

    def _on_message(self, msg: BybitBookMessage) -> None:
        if msg.is_snapshot or msg.update_id == 1:
            self.needs_resync = True
            self.book.load_snapshot(msg.bids, msg.asks, msg.update_id)
            self.needs_resync = False
            return
        if self.needs_resync:
            raise BookNotReady(f"delta u={msg.update_id} arrived before a snapshot: wait for one")
        expected = self.book.last_update_id + 1
        if msg.update_id != expected:
            self.needs_resync = True
            self.book.valid = False
            raise SequenceGap(f"bybit delta u={msg.update_id}, expected {expected}: resubscribe for a snapshot")
        try:
            self.book.apply_message(msg.deltas(), msg.update_id)
        except Exception:
            self.needs_resync = True
            self.book.valid = False
            raise
