"""The node gate (C4/D3/F3) and the REST resync after a user-stream gap (C4/C5), on the in-process bar venue."""

from __future__ import annotations

from decimal import Decimal

from bot4.engine.clock import LiveClock
from bot4.engine.risk_hook import PassThroughRisk
from bot4.execution.bar_client import BarClient
from bot4.execution.errors import RetryableError
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import OrderSnapshot
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.live.gates import NodeGate
from bot4.live.resync import resync
from bot4.model.events import Bar
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.bar_venue import BarVenue

D = Decimal
INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.00001", min_notional="5")
IID = INST.id


def order(cid: str, side: str = "BUY", *, reduce_only: bool = False, strategy: str = "s") -> Order:
    return Order.create(INST, client_order_id=cid, strategy_id=strategy, side=side, quantity="0.001", ts_init=0,
                        reduce_only=reduce_only)  # fmt: skip


def test_gate_when_stream_gap_then_strategy_orders_denied_but_kill_path_flattening_passes_f3() -> None:
    gate = NodeGate(PassThroughRisk())
    gate.stream_gap = "listenKeyExpired"
    assert (gate.check(order("b4-s-1")) or "").startswith("STREAM_RECONCILING")
    assert (gate.check(order("b4-s-2", "SELL", reduce_only=True)) or "").startswith("STREAM_RECONCILING")
    assert gate.check(order("risk-1", "SELL", reduce_only=True)) is None  # the engine's own flattening
    gate.stream_gap = None
    gate.stopping = True
    assert (gate.check(order("b4-s-3")) or "").startswith("NODE_STOPPING")
    assert gate.denials == 3


class FlakyClient(BarClient):
    """The bar client whose open-orders query can be made to fail like an HTTP 500."""

    failing = False

    def open_orders(self) -> list[OrderSnapshot]:
        if self.failing:
            raise RetryableError("GET /api/v3/openOrders: HTTP 500")
        return super().open_orders()


def setup() -> tuple[OrderManager, BarVenue, FlakyClient]:
    clock = LiveClock()
    client = FlakyClient("BINANCE")
    venue = BarVenue("BINANCE", {IID: INST}, {"USDT": D(100_000)}, clock, client.sink)
    client.bind(venue)
    oms = OrderManager(client, MemoryJournal(), clock, OmsConfig(id_prefix="b4-", caller_ids=True))
    assert recover(oms, [IID]).ok
    return oms, venue, client


def test_resync_when_fills_happened_during_the_gap_then_recovered_once_c4() -> None:
    oms, venue, client = setup()
    rec = oms.submit(order("b4-s-1"))
    assert rec.status is OmsStatus.ACCEPTED
    client.set_listener(lambda _r: None)  # the stream is down: the venue's events are lost
    t = LiveClock().now_ns() + 10**9  # a bar opening after the order was sent
    venue.on_bar(Bar(IID, t, t + 10**9, 40_000.0, 40_000.0, 40_000.0, 40_000.0, 1.0))
    assert venue.status["b4-s-1"].value == "FILLED" and rec.status is OmsStatus.ACCEPTED
    report = resync(oms, [IID])
    assert report.ok and report.settled == ["b4-s-1"]  # queried by client id: FILLED, its fill backfilled
    assert oms.get("b4-s-1").status is OmsStatus.FILLED and rec.filled_qty == D("0.001")
    assert oms.position(IID).quantity == D("0.001")
    again = resync(oms, [IID])
    assert again.ok and again.fills_applied == 0 and rec.filled_qty == D("0.001")  # applied once


def test_resync_when_a_query_fails_then_not_ok_and_nothing_concluded_b3() -> None:
    oms, _venue, client = setup()
    rec = oms.submit(order("b4-s-1"))
    client.failing = True
    report = resync(oms, [IID])
    assert not report.ok and "HTTP 500" in report.reason
    assert rec.status is OmsStatus.ACCEPTED  # still working: a failed query never means "gone"
