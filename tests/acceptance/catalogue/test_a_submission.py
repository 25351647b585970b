"""Catalogue A (order submission and idempotency), P0: A1-A5 over HTTP against the local exchange.

The order manager + SQL journal + a venue client talk to the real server with its fault plan; the
oracle (conftest) then checks orders, fills, balances, POST counts, the audit chain and the sentinel.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from bot4.execution.states import OmsStatus
from tests.acceptance.catalogue.conftest import INST, KINDS, Scenario, settle

VARIANTS: dict[str, dict[str, Any]] = {
    "drop_after_book": {"action": "drop_after_book"},
    "503_after_booking": {"action": "status", "code": 503, "book": True},
    "-1007_after_booking": {
        "action": "status", "code": 408, "book": True,
        "body": {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown."},
    },
    "-1006_after_booking": {
        "action": "status", "code": 500, "book": True,
        "body": {"code": -1006, "msg": "An unexpected response was received from the message bus."},
    },
    "delay_beyond_client_timeout": {"action": "delay", "ms": 900},
}  # fmt: skip


def status(rec: Any) -> OmsStatus:
    return rec.status  # type: ignore[no-any-return]


@KINDS
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a1_submit_when_outcome_ambiguous_but_booked_then_in_flight_and_settled_to_one_order(
    cat: Scenario, variant: str
) -> None:
    """A1: never REJECTED; settled by query to the fake's state; exactly one order, one POST."""
    oms = cat.oms()
    spec = dict(VARIANTS[variant])
    cat.venue.fault("POST /api/v3/order", spec.pop("action"), count=1, **spec)
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert status(rec) is OmsStatus.IN_FLIGHT
    if variant.startswith("delay"):
        time.sleep(0.7)  # let the delayed request land before the query
    settle(oms)
    led = cat.venue.ledger()
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == led.executed("ca-1") == Decimal("0.001")
    assert led.posts == {"ca-1": 1} and len(led.orders["ca-1"]) == 1


@KINDS
def test_a2_submit_when_lost_before_booking_then_failed_and_only_a_new_intent_trades(cat: Scenario) -> None:
    """A2: K "not found" answers past the threshold -> FAILED; nothing on the fake from it; a new decision, a new id."""
    oms = cat.oms()
    cat.venue.fault("POST /api/v3/order", "drop_before_book", count=1)
    queries = cat.venue.counter("GET /api/v3/order")
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert status(rec) is OmsStatus.IN_FLIGHT
    oms.poll()
    assert status(rec) is OmsStatus.IN_FLIGHT and queries.fired == 0  # not before the in-flight threshold
    settle(oms)
    assert status(rec) is OmsStatus.FAILED and queries.fired == oms.config.not_found_limit
    assert cat.venue.ledger().orders == {}
    again = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert again.client_order_id == "ca-2" and status(again) is OmsStatus.FILLED
    assert set(cat.venue.ledger().posts) == {"ca-2"}


@KINDS
def test_a3_submit_when_ack_arrives_on_stream_before_retry_then_no_query_and_one_post(cat: Scenario) -> None:
    """A3: -1007 on POST, the NEW event 200 ms later on the user stream; the pending settle-query never fires."""
    feed = cat.user_feed()
    oms = cat.oms(inflight_ms=500)
    cat.venue.fault(
        "POST /api/v3/order", "status", code=408, book=True, count=1, body={"code": -1007, "msg": "Timeout"}
    )
    cat.venue.fault("ws:user", "delay", ms=200, when={"x": "NEW"}, count=1)
    queries = cat.venue.counter("GET /api/v3/order")
    bid, _ = cat.venue.top()
    rec = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid - 100, time_in_force="GTC"
    )
    sent = time.monotonic()
    assert status(rec) is OmsStatus.IN_FLIGHT
    feed.pump(oms, until=lambda: status(rec) is OmsStatus.ACCEPTED, timeout=2)
    assert status(rec) is OmsStatus.ACCEPTED and time.monotonic() - sent < 0.5
    while time.monotonic() - sent < 0.9:  # well past the 500 ms in-flight threshold
        oms.poll()
        time.sleep(0.05)
    assert queries.fired == 0
    assert oms.cancel(rec.client_order_id)
    feed.pump(oms, until=lambda: status(rec) is OmsStatus.CANCELED)
    assert status(rec) is OmsStatus.CANCELED
    assert cat.venue.ledger().posts == {"ca-1": 1}


@KINDS
def test_a4a_submit_when_id_in_use_by_open_order_then_duplicate_read_as_exists_and_adopted(cat: Scenario) -> None:
    """A4(a): -2010 "Duplicate order sent." while the first order is open -> query and adopt, no failure event."""
    oms = cat.oms()
    bid, _ = cat.venue.top()
    price = bid - 50
    # our earlier send of ca-1 reached the venue (e.g. before a crash that lost the journal's answer)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    assert cat.venue.place_raw(cat.venue.account, {**params, "price": str(price), "newClientOrderId": "ca-1"}) == "NEW"
    rec = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=price, time_in_force="GTC"
    )
    assert status(rec) is OmsStatus.ACCEPTED and rec.reason == ""
    led = cat.venue.ledger()
    assert len(led.orders["ca-1"]) == 1 and led.posts["ca-1"] == 2  # the second POST was refused, not booked
    assert oms.cancel("ca-1")
    settle(oms)
    assert status(rec) is OmsStatus.CANCELED


@KINDS
def test_a4b_submit_when_filled_instantly_and_ack_lost_then_never_posted_again(cat: Scenario) -> None:
    """A4(b): the venue would accept a re-send of a filled id; the manager only queries, also after a restart."""
    oms = cat.oms()
    cat.venue.fault("POST /api/v3/order", "drop_after_book", count=1)
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert status(rec) is OmsStatus.IN_FLIGHT
    assert cat.venue.ledger().orders["ca-1"][0][0] == "FILLED"
    oms = cat.oms(recovered=False)  # the process restarts before settling
    from bot4.execution.recovery import recover

    assert recover(oms, [INST.id]).ok
    assert status(oms.get("ca-1")) is OmsStatus.FILLED
    settle(oms)
    led = cat.venue.ledger()
    assert led.posts == {"ca-1": 1} and len(led.trades) == 1


@KINDS
@pytest.mark.parametrize("fault", ["delay_beyond_client_timeout", "503_not_executed"])
def test_a5_cancel_when_outcome_unknown_while_order_fills_then_filled_not_assumed_canceled(
    cat: Scenario, fault: str
) -> None:
    """A5: PENDING_CANCEL is settled by query; the final state is the fake's FILLED, the position counts it."""
    oms = cat.oms()
    bid, _ = cat.venue.top()
    rec = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid, time_in_force="GTC"
    )
    assert status(rec) is OmsStatus.ACCEPTED
    if fault.startswith("delay"):
        cat.venue.fault("DELETE /api/v3/order", "delay", ms=900, count=1)
    else:
        cat.venue.fault("DELETE /api/v3/order", "status", code=503, count=1)
    oms.cancel("ca-1")
    assert status(rec) is OmsStatus.PENDING_CANCEL  # not assumed canceled
    for _ in range(200):  # the market trades through our price while the cancel is in doubt
        cat.venue.step(1)
        if cat.venue.ledger().orders["ca-1"][0][0] == "FILLED":
            break
    time.sleep(0.7)
    settle(oms)
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == Decimal("0.001")
    assert oms.position(INST.id).quantity == cat.venue.ledger().position == Decimal("0.001")
