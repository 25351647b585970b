"""REST resync after a user-stream gap (C4/C5): read the venue's truth before new orders flow again.

While the stream was down, orders may have filled, been cancelled or been booked late. The order of
work: the venue's open orders (each applied to its record; one we do not know is adopted: ours by id
prefix, else external), then every order we still hold as working but the venue no longer lists is
queried by client id, then our trades since each instrument's watermark are re-read and each missing
fill applied once. Any failed query ends the resync unsuccessfully: the caller keeps orders denied
and tries again later; a failed query never means "nothing happened".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot4.execution.errors import VenueError
from bot4.execution.order_manager import OrderManager


@dataclass(slots=True)
class ResyncReport:
    ok: bool
    reason: str = ""
    adopted: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    fills_applied: int = 0


def resync(oms: OrderManager, instrument_ids: Iterable[str]) -> ResyncReport:
    report = ResyncReport(ok=False)
    try:
        open_now = oms.venue.open_orders()
        listed = set()
        for snap in open_now:
            listed.add(snap.client_order_id)
            rec = oms.orders.get(snap.client_order_id)
            if rec is None:
                oms.adopt(snap)
                report.adopted.append(snap.client_order_id)
            else:
                oms.apply_snapshot(rec, snap)
        for rec in list(oms.working()):
            if rec.client_order_id in listed:
                continue
            if not oms.settle(rec):
                raise VenueError(f"query of {rec.client_order_id} failed")
            report.settled.append(rec.client_order_id)
        wanted = set(instrument_ids) | {r.order.instrument_id for r in oms.orders.values() if r.status.is_working}
        for iid in sorted(wanted):
            report.fills_applied += oms.backfill(iid)
    except VenueError as exc:
        report.reason = f"resync failed ({type(exc).__name__}: {exc}); new orders stay denied"
        return report
    report.ok = True
    return report
