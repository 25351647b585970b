"""``VenueClient`` adapter for the simulated ``BarVenue``, so backtests run behind the order manager.

The bar venue pushes every event into its sink, also the ones a request causes, and has no query API
beyond its status book and trade list. The adapter turns events into ``ExecReport``s numbered in
emission order; events caused by a request are returned by that request, never also pushed.

One mismatch is bridged here: the bar venue can refuse an order it has already accepted (a market buy
the balance cannot pay for at fill time). The order manager's state machine has no ACCEPTED ->
REJECTED step, so that outcome is reported as EXPIRED with a reason starting ``LATE_REJECT_PREFIX``;
the engine turns it back into an ``OrderRejected`` for strategies and the risk engine.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

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
from bot4.venues.sim.bar_venue import BarVenue

LATE_REJECT_PREFIX = "rejected after acceptance: "

_OMS = {
    OrderStatus.ACCEPTED: OmsStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: OmsStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: OmsStatus.FILLED,
    OrderStatus.CANCELED: OmsStatus.CANCELED,
    OrderStatus.EXPIRED: OmsStatus.EXPIRED,
    OrderStatus.REJECTED: OmsStatus.REJECTED,
}


class BarClient(SimClient[BarVenue]):
    """Build it first, pass ``client.sink`` (or something forwarding to it) as the venue's sink, then ``bind``."""

    kind = "bar client"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._batch: list[ExecReport] = []
        self._accepted: set[str] = set()  # booked and not yet done: a reject now is a late one
        self._late_rejected: set[str] = set()

    def sink(self, event: object) -> None:
        report = self._convert(event)
        if report is None:
            return
        if self._in_call:
            self._batch.append(report)
        elif self._listener is not None:
            self._listener(report)

    # -- requests --------------------------------------------------------------------------------

    def submit(self, order: Order) -> list[ExecReport]:
        return self._call(lambda: self.venue.submit(order), order.client_order_id)

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        return self._call(lambda: self.venue.cancel(client_order_id), client_order_id)

    def _call(self, fn: Callable[[], None], cid: str) -> list[ExecReport]:
        self._in_call = True
        self._batch = []
        try:
            fn()
        finally:
            self._in_call = False
        batch, self._batch = self._batch, []
        mine = [r for r in batch if r.client_order_id == cid]
        if self._listener is not None:
            for r in batch:
                if r.client_order_id != cid:  # other orders touched by this request: as stream events
                    self._listener(r)
        return mine

    # -- queries ---------------------------------------------------------------------------------

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        status = self.venue.status.get(client_order_id)
        order = self.venue.order(client_order_id)
        if status is None or order is None:
            return None
        oms_status = _OMS.get(status, OmsStatus.ACCEPTED)
        if oms_status is OmsStatus.REJECTED and client_order_id in self._late_rejected:
            oms_status = OmsStatus.EXPIRED
        cum = (order.quantity or ZERO) if status is OrderStatus.FILLED else ZERO
        return _snapshot(order, oms_status, cum)

    def open_orders(self) -> list[OrderSnapshot]:
        return [_snapshot(o, OmsStatus.ACCEPTED, ZERO) for o in self.venue.open_orders()]

    # -- conversion ------------------------------------------------------------------------------

    def _convert(self, event: object) -> ExecReport | None:
        if not isinstance(event, OrderEvent):
            return None
        self._seq += 1
        cid, ts, iid, seq = event.client_order_id, event.ts_event, event.instrument_id, self._seq
        if isinstance(event, OrderFilled):
            if event.leaves_quantity == 0:
                self._accepted.discard(cid)
            return ExecReport(
                cid, OmsStatus.FILLED if event.leaves_quantity == 0 else OmsStatus.PARTIALLY_FILLED,
                seq, ts, iid, event.cum_quantity, event.fill, trade_seq(event.fill.trade_id),
            )  # fmt: skip
        if isinstance(event, OrderAccepted):
            self._accepted.add(cid)
            return ExecReport(cid, OmsStatus.ACCEPTED, seq, ts, iid)
        if isinstance(event, OrderCanceled):
            self._accepted.discard(cid)
            return ExecReport(cid, OmsStatus.CANCELED, seq, ts, iid, reason=event.reason)
        if isinstance(event, OrderExpired):
            self._accepted.discard(cid)
            return ExecReport(cid, OmsStatus.EXPIRED, seq, ts, iid, reason=event.reason)
        if isinstance(event, OrderRejected):
            if cid in self._accepted:
                self._accepted.discard(cid)
                self._late_rejected.add(cid)
                return ExecReport(cid, OmsStatus.EXPIRED, seq, ts, iid, reason=LATE_REJECT_PREFIX + event.reason)
            return ExecReport(cid, OmsStatus.REJECTED, seq, ts, iid, reason=event.reason)
        if isinstance(event, CancelRejected):
            return ExecReport(cid, None, seq, ts, iid, reason=event.reason, code=event.code, cancel_refused=True)
        return None  # informational (a stop triggered): no state change


def _snapshot(order: Order, status: OmsStatus, cum: Decimal) -> OrderSnapshot:
    qty = order.quantity if order.quantity is not None else cum
    return OrderSnapshot(
        order.client_order_id, order.instrument_id, order.side.value, order.type.value, status, qty, cum, order.price
    )
