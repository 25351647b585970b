"""The order manager: write-ahead intents, a strict state machine and fills applied exactly once.

Every order intent gets a deterministic client id (``<prefix><intent seq>``) and is committed to the
journal before it is sent. Nothing is re-sent: an ambiguous submit or cancel leaves the order in
flight and only a venue query (by client id) or a venue event settles it. Venue reports can arrive
late, twice or out of order; status only moves forward (terminal states absorb), the filled quantity
is the sum of fills deduplicated by trade id, and a venue cumulative above that sum marks a lost
fill that ``poll`` backfills from the venue's trade list.

Journal trouble never blocks the kill path (F3, B4): every write goes through ``WriteBehind``, which
queues order and fill updates while the journal cannot commit and replays them in order later. Strategy
intents keep the strict rule (committed or refused, and the manager halts). System (risk) reduce-only
intents, the kill switch's flattening, fall back to the fsynced emergency intent log when the journal
does not commit within ``OmsConfig.urgent_ms``; ``load`` reads that log back, so recovery settles those
client ids exactly once. Cancels are idempotent: they are sent even when nothing can be journaled.

Single-threaded by design: callers (strategies, the stream reader, the poll timer) run on one loop.
Listener callbacks are queued and run after the outermost call returns, so a listener that sends
orders never sees a half-applied report.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from bot4.execution.crashpoints import crashpoint
from bot4.execution.emergency import EmergencyLog, record_from_entry
from bot4.execution.errors import (
    FatalError,
    JournalError,
    RejectedError,
    TradingHalted,
    VenueError,
)
from bot4.execution.ledger import FillLedger
from bot4.execution.ports import Journal, MonotonicClock, VenueClient
from bot4.execution.records import ExecReport, FillRow, OrderRecord, OrderSnapshot, PositionRow
from bot4.execution.states import RANK, OmsStatus, is_legal
from bot4.execution.write_behind import WriteBehind
from bot4.model.enums import OrderType, Side
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID

DUPLICATE_ORDER_CODE = -2010
log = logging.getLogger(__name__)
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # what Binance accepts as newClientOrderId
NOT_RECOVERED = "not recovered yet: call recover() before trading"

OrderListener = Callable[[OrderRecord], None]
FillListener = Callable[[OrderRecord, Fill], None]
StatusListener = Callable[[OrderRecord, OmsStatus, str], None]


@dataclass(frozen=True, slots=True)
class OmsConfig:
    """``id_prefix`` marks our orders at the venue (adoption after a crash relies on it).

    ``caller_ids`` lets the caller choose each client id (the engine's per-strategy ids, which keep
    backtests reproducible and readable); the manager then only insists that an id is new to it.
    """

    id_prefix: str = "b4-"
    caller_ids: bool = False
    also_ours: tuple[str, ...] = ()  # more id prefixes of ours (e.g. the engine's own ``risk-`` flattening ids)
    inflight_timeout_ns: int = 2_000_000_000
    not_found_limit: int = 3
    # reduce-only orders with these id prefixes are the kill path's: they may use the emergency intent log
    emergency_prefixes: tuple[str, ...] = (f"{SYSTEM_STRATEGY_ID}-",)
    urgent_ms: int = 150  # how long a kill-path write waits for a database lock before falling back
    journal_retry_ns: int = 500_000_000  # how often a queued backlog is offered to the journal again

    def __post_init__(self) -> None:
        if not _SAFE.match(self.id_prefix):
            raise ValueError(f"id_prefix: 1-20 characters of [A-Za-z0-9_-] (got {self.id_prefix!r})")
        if self.inflight_timeout_ns < 0:
            raise ValueError(f"inflight_timeout_ns: must be >= 0 (got {self.inflight_timeout_ns})")
        if self.not_found_limit < 1:
            raise ValueError(f"not_found_limit: must be >= 1 (got {self.not_found_limit})")
        if self.urgent_ms < 0 or self.journal_retry_ns < 0:
            raise ValueError(
                f"urgent_ms, journal_retry_ns: must be >= 0 (got {self.urgent_ms}, {self.journal_retry_ns})"
            )


class OrderManager:
    def __init__(
        self, venue: VenueClient, journal: Journal, clock: MonotonicClock, config: OmsConfig | None = None
    ) -> None:
        self.venue = venue
        self.journal = journal
        self.clock = clock
        self.config = config or OmsConfig()
        path = journal.emergency_log_path
        self.writes = WriteBehind(
            journal,
            clock,
            EmergencyLog(path) if path is not None else None,
            urgent_ms=self.config.urgent_ms,
            retry_ns=self.config.journal_retry_ns,
        )
        self.ledger = FillLedger()
        self.orders: dict[str, OrderRecord] = {}
        self.halted_reason: str | None = NOT_RECOVERED
        self.meta: dict[str, str] = {}
        self.adopted: list[str] = []  # venue orders with our prefix the journal did not know (it regressed)
        self._next_seq = 1
        self._cancel_sent_ns: dict[str, int] = {}
        self._cancel_wanted: set[str] = set()
        self._order_listeners: list[OrderListener] = []
        self._fill_listeners: list[FillListener] = []
        self._status_listeners: list[StatusListener] = []
        self._pending: deque[Callable[[], None]] = deque()
        self._journal_halt: str | None = None  # the halt reason when it is the journal's (kill-path orders pass)
        self._depth = 0
        venue.set_listener(self.on_report)

    # -- lifecycle -------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the journal into memory (recovery calls this first), with the emergency log's intents."""
        self.writes.flush(force=True, wait_ms=None)  # queued writes belong in the snapshot when they can go in
        snap = self.journal.load()
        self.orders = {r.client_order_id: r for r in snap.orders}
        self.ledger = FillLedger()
        self.ledger.load(snap.fills, snap.positions, snap.fees)
        self.meta = dict(snap.meta)
        self._next_seq = max(snap.next_intent_seq, 1)
        self._load_emergency_log()

    def _load_emergency_log(self) -> None:
        """Intents sent while the journal was down (a crash before the replay): journal them, in flight."""
        elog = self.writes.emergency_log
        if elog is None:
            return
        entries = elog.entries()
        if not entries:
            return
        for entry in entries:
            cid = str(entry.get("client_order_id", ""))
            if entry.get("kind") == "cancel":
                self.writes.event("EMERGENCY_CANCEL", cid, str(entry.get("reason", "")))
            elif entry.get("kind") == "intent" and cid not in self.orders:
                rec = record_from_entry(entry)
                self.orders[cid] = rec
                self._next_seq = max(self._next_seq, rec.intent_seq + 1)
                self.writes.order(rec, "replay emergency intent")
                self.writes.event("EMERGENCY_INTENT_REPLAYED", cid, "sent while the journal was down")
        if not self.writes.degraded:
            elog.clear()

    @property
    def journal_down(self) -> str | None:
        """Why journal writes are queued (None when they go through); strategy intents are refused meanwhile."""
        return self.writes.down if self.writes.degraded else None

    def flush_journal(self, *, force: bool = False) -> bool:
        """Replay queued journal writes; True when nothing is left queued."""
        return self.writes.flush(force=force)

    def record_event(self, kind: str, client_order_id: str, detail: str) -> None:
        """Audit line that never blocks on a locked journal (queued in order until it commits)."""
        self.writes.event(kind, client_order_id, detail)

    def halt(self, reason: str) -> None:
        self.halted_reason = reason
        self._safe_meta("halted", reason)

    def resume(self) -> None:
        self.halted_reason = self._journal_halt = None
        self._safe_meta("halted", "")

    def on_order(self, listener: OrderListener) -> None:
        self._order_listeners.append(listener)

    def on_fill(self, listener: FillListener) -> None:
        self._fill_listeners.append(listener)

    def on_status(self, listener: StatusListener) -> None:
        """Like ``on_order``, but with the status and reason as they were when the change happened.

        Listeners run after the outermost call returns, when the record may have moved on (an ack and
        a fill in one response); a listener that must see every step in order uses this one.
        """
        self._status_listeners.append(listener)

    # -- queries ---------------------------------------------------------------------------------

    def get(self, client_order_id: str) -> OrderRecord:
        rec = self.orders.get(client_order_id)
        if rec is None:
            raise KeyError(f"client_order_id: no order {client_order_id!r} in the order manager")
        return rec

    def working(self, instrument_id: str | None = None) -> list[OrderRecord]:
        return [
            r
            for r in self.orders.values()
            if r.status.is_working and (instrument_id is None or r.order.instrument_id == instrument_id)
        ]

    def position(self, instrument_id: str) -> PositionRow:
        return self.ledger.position(self.venue.name, instrument_id)

    def is_ours(self, client_order_id: str) -> bool:
        return client_order_id.startswith((self.config.id_prefix, *self.config.also_ours))

    # -- order entry -----------------------------------------------------------------------------

    def next_client_id(self) -> str:
        """The id the next intent will get; deterministic from the journal's intent count."""
        return f"{self.config.id_prefix}{self._next_seq}"

    def new_order(
        self, instrument: Instrument, *, role: str = "ENTRY", parent_id: str = "", **fields: object
    ) -> OrderRecord:
        """Build the order with the next deterministic client id (``Order.create`` checks every field) and send it."""
        order = Order.create(instrument, client_order_id=self.next_client_id(), **fields)  # type: ignore[arg-type]
        return self.submit(order, role=role, parent_id=parent_id)

    def is_emergency(self, order: Order) -> bool:
        """A kill-path order: reduce-only with a system id prefix (the engine's ``risk-N`` flattening)."""
        return order.reduce_only and order.client_order_id.startswith(self.config.emergency_prefixes)

    def submit(self, order: Order, *, role: str = "ENTRY", parent_id: str = "") -> OrderRecord:
        """Commit the intent, then send it once. Raises ``TradingHalted`` when trading is off.

        A kill-path order (``is_emergency``) still goes out when the only halt is the journal's: its
        intent is then made durable in the emergency log instead.
        """
        emergency = self.is_emergency(order)
        if self.halted_reason is not None and not (emergency and self.halted_reason == self._journal_halt):
            raise TradingHalted(f"order {order.client_order_id} refused: {self.halted_reason}")
        cid = order.client_order_id
        if self.config.caller_ids:
            if not _SAFE_ID.match(cid):
                raise ValueError(f"client_order_id: 1-36 characters of [A-Za-z0-9_-] (got {cid!r})")
            if cid in self.orders:
                raise ValueError(f"client_order_id: {cid!r} is already used by an order of this account")
        elif cid != self.next_client_id():
            raise ValueError(
                f"client_order_id: expected the next deterministic id {self.next_client_id()!r}, got {cid!r}"
            )
        rec = OrderRecord(cid, self._next_seq, self.venue.name, order, role, parent_id, OmsStatus.PENDING_SEND)
        with self.writes.urgent() if emergency else contextlib.nullcontext():
            try:
                if emergency:
                    self.writes.emergency_intent(rec)
                else:
                    self.writes.strict_intent(rec)
            except JournalError as exc:
                self.halted_reason = self._journal_halt = f"journal cannot commit intents: {exc}"
                raise TradingHalted(f"order {cid} not sent: intent not committed ({exc})") from exc
            self._next_seq += 1
            self.orders[cid] = rec
            crashpoint("intent.persisted")
            rec.status = OmsStatus.IN_FLIGHT
            rec.sent_mono_ns = self.clock.monotonic_ns()
            self._depth += 1
            try:
                self._send(rec)
            finally:
                self._depth -= 1
                self._drain()
        return rec

    def _send(self, rec: OrderRecord) -> None:
        try:
            reports = self.venue.submit(rec.order)
        except RejectedError as exc:
            if exc.code == DUPLICATE_ORDER_CODE and "uplicate" in exc.reason:
                self.settle(rec)  # "Duplicate order sent": it exists; go and read it
                return
            self._set_status(rec, OmsStatus.REJECTED, reason=f"{exc.code}: {exc.reason}")
            return
        except FatalError as exc:
            self.halt(f"venue error on submit of {rec.client_order_id}: {exc}")
            self._commit(rec)
            return
        except VenueError:
            self._commit(rec)  # unknown outcome: stays IN_FLIGHT until a query or an event settles it
            return
        crashpoint("order.ack_received")
        if not reports:
            self._commit(rec)
        for r in reports:
            self.on_report(r)

    def cancel(self, client_order_id: str) -> bool:
        """Ask the venue to cancel; False when there is nothing to cancel. Never assumes the outcome."""
        rec = self.get(client_order_id)
        if rec.status.is_terminal or rec.status is OmsStatus.PENDING_CANCEL:
            return False
        if rec.status in (OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT):
            self._cancel_wanted.add(client_order_id)  # sent once the venue confirms it booked the order
            return True
        # a cancel must work even when storage fails (pause mode is cancel-only): it is idempotent, so its
        # journal writes wait at most ``urgent_ms`` and then queue; the venue's answer is read again at recovery
        with self.writes.urgent():
            self._set_status(rec, OmsStatus.PENDING_CANCEL)
            self._cancel_sent_ns[client_order_id] = self.clock.monotonic_ns()
            self._depth += 1
            try:
                reports = self.venue.cancel(client_order_id, rec.order.instrument_id)
                self.writes.note_cancel(client_order_id, "sent while the journal was down")
                for r in reports:
                    self.on_report(r)
            except RejectedError:
                self.settle(rec)  # e.g. -2011 unknown order: it may have just filled; read, never guess
            except VenueError:
                pass  # unknown outcome: PENDING_CANCEL until an event or ``poll`` settles it
            finally:
                self._depth -= 1
                self._drain()
        return True

    def cancel_all(self, reason: str) -> int:
        sent = sum(self.cancel(r.client_order_id) for r in list(self.working()))
        crashpoint("killswitch.cancel_sent")
        self.writes.event("CANCEL_ALL", "", f"{sent} cancels: {reason}")
        return sent

    # -- venue reports ---------------------------------------------------------------------------

    def on_report(self, report: ExecReport) -> None:
        """Apply one venue report; duplicates, stale and out-of-order reports change nothing they shouldn't."""
        rec = self.orders.get(report.client_order_id)
        if rec is None:
            self._depth += 1
            try:
                rec = self._adopt_unknown(report.client_order_id, report)
            finally:
                self._depth -= 1
            if rec is None:
                return
        self._depth += 1
        try:
            self._apply_report(rec, report)
        finally:
            self._depth -= 1
            self._drain()

    def _apply_report(self, rec: OrderRecord, report: ExecReport) -> None:
        if report.fill is not None:
            self.apply_fill(rec, report.fill, report.trade_seq, report.cum_quantity)
        changed = False
        if report.cum_quantity > rec.reported_cum:
            rec.reported_cum = report.cum_quantity
            changed = True
        if report.seq > rec.last_seq:
            rec.last_seq = report.seq
            changed = True
        if report.cancel_refused:
            if rec.status is OmsStatus.PENDING_CANCEL:
                self._set_status(rec, _open_status(rec), reason=report.reason)
                changed = False
        elif report.status is not None and self._advance(rec, report.status, report.reason):
            changed = False
        if changed:
            self._commit(rec)

    def _advance(self, rec: OrderRecord, target: OmsStatus, reason: str = "", confirmed: bool = False) -> bool:
        """Move toward ``target`` if that is progress; True when the status changed (and was journaled)."""
        cur = rec.status
        if cur is OmsStatus.FAILED and target is not cur:
            return self._late_booking(rec, target)
        if cur.is_terminal or target is cur:
            if target is not cur:
                self.writes.event("LATE_EVENT_ABSORBED", rec.client_order_id, f"{cur} ignores {target}")
            return False
        if target is OmsStatus.ACCEPTED and rec.filled_qty > 0:
            target = OmsStatus.PARTIALLY_FILLED
        if cur is OmsStatus.PENDING_CANCEL and not target.is_terminal and not confirmed:
            return False  # still waiting for the cancel's outcome
        if target.is_terminal or RANK[target] > RANK[cur] or (confirmed and cur is OmsStatus.PENDING_CANCEL):
            return self._set_status(rec, target, reason=reason)
        return False

    def _set_status(self, rec: OrderRecord, status: OmsStatus, reason: str = "") -> bool:
        if status is rec.status:
            return False
        if not is_legal(rec.status, status):
            self.writes.event("ILLEGAL_TRANSITION", rec.client_order_id, f"{rec.status} -> {status}")
            return False
        rec.status = status
        if reason:
            rec.reason = reason
        self._commit(rec)
        if status in (OmsStatus.ACCEPTED, OmsStatus.PARTIALLY_FILLED) and rec.client_order_id in self._cancel_wanted:
            self._cancel_wanted.discard(rec.client_order_id)
            self._pending.append(lambda: self._deferred_cancel(rec.client_order_id))
        if status.is_terminal:
            self._cancel_wanted.discard(rec.client_order_id)
            self._cancel_sent_ns.pop(rec.client_order_id, None)
        self._notify_order(rec)
        return True

    def _late_booking(self, rec: OrderRecord, target: OmsStatus) -> bool:
        """Reality wins: the venue booked an intent we had marked FAILED. Adopt the venue's state, never re-send.

        FAILED is terminal for every ordinary report; this is its one exit, taken only on the venue's own
        word (a stream event, a query answer or recovery) and recorded as an alert in the audit trail.
        """
        if target in (OmsStatus.INITIALIZED, OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT, OmsStatus.PENDING_CANCEL):
            return False
        if target is OmsStatus.ACCEPTED and rec.filled_qty > 0:
            target = OmsStatus.PARTIALLY_FILLED
        self.writes.event(
            "LATE_BOOKING", rec.client_order_id, f"late booking of a failed intent: the venue reports {target}"
        )
        log.warning("late booking of a failed intent %s: the venue reports %s", rec.client_order_id, target)
        rec.status = target
        rec.not_found = 0
        rec.reason = f"late booking of a failed intent (venue: {target})"
        self._commit(rec)
        if target.is_terminal:
            self._cancel_wanted.discard(rec.client_order_id)
            self._cancel_sent_ns.pop(rec.client_order_id, None)
        self._notify_order(rec)
        return True

    def _deferred_cancel(self, client_order_id: str) -> None:
        self.cancel(client_order_id)

    def apply_fill(self, rec: OrderRecord, fill: Fill, trade_seq: int, reported_cum: Decimal = ZERO) -> bool:
        """Apply a fill once: fill, order and position are one journal transaction. False for a duplicate."""
        venue = self.venue.name
        if not fill.strategy_id and rec.order.strategy_id:  # a trade list knows no strategy: credit the order's
            fill = replace(fill, strategy_id=rec.order.strategy_id)
        if self.ledger.seen(venue, fill):
            self.writes.event("DUPLICATE_FILL_DROPPED", rec.client_order_id, fill.trade_id)
            return False
        crashpoint("fill.received")
        position, fee = self.ledger.preview(venue, fill)
        new = replace(
            rec,
            filled_qty=rec.filled_qty + fill.quantity,
            notional=rec.notional + fill.quantity * fill.price,
            reported_cum=max(rec.reported_cum, reported_cum),
        )
        new.status = _status_after_fill(rec.status, new)
        row = FillRow(venue, fill, trade_seq)
        # queued when the journal is down: the ledger already ruled out a duplicate, and the replay dedups again
        done, inserted = self.writes.run(
            f"commit fill {fill.trade_id}", lambda j: j.commit_fill(row, new, position, fee)
        )
        if done and not inserted:
            return False
        self.ledger.apply(row, position, fee)
        old_status = rec.status
        rec.filled_qty, rec.notional, rec.reported_cum, rec.status = (
            new.filled_qty,
            new.notional,
            new.reported_cum,
            new.status,
        )
        crashpoint("fill.persisted")
        if old_status is OmsStatus.FAILED:
            self.writes.event(
                "LATE_BOOKING", rec.client_order_id, f"late booking of a failed intent: fill {fill.trade_id} applied"
            )
            log.warning("late booking of a failed intent %s: fill %s", rec.client_order_id, fill.trade_id)
        for listener in self._fill_listeners:
            self._pending.append(lambda listener=listener: listener(rec, fill))  # type: ignore[misc]
        if rec.status is not old_status:
            if rec.status.is_terminal:
                self._cancel_sent_ns.pop(rec.client_order_id, None)
            self._notify_order(rec)
        return True

    # -- settling by query -----------------------------------------------------------------------

    def settle(self, rec: OrderRecord) -> bool:
        """Ask the venue about one order by client id; True when the answer was usable."""
        try:
            snap = self.venue.query_order(rec.client_order_id, rec.order.instrument_id)
        except VenueError:
            return False
        if snap is None:
            rec.not_found += 1
            if (
                rec.status in (OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT)
                and rec.not_found >= self.config.not_found_limit
            ):
                self._set_status(rec, OmsStatus.FAILED, reason=f"not found at the venue after {rec.not_found} queries")
            return True
        self.apply_snapshot(rec, snap)
        return True

    def apply_snapshot(self, rec: OrderRecord, snap: OrderSnapshot) -> None:
        """A query answer is authoritative for status (it may undo PENDING_CANCEL), never for lowering fills."""
        self._depth += 1
        try:
            rec.not_found = 0
            if snap.cum_quantity > rec.reported_cum:
                rec.reported_cum = snap.cum_quantity
                self._commit(rec)
            self._advance(rec, snap.status, confirmed=True)
            if rec.has_gap:
                self.backfill(rec.order.instrument_id)
        finally:
            self._depth -= 1
            self._drain()

    def backfill(self, instrument_id: str) -> int:
        """Read our trades since the sync watermark and apply the missing ones; returns how many were new."""
        key = f"trades_synced:{self.venue.name}:{instrument_id}"
        since = int(self.meta.get(key, "0"))
        trades = self.venue.my_trades(instrument_id, since)
        new = 0
        self._depth += 1
        try:
            for t in trades:
                rec = self.orders.get(t.fill.client_order_id) or self._adopt_unknown(
                    t.fill.client_order_id, ExecReport(t.fill.client_order_id, None, 0, 0, instrument_id)
                )
                if rec is not None and self.apply_fill(rec, t.fill, t.seq):
                    new += 1
            if trades:
                top = max(t.seq for t in trades)
                if top > since:
                    self.meta[key] = str(top)
                    self._safe_meta(key, str(top))
        finally:
            self._depth -= 1
            self._drain()
        return new

    def poll(self) -> None:
        """Settle orders whose submit or cancel outcome is overdue, and backfill fill gaps.

        Deadlines use the monotonic clock only: never a venue timestamp against the local wall clock.
        """
        self.writes.flush()
        now = self.clock.monotonic_ns()
        limit = self.config.inflight_timeout_ns
        for rec in list(self.orders.values()):
            if (rec.status in (OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT) and now - rec.sent_mono_ns >= limit) or (
                rec.status is OmsStatus.PENDING_CANCEL
                and now - self._cancel_sent_ns.get(rec.client_order_id, 0) >= limit
            ):
                self.settle(rec)
        for iid in sorted({r.order.instrument_id for r in self.orders.values() if r.has_gap}):
            with contextlib.suppress(VenueError):
                self.backfill(iid)

    # -- adoption --------------------------------------------------------------------------------

    def _adopt_unknown(self, client_order_id: str, report: ExecReport | None) -> OrderRecord | None:
        """A venue order the journal does not know: ours (id prefix, e.g. a stale DB) or external."""
        try:
            snap = self.venue.query_order(client_order_id, report.instrument_id if report else "")
        except VenueError:
            snap = None
        if snap is None:
            self.writes.event("UNKNOWN_ORDER_REPORT", client_order_id, repr(report))
            return None
        return self.adopt(snap)

    def _adopted_strategy(self, client_order_id: str) -> str:
        """The strategy of one of our ids ``<prefix><strategy>-<n>`` (engine ids), so its fills are credited to it."""
        prefix = self.config.id_prefix
        tail = client_order_id[len(prefix) :] if client_order_id.startswith(prefix) else ""
        strategy, sep, n = tail.rpartition("-")
        return strategy if sep and strategy and n.isdigit() else "adopted"

    def adopt(self, snap: OrderSnapshot) -> OrderRecord:
        """Start tracking a venue order we have no intent for (role ADOPTED if ours, else EXTERNAL)."""
        ours = self.is_ours(snap.client_order_id)
        order = Order(
            client_order_id=snap.client_order_id,
            strategy_id=self._adopted_strategy(snap.client_order_id) if ours else "external",
            instrument_id=snap.instrument_id,
            side=Side(snap.side),
            type=OrderType(snap.type),
            quantity=snap.quantity,
            price=snap.price,
        )
        seq = 0
        if ours:
            tail = snap.client_order_id[len(self.config.id_prefix) :]
            seq = int(tail) if tail.isdigit() else 0
            self._next_seq = max(self._next_seq, seq + 1)
        rec = OrderRecord(
            snap.client_order_id,
            seq,
            self.venue.name,
            order,
            "ADOPTED" if ours else "EXTERNAL",
            "",
            OmsStatus.IN_FLIGHT,
        )
        self.writes.order(rec, "commit adopted order")
        self.orders[rec.client_order_id] = rec
        self.writes.event("ORDER_ADOPTED", rec.client_order_id, rec.role)
        if ours:
            self.adopted.append(rec.client_order_id)
        self.apply_snapshot(rec, snap)
        return rec

    # -- helpers ---------------------------------------------------------------------------------

    def _commit(self, rec: OrderRecord) -> None:
        self.writes.order(rec)

    def _safe_meta(self, key: str, value: str) -> None:
        # the halt itself is in memory; storage trouble is what may have caused it
        self.writes.meta(key, value)

    def _notify_order(self, rec: OrderRecord) -> None:
        for listener in self._order_listeners:
            self._pending.append(lambda listener=listener: listener(rec))  # type: ignore[misc]
        if self._status_listeners:
            status, reason = rec.status, rec.reason
            for s_listener in self._status_listeners:
                self._pending.append(lambda s_listener=s_listener: s_listener(rec, status, reason))  # type: ignore[misc]

    def _drain(self) -> None:
        if self._depth:
            return
        self._depth += 1
        try:
            while self._pending:
                self._pending.popleft()()
        finally:
            self._depth -= 1


def _open_status(rec: OrderRecord) -> OmsStatus:
    return OmsStatus.PARTIALLY_FILLED if rec.filled_qty > 0 else OmsStatus.ACCEPTED


def _status_after_fill(cur: OmsStatus, new: OrderRecord) -> OmsStatus:
    if cur is OmsStatus.FAILED:  # a fill proves the venue booked it after all: the venue's state wins
        return OmsStatus.FILLED if new.quantity > 0 and new.filled_qty >= new.quantity else OmsStatus.PARTIALLY_FILLED
    if cur.is_terminal:
        return cur
    if new.quantity > 0 and new.filled_qty >= new.quantity:
        return OmsStatus.FILLED
    if cur in (OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT, OmsStatus.ACCEPTED):
        return OmsStatus.PARTIALLY_FILLED
    return cur


__all__ = ["OmsConfig", "OrderManager"]
