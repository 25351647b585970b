"""SimExchange: Binance parameter rules and codes, clientOrderId reuse, ledger and public diff depth."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot4.venues.sim.server import Account, ApiError, Listing, ManualClock, SimExchange

SYM = "BTCUSDT"


def exchange() -> SimExchange:
    ex = SimExchange([Listing()], [Account("a", "k", "s", {"USDT": Decimal(10000), "BTC": Decimal(1)})], ManualClock())
    ex.on_quote(SYM, 100.0, 2.0, 101.0, 3.0)
    return ex


def limit(cid: str, price: str = "99", qty: str = "0.1", side: str = "BUY") -> dict[str, str]:
    return {
        "symbol": SYM,
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "quantity": qty,
        "newClientOrderId": cid,
    }


def code(ex: SimExchange, params: dict[str, str]) -> int:
    with pytest.raises(ApiError) as err:
        ex.place("a", params)
    return err.value.code


def test_place_when_client_id_is_open_then_2010_duplicate() -> None:
    ex = exchange()
    ex.place("a", limit("x"))
    with pytest.raises(ApiError, match=r"Duplicate order sent\.") as err:
        ex.place("a", limit("x"))
    assert err.value.code == -2010
    assert ex.ledger.posts[("a", "x")] == 2 and len(ex.ledger.orders) == 1


def test_place_when_client_id_was_filled_then_accepted_again_and_query_finds_newest() -> None:
    ex = exchange()
    first = ex.place("a", limit("x", price="101"))
    assert first.status == "FILLED"
    second = ex.place("a", limit("x"))
    assert second.order_id != first.order_id
    assert ex.find("a", {"symbol": SYM, "origClientOrderId": "x"}) is second
    assert [o.status for o in ex.ledger.orders_by_client_id("a", "x")] == ["FILLED", "NEW"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"symbol": "ETHUSDT"}, -1121),
        ({"side": ""}, -1102),
        ({"side": "HOLD"}, -1117),
        ({"type": "ICEBERG"}, -1116),
        ({"timeInForce": "GTD"}, -1115),
        ({"price": "99.001"}, -1013),
        ({"quantity": "0.0000001"}, -1013),
        ({"quantity": "abc"}, -1100),
        ({"quantity": "1000"}, -2010),  # insufficient balance
    ],
)
def test_place_when_parameter_bad_then_binance_code(change: dict[str, str], expected: int) -> None:
    assert code(exchange(), {**limit("x"), **change}) == expected


def test_place_when_market_has_time_in_force_then_1106() -> None:
    assert (
        code(exchange(), {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": "0.1", "timeInForce": "GTC"})
        == -1106
    )


def test_place_when_market_buy_by_quote_qty_then_quantity_is_what_it_bought() -> None:
    ex = exchange()
    rec = ex.place("a", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quoteOrderQty": "50.5"})
    assert rec.status == "FILLED" and rec.orig_qty == rec.executed_qty > 0
    assert rec.cum_quote <= Decimal("50.5")


def test_cancel_when_order_already_filled_then_2011_unknown_order() -> None:
    ex = exchange()
    rec = ex.place("a", limit("x", price="101"))
    with pytest.raises(ApiError) as err:
        ex.cancel("a", {"symbol": SYM, "orderId": str(rec.order_id)})
    assert (err.value.code, err.value.msg) == (-2011, "Unknown order sent.")


def test_find_when_unknown_then_2013() -> None:
    with pytest.raises(ApiError) as err:
        exchange().find("a", {"symbol": SYM, "origClientOrderId": "nope"})
    assert err.value.code == -2013


def test_resting_order_when_trade_through_then_fill_reported_with_trade_and_execution_ids() -> None:
    ex = exchange()
    seen: list[dict[str, Any]] = []
    ex.user_listeners.append(lambda _acct, msg: seen.append(msg))
    rec = ex.place("a", limit("x", price="100", qty="0.5"))
    ex.on_trade(SYM, 7, 99.0, 1.0, True)
    reports = [m for m in seen if m["e"] == "executionReport"]
    assert [(m["x"], m["X"]) for m in reports] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    assert reports[1]["t"] == ex.ledger.trades[0].trade_id and reports[1]["m"] is True
    assert rec.executed_qty == Decimal("0.5") and rec.trades[0].is_maker


def test_on_quote_when_touch_moves_then_diff_with_consecutive_update_ids_and_removals() -> None:
    ex = exchange()
    diffs: list[dict[str, Any]] = []
    ex.market_listeners.append(lambda stream, msg: diffs.append(msg) if stream == "btcusdt@depth" else None)
    ex.on_quote(SYM, 100.5, 1.0, 101.0, 3.0)  # new bid price, same ask
    ex.on_quote(SYM, 100.5, 1.0, 101.0, 3.0)  # nothing changed: no event
    ex.on_quote(SYM, 100.5, 1.0, 101.0, 2.5)  # ask size only
    assert [(d["U"], d["u"]) for d in diffs] == [(2, 2), (3, 3)]
    assert diffs[0]["b"] == [["100.00000000", "0.00000000"], ["100.50000000", "1.00000000"]] and diffs[0]["a"] == []
    assert diffs[1]["a"] == [["101.00000000", "2.50000000"]]
    assert ex.depth(SYM, 10) == {
        "lastUpdateId": 3,
        "bids": [["100.50000000", "1.00000000"]],
        "asks": [["101.00000000", "2.50000000"]],
    }


def test_market_order_when_it_would_cross_own_resting_order_then_maker_expired_in_match() -> None:
    ex = exchange()
    maker = ex.place("a", limit("m", price="100.5", qty="0.1", side="SELL"))
    ex.place("a", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": "0.1"})
    assert maker.status == "EXPIRED_IN_MATCH"
