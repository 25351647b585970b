"""Stop triggers, venue-side OCO and self-trade prevention modes."""

from __future__ import annotations

from bot4.model import OrderCanceled, OrderExpired, OrderStatus
from bot4.venues.sim.matching import OrderTriggered, VenueOrderRejected
from tests.unit.venues.sim.matching.helpers import D, Harness, order


def book(h: Harness) -> None:
    h.book([("100.0", "5"), ("99.0", "5")], [("100.1", "5"), ("101.0", "5")])


def test_stop_market_sell_when_trade_at_trigger_then_triggers_and_sells_at_market() -> None:
    h = Harness()
    book(h)
    h.submit("s", "SELL", "STOP_MARKET", "1", trigger_price="99.5")
    h.trade(99.6, 1)
    assert not h.of("s", OrderTriggered)
    h.trade(99.5, 1)
    assert h.of("s", OrderTriggered)
    (fill,) = h.fills("s")
    assert fill.price == D("100.0")


def test_stop_limit_buy_when_touch_reaches_trigger_then_works_as_limit() -> None:
    h = Harness()
    book(h)
    h.submit("s", "BUY", "STOP_LIMIT", "1", trigger_price="100.5", price="100.6")
    h.level(False, "100.1", "0")  # best ask now 101.0 >= trigger: fires, but 101.0 > limit
    assert h.of("s", OrderTriggered) and h.fills("s") == []
    w = h.venue.working("s")
    assert w is not None and w.resting and w.trigger is None


def test_stop_when_already_reached_at_submit_then_rejected_would_trigger() -> None:
    h = Harness()
    book(h)
    (ev,) = h.submit("s", "BUY", "STOP_MARKET", "1", trigger_price="100.0")
    assert isinstance(ev, VenueOrderRejected) and ev.reason == "Order would trigger immediately."


def test_oco_when_limit_leg_fills_then_stop_leg_canceled() -> None:
    h = Harness()
    book(h)
    h.trade(100.0, 0.1)
    h.venue.submit_oco(order("tp", "SELL", price="102.0"), order("sl", "SELL", "STOP_MARKET", trigger_price="98.0"))
    assert h.venue.working("tp") and h.venue.working("sl")
    assert h.venue.balances()["BTC"] == (D("99"), D("1"))  # one shared lock
    h.trade(102.5, 2, "BUY")
    assert h.filled_qty("tp") == D("1") and h.venue.status["sl"] is OrderStatus.CANCELED


def test_oco_when_stop_leg_triggers_then_limit_leg_canceled_and_stop_executes() -> None:
    h = Harness()
    book(h)
    h.trade(100.0, 0.1)
    h.venue.submit_oco(order("tp", "SELL", price="102.0"), order("sl", "SELL", "STOP_MARKET", trigger_price="99.5"))
    h.trade(99.4, 1)
    assert h.venue.status["tp"] is OrderStatus.CANCELED and h.filled_qty("sl") == D("1")


def test_oco_when_canceling_one_leg_then_both_canceled() -> None:
    h = Harness()
    book(h)
    h.trade(100.0, 0.1)
    h.venue.submit_oco(order("tp", "SELL", price="102.0"), order("sl", "SELL", "STOP_MARKET", trigger_price="98.0"))
    h.venue.cancel_order("sl")
    assert h.of("tp", OrderCanceled) and h.venue.open_orders() == []
    assert h.venue.balances()["BTC"] == (D("100"), D("0"))


def test_oco_when_prices_in_wrong_order_then_both_legs_rejected() -> None:
    h = Harness()
    book(h)
    h.trade(100.0, 0.1)
    events = h.venue.submit_oco(
        order("tp", "SELL", price="99.0"), order("sl", "SELL", "STOP_MARKET", trigger_price="98.0")
    )
    expected = (
        "The relationship of the prices for the orders is not correct. (SELL: limit 99.0, reference 100.0, stop 98.0)"
    )
    assert [e.reason for e in events if isinstance(e, VenueOrderRejected)] == [expected] * 2
    assert len(events) == 2


def own_maker(h: Harness, stp: str) -> Harness:
    """Our SELL 1 @ 100.1 rests first, so it is at the front of the 100.1 queue the book fills in behind it."""
    h = Harness(stp=stp)
    h.book([("100.0", "5"), ("99.0", "5")], [("101.0", "5")])
    h.submit("maker", "SELL", price="100.1", qty="1")
    h.level(False, "100.1", "5")
    assert h.venue.working("maker").ahead == 0  # type: ignore[union-attr]
    return h


def test_stp_cancel_newest_when_crossing_own_order_then_taker_expires() -> None:
    h = own_maker(Harness(), "cancel_newest")
    h.submit("taker", "BUY", price="100.1", qty="1")
    assert h.of("taker", OrderExpired) and h.venue.working("maker") is not None
    assert "EXPIRE_TAKER" in h.of("taker", OrderExpired)[0].reason and h.fills("taker") == []


def test_stp_cancel_oldest_when_crossing_own_order_then_maker_canceled_and_taker_trades_market() -> None:
    h = own_maker(Harness(), "cancel_oldest")
    h.submit("taker", "BUY", price="100.1", qty="1")
    assert h.of("maker", OrderCanceled) and h.filled_qty("taker") == D("1")


