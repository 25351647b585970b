"""Resting orders: queue position from visible size, advanced by trades and cancels; L3 exact queues."""

from __future__ import annotations

from bot4.data.book import L3Book
from bot4.model import Liquidity, OrderCanceled
from bot4.venues.sim.matching import CancelRejected
from tests.unit.venues.sim.matching.helpers import IID, SCALE, D, Harness, order


def resting_bid(h: Harness, ahead: str = "5") -> None:
    h.book([("100.0", ahead), ("99.9", "2")], [("100.1", "1")])
    h.submit("b", "BUY", price="100.0", qty="2")


def test_queue_when_behind_five_units_then_fills_only_after_five_trade_at_the_level() -> None:
    h = Harness()
    resting_bid(h)
    assert h.venue.working("b").ahead == 5000  # type: ignore[union-attr]
    h.trade(100.0, 3, "SELL")
    h.trade(100.0, 2, "SELL")
    assert h.fills("b") == []
    h.trade(100.0, 0.5, "SELL")
    (fill,) = h.fills("b")
    assert (fill.quantity, fill.price, fill.liquidity) == (D("0.5"), D("100.0"), Liquidity.MAKER)


def test_queue_when_trade_exceeds_queue_ahead_then_the_excess_fills_us() -> None:
    h = Harness()
    resting_bid(h)
    h.trade(100.0, 6, "SELL")
    assert h.filled_qty("b") == D("1")
    assert h.fills("b")[0].fee == D("-0.0100000")  # maker rebate


def test_trade_when_buyer_aggressor_then_resting_bid_not_filled() -> None:
    h = Harness()
    resting_bid(h, ahead="0.001")
    h.trade(100.0, 10, "BUY")
    assert h.fills("b") == []


def test_trade_when_printing_through_our_price_then_fills_up_to_trade_size() -> None:
    h = Harness()
    resting_bid(h)
    h.trade(99.9, 1.5, "SELL")
    assert h.filled_qty("b") == D("1.5")


def test_level_shrinking_without_trade_when_cancels_then_queue_ahead_shrinks_proportionally() -> None:
    h = Harness()
    resting_bid(h, ahead="4")
    h.level(True, "100.0", "3")  # 1 of 4 canceled: we move up a quarter of the queue
    assert h.venue.working("b").ahead == 3000  # type: ignore[union-attr]
    h.level(True, "100.0", "1")
    assert h.venue.working("b").ahead == 1000  # type: ignore[union-attr]
    h.level(True, "100.0", "6")  # growth queues behind us
    assert h.venue.working("b").ahead == 1000  # type: ignore[union-attr]


def test_trade_then_depth_update_when_same_size_then_queue_not_double_counted() -> None:
    h = Harness()
    resting_bid(h, ahead="4")
    h.trade(100.0, 1, "SELL")
    h.level(True, "100.0", "3")  # the feed now shows the traded size gone: not an extra cancel
    assert h.venue.working("b").ahead == 3000  # type: ignore[union-attr]


def test_book_through_when_ask_drops_to_our_bid_then_maker_fill_at_our_price() -> None:
    h = Harness()
    resting_bid(h)
    t = SCALE.ticks
    # the market sold through our level: the visible bids at 100.0 are gone and an ask sits at 100.0
    h.venue.apply_deltas(IID, [(True, t("100.0"), 0), (False, t("100.0"), 400)])
    fills = h.fills("b")
    assert [(f.price, f.quantity, f.liquidity) for f in fills] == [(D("100.0"), D("0.4"), Liquidity.MAKER)]


def test_cancel_when_unknown_then_cancel_rejected_2011() -> None:
    h = Harness()
    (ev,) = h.venue.cancel_order("nope")
    assert isinstance(ev, CancelRejected) and ev.code == -2011 and ev.reason.startswith("Unknown order sent.")


def test_cancel_replace_when_working_then_old_canceled_and_new_accepted() -> None:
    h = Harness()
    resting_bid(h)
    events = h.venue.cancel_replace("b", order("b2", "BUY", price="99.5"))
    assert isinstance(events[0], OrderCanceled) and h.venue.working("b2") is not None
    assert h.venue.working("b") is None


def test_cancel_replace_when_old_unknown_then_both_refused() -> None:
    h = Harness()
    resting_bid(h)
    cancel_rej, new_rej = h.venue.cancel_replace("zzz", order("b2", "BUY", price="99.5"))
    assert isinstance(cancel_rej, CancelRejected) and cancel_rej.code == -2011
    assert new_rej.code == -2022 and new_rej.reason.startswith("Order cancel-replace failed.")  # type: ignore[attr-defined]


def test_cancel_replace_when_new_order_fails_then_partial_failure_2021() -> None:
    h = Harness()
    resting_bid(h)
    events = h.venue.cancel_replace("b", order("b2", "BUY", price="100.1", post_only=True))
    assert isinstance(events[0], OrderCanceled)
    assert events[1].code == -2021 and "would immediately match" in events[1].reason  # type: ignore[attr-defined]


def test_l3_queue_when_orders_ahead_cancel_then_exact_position_and_trades_fill_after_them() -> None:
    h = Harness()
    l3 = L3Book("uncross")
    t = SCALE.ticks
    l3.load_snapshot([(1, True, t("100.0"), 2000), (2, True, t("100.0"), 3000), (3, False, t("100.1"), 1000)])
    h.venue.attach_l3(IID, l3)
    h.submit("b", "BUY", price="100.0", qty="1")
    w = h.venue.working("b")
    assert w is not None and w.ahead == 5000 and w.ahead_ids == {1, 2}
    h.venue.on_l3(IID, 1, True, t("100.0"), 0)  # order 1 leaves: 3 ahead
    h.venue.on_l3(IID, 7, True, t("100.0"), 9000)  # joins behind us
    assert w.ahead == 3000
    h.trade(100.0, 3.5, "SELL")
    assert h.filled_qty("b") == D("0.5")


def test_l3_market_order_when_taking_then_consumes_queue_front_first() -> None:
    h = Harness()
    l3 = L3Book()
    t = SCALE.ticks
    l3.load_snapshot([(1, False, t("100.1"), 1000), (2, False, t("100.1"), 2000), (3, True, t("99.0"), 500)])
    h.venue.attach_l3(IID, l3)
    h.submit("m", "BUY", "MARKET", "1.5")
    assert l3.queue(False, t("100.1")) == [(2, 1500)]
