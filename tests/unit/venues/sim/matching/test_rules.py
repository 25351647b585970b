"""Venue filters with Binance's codes and messages, built from an instrument or real exchangeInfo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot4.model import Order, OrderType, Side
from bot4.venues.sim.matching import PercentPriceBySide, SymbolRules, VenueOrderRejected
from tests.unit.venues.sim.matching.helpers import IID, INST, D, Harness, order

RULES = SymbolRules.from_instrument(
    INST,
    max_qty=D("50"),
    max_price=D("1000"),
    min_notional=D("10"),
    market_max_qty=D("20"),
    market_min_qty=D("0.001"),
    market_step_size=D("0.01"),
    percent_price=PercentPriceBySide(D("1.2"), D("0.8"), D("1.2"), D("0.8")),
)


def rejected(events: list[object]) -> VenueOrderRejected:
    (ev,) = events
    assert isinstance(ev, VenueOrderRejected)
    return ev


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price": D("1000.5")}, "Filter failure: PRICE_FILTER"),
        ({"price": D("100.05")}, "Filter failure: PRICE_FILTER"),
        ({"quantity": D("51")}, "Filter failure: LOT_SIZE"),
        ({"quantity": D("0.0005")}, "Filter failure: LOT_SIZE"),
        ({"quantity": D("0.05")}, "Filter failure: NOTIONAL"),
        ({"price": D("79.9")}, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        ({"price": D("120.1")}, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    ],
)
def test_limit_when_a_filter_fails_then_rejected_1013_with_filter_name(changes: dict[str, Any], message: str) -> None:
    h = Harness(rules={IID: RULES})
    h.book([("99.9", "1")], [("100.1", "1")])
    bad = replace(order("x", "BUY", price="100.0"), **changes)  # bypass Order.create's own checks
    ev = rejected(h.venue.place(bad))
    assert ev.code == -1013 and ev.reason.startswith(message)


def test_market_when_quantity_off_market_step_then_market_lot_size() -> None:
    h = Harness(rules={IID: RULES})
    h.book([("99.9", "1")], [("100.1", "1")])
    ev = rejected(h.submit("m", "BUY", "MARKET", "0.105"))
    assert ev.reason.startswith("Filter failure: MARKET_LOT_SIZE")
    ev = rejected(h.submit("m2", "BUY", "MARKET", "21"))
    assert ev.reason.startswith("Filter failure: MARKET_LOT_SIZE") and "maxQty 20" in ev.reason


def test_market_when_notional_small_at_reference_then_notional_failure() -> None:
    h = Harness(rules={IID: RULES})
    h.book([("99.9", "1")], [("100.1", "1")])
    ev = rejected(h.submit("m", "SELL", "MARKET", "0.05"))
    assert ev.code == -1013 and "minNotional 10" in ev.reason


def test_unknown_symbol_when_submitted_then_1121() -> None:
    h = Harness()
    bad = replace(order("x", "BUY", price="100.0"), instrument_id="SIM:ETH/USDT")
    ev = rejected(h.venue.place(bad))
    assert (ev.code, ev.reason.split(" (")[0]) == (-1121, "Invalid symbol.")


def test_exchange_info_when_loaded_then_real_btcusdt_filters_apply(shared_data: Path) -> None:
    info = json.loads((shared_data / "nautilus_trader/binance/http_spot_market_exchange_info.json").read_text())
    rules = SymbolRules.from_exchange_info(next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT"))
    assert (rules.tick_size, rules.step_size, rules.min_notional) == (D("0.01"), D("0.00001"), D("10"))
    assert rules.percent_price is not None and rules.percent_price.name == "PERCENT_PRICE"
    small = Order(
        client_order_id="a",
        strategy_id="s",
        instrument_id="X",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=D("0.0001"),
        price=D("60000.00"),
    )
    assert rules.check(small, D("60000")) is not None
    ok = replace(small, quantity=D("0.001"))
    assert rules.check(ok, D("60000")) is None
    far = replace(ok, price=D("400000.00"))
    rej = rules.check(far, D("60000"))
    assert rej is not None and rej.message == "Filter failure: PERCENT_PRICE"


def test_exchange_info_when_filter_missing_then_error_names_symbol() -> None:
    with pytest.raises(ValueError, match="exchangeInfo FOO: missing filter 'LOT_SIZE'"):
        SymbolRules.from_exchange_info({"symbol": "FOO", "filters": [{"filterType": "PRICE_FILTER"}]})
