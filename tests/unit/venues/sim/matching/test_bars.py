"""Bars as the driver: fills at the open moved by square-root impact, capped by volume participation."""

from __future__ import annotations

import pytest

from bot4.model import Bar, Liquidity, OrderExpired
from bot4.venues.sim.matching import OrderTriggered, SqrtImpact
from tests.unit.venues.sim.matching.helpers import IID, D, Harness


def bar(ts: int, o: float, h: float, lo: float, c: float, v: float) -> Bar:
    return Bar(IID, ts, ts + 60, o, h, lo, c, v)


def harness() -> Harness:
    return Harness(driver="bars", impact=SqrtImpact(coefficient=1.0, max_participation=0.1))


def test_market_buy_when_bar_arrives_then_fills_at_open_plus_sqrt_impact() -> None:
    h = harness()
    h.submit("m", "BUY", "MARKET", "1")
    assert h.fills("m") == []
    h.venue.on_bar(bar(1_000, 100, 110, 90, 105, 100))
    (fill,) = h.fills("m")
    # sigma = (110 - 90) / 100 = 0.2; impact = 0.2 * sqrt(1 / 100) = 2 %
    assert (fill.price, fill.liquidity) == (D("102.0"), Liquidity.TAKER)


def test_market_when_larger_than_participation_cap_then_partial_fills_over_bars() -> None:
    h = harness()
    h.submit("m", "SELL", "MARKET", "15")
    h.venue.on_bar(bar(1_000, 100, 100, 100, 100, 100))
    assert h.filled_qty("m") == D("10")
    h.venue.on_bar(bar(1_060, 100, 100, 100, 100, 100))
    assert h.filled_qty("m") == D("15")


def test_order_when_submitted_after_bar_open_then_waits_for_next_bar() -> None:
    h = harness()
    h.submit("m", "BUY", "MARKET", "1")
    h.venue.on_bar(bar(999, 100, 100, 100, 100, 100))
    assert h.fills("m") == []


def test_resting_limit_when_bar_range_reaches_it_then_maker_fill_at_limit() -> None:
    h = harness()
    h.submit("l", "BUY", price="95.0", qty="2")
    h.venue.on_bar(bar(1_000, 100, 101, 96, 97, 100))
    assert h.fills("l") == []
    h.venue.on_bar(bar(1_060, 97, 98, 94, 95, 100))
    (fill,) = h.fills("l")
    assert (fill.price, fill.quantity, fill.liquidity) == (D("95.0"), D("2"), Liquidity.MAKER)


def test_ioc_limit_when_open_does_not_cross_then_expires_after_first_bar() -> None:
    h = harness()
    h.submit("i", "BUY", price="95.0", time_in_force="IOC")
    h.venue.on_bar(bar(1_000, 100, 101, 94, 97, 100))
    assert h.of("i", OrderExpired) and h.fills("i") == []


@pytest.mark.parametrize(("o", "reference"), [(100.0, "99.0"), (97.0, "97")])
def test_stop_market_when_bar_crosses_trigger_then_fills_at_trigger_or_gap_open(o: float, reference: str) -> None:
    h = harness()
    h.submit("s", "SELL", "STOP_MARKET", "1", trigger_price="99.0")
    h.venue.on_bar(bar(1_000, o, 100.5, 95, 96, 100))
    assert h.of("s", OrderTriggered)
    (fill,) = h.fills("s")
    # the impact (coefficient * range / open * sqrt(1/100)) moves the sell down from its reference
    ref = D(reference)  # the trigger, or the open when the bar gapped through it
    sigma = (D("100.5") - D("95")) / D(repr(o))
    assert fill.price == (ref * (1 - sigma * D("0.1")) / D("0.1")).to_integral_value(rounding="ROUND_FLOOR") * D("0.1")


def test_market_when_bar_has_no_volume_then_waits_for_a_bar_with_volume() -> None:
    h = harness()
    h.submit("m", "BUY", "MARKET", "1")
    h.venue.on_bar(bar(1_000, 100, 100, 100, 100, 0))
    assert h.fills("m") == [] and h.venue.working("m") is not None
    h.venue.on_bar(bar(1_060, 100, 100, 100, 100, 50))
    assert h.filled_qty("m") == D("1")


def test_bars_when_venue_is_book_driven_then_bars_are_ignored() -> None:
    h = Harness()
    h.submit("l", "BUY", price="95.0")
    h.venue.on_bar(bar(1_000, 100, 101, 90, 97, 100))
    assert h.fills("l") == []
