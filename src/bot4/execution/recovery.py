"""Startup reconciliation: nothing is traded until the journal and the venue agree.

Order of work (reliability.md rules 4 and 5, section 5.3): load the journal; settle every in-flight
intent by client order id (a "not found" only counts after repeated answers spaced by the grace
window); adopt venue open orders the journal does not know (our id prefix -> ADOPTED and managed,
anything else -> EXTERNAL); re-read our trades since each instrument's sync watermark and apply the
missing fills once. Any failed venue query leaves the manager halted with the reason: a failed query
never means "flat" or "no orders".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot4.execution.errors import VenueError
from bot4.execution.order_manager import OrderManager
from bot4.execution.states import OmsStatus


@dataclass(slots=True)
class RecoveryReport:
    ok: bool
    reason: str = ""
    settled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    fills_applied: int = 0
    regressed: bool = False
    late_booked: list[str] = field(default_factory=list)  # intents marked FAILED that the venue booked after all


def recover(
    oms: OrderManager,
    instruments: Iterable[str] = (),
    *,
    grace: Callable[[], None] = lambda: None,
) -> RecoveryReport:
    """Reconcile ``oms`` with its venue; on success trading is enabled, otherwise it stays halted.

    ``grace`` waits between "not found" answers for an in-flight intent (tests pass a no-op).
    """
    oms.halt("recovering: reconciliation with the venue has not finished")
    oms.load()
    oms.adopted.clear()
    report = RecoveryReport(ok=False)
    try:
        _settle_in_flight(oms, report, grace)
        for open_snap in oms.venue.open_orders():
            rec = oms.orders.get(open_snap.client_order_id)
            if rec is None:
                oms.adopt(open_snap)
                report.adopted.append(open_snap.client_order_id)
            elif rec.status is OmsStatus.FAILED:
                oms.apply_snapshot(rec, open_snap)  # booked late after all: the venue's state wins, never re-sent
                report.late_booked.append(rec.client_order_id)
        wanted = set(instruments) | {r.order.instrument_id for r in oms.orders.values()}
        wanted |= {p.instrument_id for p in oms.ledger.positions()}
        for iid in sorted(wanted):
            while (snap := oms.venue.query_order(oms.next_client_id(), iid)) is not None:
                oms.adopt(snap)  # our next id is already used at the venue: the journal is behind
                report.adopted.append(snap.client_order_id)
        for iid in sorted(wanted):
            report.fills_applied += oms.backfill(iid)
        gaps = [r.client_order_id for r in oms.orders.values() if r.has_gap]
        if gaps:
            raise VenueError(f"fills still missing after backfill for {', '.join(gaps)}")
    except VenueError as exc:
        report.reason = f"venue not reconciled ({type(exc).__name__}: {exc}); trading stays halted"
        oms.halt(report.reason)
        return report
    if oms.adopted:
        report.regressed = True
        report.reason = (
            f"journal is behind the venue (adopted our orders {', '.join(oms.adopted)}): state reconciled, "
            "trading paused until an operator resumes"
        )
        oms.halt(report.reason)
        return report
    report.ok = True
    oms.resume()
    return report


def _settle_in_flight(oms: OrderManager, report: RecoveryReport, grace: Callable[[], None]) -> None:
    for rec in sorted(oms.orders.values(), key=lambda r: r.intent_seq):
        if not rec.status.is_working:
            continue
        for attempt in range(oms.config.not_found_limit):
            before = rec.not_found
            if not oms.settle(rec):
                raise VenueError(f"query of {rec.client_order_id} failed")
            if rec.not_found == before or rec.status is OmsStatus.FAILED:
                break
            if attempt + 1 < oms.config.not_found_limit:
                grace()
        if rec.status is OmsStatus.FAILED:
            report.failed.append(rec.client_order_id)
        elif rec.not_found:
            raise VenueError(f"{rec.client_order_id} ({rec.status}) is not found at the venue")
        else:
            report.settled.append(rec.client_order_id)
