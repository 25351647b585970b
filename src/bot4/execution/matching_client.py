"""``VenueClient`` adapter for the in-process ``MatchingVenue`` (backtests, paper, tests, benchmarks).

The venue answers a request with the events it caused, and pushes market-driven events (a resting
order filling on a trade print) to its sink. The adapter turns both into ``ExecReport``s numbered in
the venue's emission order (``seq``), so the order manager can order them the way the venue did.
Events caused by a request are returned by that request only, never also pushed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bot4.execution.crashpoints import crashpoint
from bot4.execution.errors import RejectedError
from bot4.execution.records import ExecReport, OrderSnapshot
from bot4.execution.sim_client import SimClient, trade_seq
from bot4.execution.states import OmsStatus
from bot4.model.enums import OrderStatus
from bot4.model.events import (
    CancelRejected,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from bot4.model.numbers import ZERO
from bot4.model.orders import Order
from bot4.venues.sim.matching.venue import MatchingVenue


class MatchingClient(SimClient[MatchingVenue]):
    """Build it first, pass ``client.sink`` as the venue's sink, then ``bind`` the venue."""

    kind = "matching client"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._orders: dict[str, Order] = {}
        self._cum: dict[str, Decimal] = {}
        self._last: dict[int, ExecReport] = {}  # reports of the current request's events, by event id

    def sink(self, event: object) -> None:
        report = self._convert(event)  # always: keeps the cumulative index current
        if not self._in_call and report is not None and self._listener is not None:
            self._listener(report)

    # -- requests --------------------------------------------------------------------------------

    def submit(self, order: Order) -> list[ExecReport]:
        if self.venue.working(order.client_order_id) is None:  # an open id is refused as a duplicate: keep ours
            self._orders[order.client_order_id] = order
        batch = self._call(lambda: self.venue.place(order))
        crashpoint("order.sent")
        return self._reports(batch, order.client_order_id)

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        batch = self._call(lambda: self.venue.cancel_order(client_order_id))
        return self._reports(batch, client_order_id)

    def _call(self, fn: Callable[[], list[object]]) -> list[object]:
        self._in_call = True
        self._last = {}
        try:
            return fn()
        finally:
            self._in_call = False

    def _reports(self, batch: list[object], cid: str) -> list[ExecReport]:
        out: list[ExecReport] = []
        pushed: list[ExecReport] = []
        for ev in batch:
            if (
                isinstance(ev, OrderEvent)
                and ev.client_order_id == cid
                and isinstance(ev, (OrderRejected, CancelRejected))
            ):
                code = int(getattr(ev, "code", 0))
                raise RejectedError(code, ev.reason)
            rep = self._last.pop(id(ev), None)
            if rep is None:
                continue
            (out if rep.client_order_id == cid else pushed).append(rep)
        for rep in pushed:  # other orders touched by this request (OCO partner, self-trade): as stream events
            if self._listener is not None:
                self._listener(rep)
        return out

    # -- queries ---------------------------------------------------------------------------------

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        status = self.venue.status.get(client_order_id)
        if status is None:
            return None
        order = self._orders.get(client_order_id)
        if order is None:
            return None
        return self._snapshot(order, _OMS[status])

    def open_orders(self) -> list[OrderSnapshot]:
        out = []
        for o in self.venue.open_orders():
            w = self.venue.working(o.client_order_id)
            out.append(self._snapshot(o, OmsStatus.PARTIALLY_FILLED if w and w.cum else OmsStatus.ACCEPTED))
        return out

    def _snapshot(self, order: Order, status: OmsStatus) -> OrderSnapshot:
        cid = order.client_order_id
        cum = self._cum.get(cid, ZERO)
        qty = order.quantity if order.quantity is not None else cum
        return OrderSnapshot(
            cid, order.instrument_id, order.side.value, order.type.value, status, qty, cum, order.price
        )

    # -- conversion ------------------------------------------------------------------------------

    def _convert(self, event: object) -> ExecReport | None:
        if not isinstance(event, OrderEvent):
            return None
        self._seq += 1
        cid, ts, iid = event.client_order_id, event.ts_event, event.instrument_id
        rep: ExecReport | None
        if isinstance(event, OrderFilled):
            self._cum[cid] = event.cum_quantity
            status = OmsStatus.FILLED if event.leaves_quantity == 0 else OmsStatus.PARTIALLY_FILLED
            rep = ExecReport(
                cid, status, self._seq, ts, iid, event.cum_quantity, event.fill, trade_seq(event.fill.trade_id)
            )
        elif isinstance(event, OrderAccepted):
            rep = ExecReport(cid, OmsStatus.ACCEPTED, self._seq, ts, iid, self._cum.get(cid, ZERO))
        elif isinstance(event, OrderCanceled):
            rep = ExecReport(cid, OmsStatus.CANCELED, self._seq, ts, iid, self._cum.get(cid, ZERO), reason=event.reason)
        elif isinstance(event, OrderExpired):
            rep = ExecReport(cid, OmsStatus.EXPIRED, self._seq, ts, iid, self._cum.get(cid, ZERO), reason=event.reason)
        elif isinstance(event, OrderRejected):
            rep = ExecReport(cid, OmsStatus.REJECTED, self._seq, ts, iid, reason=event.reason)
        elif isinstance(event, CancelRejected):
            rep = ExecReport(
                cid,
                None,
                self._seq,
                ts,
                iid,
                self._cum.get(cid, ZERO),
                reason=event.reason,
                code=event.code,
                cancel_refused=True,
            )
        else:
            rep = None  # OrderTriggered and the like: informational
        if rep is not None and self._in_call:
            self._last[id(event)] = rep
        return rep


_OMS = {
    OrderStatus.ACCEPTED: OmsStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: OmsStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: OmsStatus.FILLED,
    OrderStatus.CANCELED: OmsStatus.CANCELED,
    OrderStatus.EXPIRED: OmsStatus.EXPIRED,
    OrderStatus.REJECTED: OmsStatus.REJECTED,
    OrderStatus.SUBMITTED: OmsStatus.ACCEPTED,
    OrderStatus.PENDING_CANCEL: OmsStatus.ACCEPTED,
}
