"""Taking liquidity: market sweeps, marketable limits, IOC, FOK, post-only, quote quantity, balances."""

from __future__ import annotations

from bot4.model import Liquidity, OrderAccepted, OrderExpired, OrderFilled, OrderStatus
from bot4.venues.sim.matching import VenueOrderRejected
from tests.unit.venues.sim.matching.helpers import IID, D, Harness


def deep_book(h: Harness) -> None:
    h.book([("100.0", "1"), ("99.9", "2"), ("99.8", "5")], [("100.1", "0.5"), ("100.2", "1.5"), ("100.5", "3")])


def test_market_buy_when_larger_than_best_level_then_partial_fills_across_levels_at_level_prices() -> None:
    h = Harness()
    deep_book(h)
    events = h.submit("m", "BUY", "MARKET", "1.2")
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.fill.price, f.fill.quantity) for f in fills] == [(D("100.1"), D("0.5")), (D("100.2"), D("0.7"))]
    assert [f.leaves_quantity for f in fills] == [D("0.7"), D("0")]
    assert all(f.fill.liquidity is Liquidity.TAKER for f in fills)
    vwap = sum(f.fill.price * f.fill.quantity for f in fills) / D("1.2")
    assert vwap > D("100.1")  # slippage beyond the touch
    assert h.venue.market(IID).book.best_ask() == (1002, 800)  # taken liquidity left the book


def test_market_buy_when_balance_short_then_rejected_with_insufficient_balance() -> None:
    h = Harness(usdt="50")
    deep_book(h)
    (ev,) = h.submit("m", "BUY", "MARKET", "1")
    assert isinstance(ev, VenueOrderRejected) and ev.code == -2010
    assert ev.reason.startswith("Account has insufficient balance for requested action.")


def test_market_when_book_exhausted_then_remainder_expires() -> None:
    h = Harness()
    deep_book(h)
    h.submit("m", "SELL", "MARKET", "10")
    assert h.filled_qty("m") == D("8")
    assert h.of("m", OrderExpired) and h.venue.status["m"] is OrderStatus.EXPIRED


def test_market_buy_by_quote_quantity_when_filled_then_spend_including_fee_within_budget() -> None:
    h = Harness()
    deep_book(h)
    h.submit("q", "BUY", "MARKET", None, quote_quantity="100")
    fills = h.fills("q")
    spent = sum(f.price * f.quantity + f.fee for f in fills)
    assert D("99.8") < spent <= D("100") and sum(f.quantity for f in fills) == D("0.997")


def test_limit_when_crossing_then_takes_up_to_limit_and_rests_remainder_with_queue() -> None:
    h = Harness()
    deep_book(h)
    h.submit("l", "BUY", price="100.2", qty="3")
    assert h.filled_qty("l") == D("2")
    w = h.venue.working("l")
    assert w is not None and w.resting and w.leaves == 1000 and w.ahead == 0
    assert h.venue.market(IID).book.best_bid() == (1000, 1000)  # our order is not in the external book


def test_ioc_when_partially_crossing_then_fills_what_crosses_and_expires_rest() -> None:
    h = Harness()
    deep_book(h)
    h.submit("i", "BUY", price="100.1", qty="2", time_in_force="IOC")
    assert h.filled_qty("i") == D("0.5") and h.of("i", OrderExpired)


def test_fok_when_book_cannot_fill_all_then_expires_without_any_fill() -> None:
    h = Harness()
    deep_book(h)
    h.submit("f", "BUY", price="100.2", qty="2.5", time_in_force="FOK")
    assert h.fills("f") == [] and h.of("f", OrderExpired)
    assert h.venue.market(IID).book.best_ask() == (1001, 500)


def test_fok_when_book_can_fill_all_then_fills_completely() -> None:
    h = Harness()
    deep_book(h)
    h.submit("f", "BUY", price="100.2", qty="2", time_in_force="FOK")
    assert h.filled_qty("f") == D("2") and h.venue.status["f"] is OrderStatus.FILLED


def test_post_only_when_it_would_take_then_rejected_with_binance_message() -> None:
    h = Harness()
    deep_book(h)
    (ev,) = h.submit("p", "BUY", price="100.1", post_only=True)
    assert isinstance(ev, VenueOrderRejected)
    assert (ev.code, ev.reason) == (-2010, "Order would immediately match and take.")


def test_post_only_when_passive_then_accepted_and_rests() -> None:
    h = Harness()
    deep_book(h)
    (ev,) = h.submit("p", "SELL", price="100.1", post_only=True)
    assert isinstance(ev, OrderAccepted) and h.venue.working("p") is not None


def test_limit_buy_when_resting_then_quote_locked_and_cancel_releases_it() -> None:
    h = Harness(usdt="1000")
    deep_book(h)
    h.submit("l", "BUY", price="99.0", qty="2")
    free, locked = h.venue.balances()["USDT"]
    assert locked == D("198") * D("1.001") and free + locked == D("1000")
    h.venue.cancel_order("l")
    assert h.venue.balances()["USDT"] == (D("1000"), D("0"))


def test_sell_when_base_short_then_insufficient_balance() -> None:
    h = Harness(btc="0.5")
    deep_book(h)
    (ev,) = h.submit("s", "SELL", price="101.0", qty="1")
    assert isinstance(ev, VenueOrderRejected) and ev.code == -2010 and "free 0.5 BTC" in ev.reason


def test_duplicate_open_client_id_when_submitted_then_rejected() -> None:
    h = Harness()
    deep_book(h)
    h.submit("a", "BUY", price="99.0")
    (ev,) = h.submit("a", "BUY", price="98.0")
    assert isinstance(ev, VenueOrderRejected) and ev.reason.startswith("Duplicate order sent.")


def test_trade_ids_when_filling_then_deterministic_sequence() -> None:
    h = Harness()
    deep_book(h)
    h.submit("m", "BUY", "MARKET", "2")
    assert [f.trade_id for f in h.venue.my_trades(IID)] == ["SIM-1", "SIM-2"]


def test_engine_conveniences_when_order_rests_then_reported_like_bar_venue() -> None:
    h = Harness(usdt="1000")
    deep_book(h)
    assert not h.venue.has_working
    h.submit("l", "BUY", price="99.0", qty="2")
    assert h.venue.has_working and h.venue.is_working("l")
    assert h.venue.free_balance("USDT") == D("1000") - D("198") * D("1.001")
    assert [o.client_order_id for o in h.venue.open_orders()] == ["l"]
