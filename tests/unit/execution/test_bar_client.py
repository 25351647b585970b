"""The bar venue behind the order manager: reports, a reject after acceptance, queries and trades."""

from __future__ import annotations

from decimal import Decimal

from bot4.engine.clock import SimClock
from bot4.execution.bar_client import LATE_REJECT_PREFIX, BarClient
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.states import OmsStatus
from bot4.model import Bar, Instrument, Order
from bot4.venues.sim.bar_venue import BarVenue

INST = Instrument.spot("SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1", taker_fee="0.001")
IID = INST.id
D = Decimal


def _rig(usdt: str) -> tuple[OrderManager, BarVenue, SimClock]:
    clock = SimClock(0)
    client = BarClient("SIM")
    venue = BarVenue("SIM", {IID: INST}, {"USDT": D(usdt)}, clock, client.sink)
    client.bind(venue)
    oms = OrderManager(client, MemoryJournal(), clock, OmsConfig())
    oms.load()
    oms.resume()
    return oms, venue, clock


def _market_buy(oms: OrderManager, qty: str) -> OmsStatus:
    return oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity=qty).status


def _bar(venue: BarVenue, clock: SimClock, price: float) -> None:
    clock.advance_to(clock.now_ns() + 60)
    venue.on_bar(Bar(IID, clock.now_ns() - 60, clock.now_ns(), price, price, price, price, 1.0))


def test_submit_when_market_order_fills_on_next_bar_then_accepted_then_filled_once() -> None:
    oms, venue, clock = _rig("1000")
    assert _market_buy(oms, "1") is OmsStatus.ACCEPTED
    _bar(venue, clock, 100.0)
    rec = oms.get("b4-1")
    assert rec.status is OmsStatus.FILLED and rec.filled_qty == D(1)
    assert oms.position(IID).quantity == D(1)


def test_fill_when_balance_falls_short_after_acceptance_then_expired_with_late_reject_reason() -> None:
    oms, venue, clock = _rig("50")  # a market buy is accepted unchecked, refused at fill time
    assert _market_buy(oms, "1") is OmsStatus.ACCEPTED
    _bar(venue, clock, 100.0)
    rec = oms.get("b4-1")
    assert rec.status is OmsStatus.EXPIRED
    assert rec.reason.startswith(LATE_REJECT_PREFIX) and "insufficient balance" in rec.reason
    snap = oms.venue.query_order("b4-1", IID)
    assert snap is not None and snap.status is OmsStatus.EXPIRED


def test_submit_when_venue_refuses_at_once_then_rejected_with_the_venue_reason() -> None:
    oms, _venue, _clock = _rig("50")
    rec = oms.submit(
        Order.create(INST, client_order_id="b4-1", strategy_id="s", side="SELL", type="MARKET", quantity="1")
    )
    assert rec.status is OmsStatus.REJECTED and rec.reason.startswith("insufficient balance")


def test_queries_when_orders_rest_and_fill_then_open_orders_status_and_trades_match_the_venue() -> None:
    oms, venue, clock = _rig("1000")
    oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", quantity="1", price="90")
    _market_buy(oms, "1")
    _bar(venue, clock, 100.0)
    client = oms.venue
    assert [s.client_order_id for s in client.open_orders()] == ["b4-1"]
    filled = client.query_order("b4-2", IID)
    assert filled is not None and filled.status is OmsStatus.FILLED and filled.cum_quantity == D(1)
    assert client.query_order("b4-9", IID) is None
    trades = client.my_trades(IID, 0)
    assert [(t.fill.client_order_id, t.seq) for t in trades] == [("b4-2", 1)]
    assert client.my_trades(IID, 1) == []