def test_stp_cancel_both_when_crossing_own_order_then_both_gone() -> None:
    h = own_maker(Harness(), "cancel_both")
    h.submit("taker", "BUY", "MARKET", "1")
    assert h.of("maker", OrderCanceled) and h.of("taker", OrderExpired) and h.venue.open_orders() == []


def test_reduce_only_when_it_would_grow_position_then_rejected_2022() -> None:
    h = Harness(btc="1")
    book(h)
    (ev,) = h.submit("r", "BUY", "MARKET", "0.5", reduce_only=True)
    assert isinstance(ev, VenueOrderRejected) and (ev.code, ev.reason[:29]) == (-2022, "ReduceOnly Order is rejected.")
    (ev,) = h.submit("r2", "SELL", "MARKET", "2", reduce_only=True)
    assert isinstance(ev, VenueOrderRejected)
    h.submit("r3", "SELL", "MARKET", "1", reduce_only=True)
    assert h.filled_qty("r3") == D("1")


def test_oco_when_limit_leg_trades_on_arrival_then_stop_leg_rejected() -> None:
    h = Harness()
    h.book([("100.0", "5")], [("100.1", "5")])
    h.trade(99.0, 0.1)  # stale last price: the sell limit at 100.0 passes the price check but crosses the bid
    h.venue.submit_oco(
        order("tp", "SELL", price="100.0", qty="6"), order("sl", "SELL", "STOP_MARKET", qty="6", trigger_price="98.0")
    )
    assert h.filled_qty("tp") == D("5") and h.of("sl", VenueOrderRejected)
    assert h.venue.working("tp") is not None and h.venue.working("tp").oco is None  # type: ignore[union-attr]


def test_emit_extras_off_when_stop_triggers_then_sink_gets_only_model_events() -> None:
    h = Harness(emit_extras=False)
    book(h)
    h.submit("s", "SELL", "STOP_MARKET", "1", trigger_price="99.5")
    h.trade(99.5, 1)
    h.venue.cancel("nope")
    assert not any(isinstance(e, OrderTriggered) for e in h.events) and h.filled_qty("s") == D("1")
    assert all(type(e).__module__ == "bot4.model.events" or isinstance(e, VenueOrderRejected) for e in h.events)


def queued_maker(stp: str) -> Harness:
    """Our SELL 1 @ 101.0 rests behind 5 outside at 101.0; 5 more outside sit at the better 100.1."""
    h = Harness(stp=stp)
    book(h)
    h.submit("maker", "SELL", price="101.0", qty="1")
    return h


def test_stp_when_better_outside_liquidity_fills_the_taker_first_then_no_self_trade_action() -> None:
    for stp in ("cancel_newest", "cancel_oldest", "cancel_both"):
        h = queued_maker(stp)
        h.submit("taker", "BUY", price="101.0", qty="2")  # crosses the maker's price, but 100.1 fills it
        assert h.filled_qty("taker") == D("2"), stp
        assert [f.price for f in h.fills("taker")] == [D("100.1")], stp
        assert not h.of("maker", OrderCanceled) and h.venue.working("maker") is not None, stp
        assert not h.of("taker", OrderExpired), stp


def test_stp_when_queue_ahead_at_the_makers_price_absorbs_the_taker_then_no_self_trade_action() -> None:
    h = queued_maker("cancel_oldest")
    h.submit("taker", "BUY", price="101.0", qty="10")  # 5 @ 100.1 + the 5 queued ahead of us @ 101.0
    assert h.filled_qty("taker") == D("10") and h.venue.working("maker") is not None
    h = queued_maker("cancel_newest")
    h.submit("taker", "BUY", "MARKET", None, quote_quantity="100")  # a small market buy by quote amount
    assert h.filled_qty("taker") > 0 and h.venue.working("maker") is not None


def test_stp_when_taker_would_reach_own_order_after_outside_liquidity_then_acts() -> None:
    h = queued_maker("cancel_oldest")
    h.submit("taker", "BUY", price="101.0", qty="11")  # 10 outside first, then our maker in price-time
    assert h.of("maker", OrderCanceled) and "self-trade prevention" in h.of("maker", OrderCanceled)[0].reason
    h = queued_maker("cancel_newest")
    h.submit("taker", "BUY", price="101.0", qty="11")
    assert h.of("taker", OrderExpired) and h.venue.working("maker") is not None


def test_duplicate_open_client_id_when_refused_then_open_order_status_untouched() -> None:
    h = Harness()
    book(h)
    h.submit("a", "BUY", price="99.0", qty="2")
    h.trade(99.0, 6.0, "SELL")  # eats the 5 queued ahead and part-fills ours
    before = h.venue.status["a"]
    (ev,) = h.submit("a", "BUY", price="98.0")
    assert isinstance(ev, VenueOrderRejected) and ev.code == -2010
    assert before is OrderStatus.PARTIALLY_FILLED
    assert h.venue.status["a"] is before and h.venue.working("a") is not None
    assert h.venue.working("a").order.price == D("99.0")  # type: ignore[union-attr]
