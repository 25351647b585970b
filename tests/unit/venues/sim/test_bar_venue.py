"""Fill rules of the bar venue: next-bar fills, limits, stops, post-only, balances, fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot4.engine.clock import SimClock
from bot4.model import (
    Bar,
    Liquidity,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from bot4.venues.sim.bar_venue import BarVenue
from tests.builders import T0, make_instrument

MIN = 60_000_000_000
INST = make_instrument()  # BTC/USDT, tick 0.01, step 0.001, maker 0.1 %, taker 0.2 %


class Harness:
    def __init__(self, usdt: str = "100000", btc: str = "10", slippage_bps: str = "0") -> None:
        self.clock = SimClock(T0)
        self.events: list[object] = []
        self.venue = BarVenue(
            "SIM",
            {INST.id: INST},
            {"USDT": Decimal(usdt), "BTC": Decimal(btc)},
            self.clock,
            self.events.append,
            Decimal(slippage_bps),
        )
        self.k = 0

    def submit(self, **kw: object) -> Order:
        self.k += 1
        base: dict[str, object] = {"client_order_id": f"c{self.k}", "strategy_id": "s", "side": "BUY", "quantity": "1"}
        base.update(kw)
        order = Order.create(INST, **base)  # type: ignore[arg-type]
        self.venue.submit(order)
        return order

    def bar(self, i: int, o: float, h: float, lo: float, c: float) -> None:
        """Bar i opens at T0 + i minutes and is delivered at its close."""
        self.clock.advance_to(T0 + (i + 1) * MIN)
        self.venue.on_bar(Bar(INST.id, T0 + i * MIN, T0 + (i + 1) * MIN, o, h, lo, c, 5.0))

    def fills(self) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled)]


def test_market_when_submitted_on_a_bar_close_then_fills_at_next_open_never_the_same_bar() -> None:
    h = Harness()
    h.clock.advance_to(T0 + MIN)  # the close of bar 0: the strategy decides now
    h.submit()
    h.venue.on_bar(Bar(INST.id, T0, T0 + MIN, 90.0, 95.0, 85.0, 92.0, 1.0))  # bar 0 again: already past
    assert h.fills() == []
    h.bar(1, 100.0, 110.0, 99.0, 105.0)
    (f,) = h.fills()
    assert (f.fill.price, f.fill.quantity, f.fill.liquidity) == (Decimal("100"), Decimal("1"), Liquidity.TAKER)
    assert f.fill.fee == Decimal("0.200")  # 0.2 % taker on 100
    assert f.fill.ts_event == T0 + MIN


def test_market_when_slippage_configured_then_moves_against_order_rounded_to_tick() -> None:
    h = Harness(slippage_bps="3")
    h.submit()
    h.submit(side="SELL")
    h.bar(0, 100.01, 101.0, 99.0, 100.0)
    buy, sell = h.fills()
    assert buy.fill.price == Decimal("100.05")  # 100.01 * 1.0003 = 100.040003 -> ceiling 100.05
    assert sell.fill.price == Decimal("99.97")  # 100.01 * 0.9997 = 99.979997 -> floor 99.97


def test_limit_when_open_crosses_on_arrival_then_takes_at_open() -> None:
    h = Harness()
    h.submit(type="LIMIT", price="105")
    h.bar(0, 100.0, 101.0, 99.0, 100.5)
    (f,) = h.fills()
    assert (f.fill.price, f.fill.liquidity) == (Decimal("100"), Liquidity.TAKER)


def test_limit_when_resting_then_fills_at_limit_as_maker_when_range_reaches_it() -> None:
    h = Harness()
    h.submit(type="LIMIT", price="95")
    h.bar(0, 100.0, 101.0, 96.0, 98.0)
    assert h.fills() == []
    h.bar(1, 94.0, 97.0, 90.0, 96.0)  # gapped below the resting buy: it still trades at its own price
    (f,) = h.fills()
    assert (f.fill.price, f.fill.liquidity, f.fill.fee) == (Decimal("95"), Liquidity.MAKER, Decimal("0.095"))


def test_post_only_when_it_would_take_then_rejected_and_funds_released() -> None:
    h = Harness(usdt="1000")
    h.submit(type="LIMIT", price="105", post_only=True)
    assert h.venue.locked["USDT"] > 0
    h.bar(0, 100.0, 101.0, 99.0, 100.5)
    rejected = [e for e in h.events if isinstance(e, OrderRejected)]
    assert rejected and "post-only" in rejected[0].reason
    assert h.venue.locked["USDT"] == 0 and h.venue.free["USDT"] == Decimal("1000")


def test_ioc_when_not_marketable_at_open_then_expires() -> None:
    h = Harness()
    h.submit(type="LIMIT", price="95", time_in_force="IOC")
    h.bar(0, 100.0, 101.0, 90.0, 98.0)  # the low reaches 95 but an IOC only lives at arrival
    assert h.fills() == []
    assert any(isinstance(e, OrderExpired) for e in h.events)


@pytest.mark.parametrize(
    ("bar", "expected"),
    [((104.0, 106.0, 103.0, 105.0), "104"), ((99.0, 103.0, 98.0, 101.0), "102")],
    ids=["gap-through-fills-at-open", "touch-fills-at-trigger"],
)
def test_stop_market_buy_when_triggered_then_fills_at_open_or_trigger(bar: tuple[float, ...], expected: str) -> None:
    h = Harness()
    h.submit(type="STOP_MARKET", trigger_price="102")
    h.bar(0, *bar)
    (f,) = h.fills()
    assert f.fill.price == Decimal(expected)


def test_stop_market_sell_when_not_reached_then_keeps_working() -> None:
    h = Harness()
    h.submit(type="STOP_MARKET", side="SELL", trigger_price="90")
    h.bar(0, 100.0, 101.0, 91.0, 95.0)
    assert h.fills() == [] and len(h.venue.open_orders()) == 1
    h.bar(1, 95.0, 96.0, 85.0, 86.0)
    assert h.fills()[0].fill.price == Decimal("90")


def test_stop_limit_when_triggered_inside_bar_then_rests_as_limit_from_next_bar() -> None:
    h = Harness()
    h.submit(type="STOP_LIMIT", side="SELL", trigger_price="95", price="94")
    h.bar(0, 100.0, 101.0, 93.0, 96.0)  # triggers at 95 inside the bar: no same-bar fill assumed
    assert h.fills() == []
    h.bar(1, 96.0, 97.0, 95.5, 96.5)  # limit 94 sell is below: a resting sell fills when the high reaches it
    (f,) = h.fills()
    assert (f.fill.price, f.fill.liquidity) == (Decimal("94"), Liquidity.MAKER)


def test_submit_when_account_cannot_pay_then_rejected_with_amounts() -> None:
    h = Harness(usdt="50", btc="0")
    h.submit(type="LIMIT", price="100")
    h.submit(side="SELL")
    reasons = [e.reason for e in h.events if isinstance(e, OrderRejected)]
    assert reasons[0].startswith("insufficient balance: need 100.200 USDT, free 50")
    assert reasons[1] == "insufficient balance: need 1 BTC, free 0"


def test_market_buy_when_cash_short_at_fill_then_rejected_not_overdrawn() -> None:
    h = Harness(usdt="99", btc="0")
    h.submit()
    h.bar(0, 100.0, 101.0, 99.0, 100.0)
    assert h.fills() == []
    assert h.venue.free["USDT"] == Decimal("99")


def test_quote_quantity_when_buying_then_largest_step_multiple_cash_pays_for_fee_included() -> None:
    h = Harness(usdt="1000", btc="0")
    h.submit(quantity=None, quote_quantity="1000")
    h.bar(0, 300.0, 301.0, 299.0, 300.0)
    (f,) = h.fills()
    assert f.fill.quantity == Decimal("3.326")  # 1000 / (300 * 1.002) = 3.3266 -> down to 0.001
    assert f.fill.quantity * f.fill.price + f.fill.fee <= Decimal(1000)
    assert h.venue.free["USDT"] == Decimal(1000) - Decimal("3.326") * 300 * Decimal("1.002")


def test_cancel_when_working_then_canceled_and_unlocked() -> None:
    h = Harness(usdt="1000")
    o = h.submit(type="LIMIT", price="90")
    h.venue.cancel(o.client_order_id)
    assert isinstance(h.events[-1], OrderCanceled)
    assert h.venue.free["USDT"] == Decimal("1000") and h.venue.open_orders() == []


def test_submit_when_client_id_in_use_then_rejected() -> None:
    h = Harness()
    h.submit(type="LIMIT", price="90", client_order_id="dup")
    h.k = 0
    h.venue.submit(Order.create(INST, client_order_id="dup", strategy_id="s", side="BUY", quantity="1"))
    assert isinstance(h.events[0], OrderAccepted)
    assert isinstance(h.events[-1], OrderRejected) and "duplicate client order id" in h.events[-1].reason
