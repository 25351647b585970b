"""Order manager on the matching venue: submit/ack/fill, unknown outcomes (A1-A5), halts."""

from __future__ import annotations

import pytest

from bot4.execution.errors import TradingHalted
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.states import OmsStatus
from tests.unit.execution.harness import D, Rig, limit_order, status


def test_submit_when_limit_rests_then_accepted_and_intent_journaled_first() -> None:
    rig = Rig()
    oms = rig.start()
    rec = rig.buy("1", price="100")
    assert rec.client_order_id == "b4-1"
    assert status(rec) is OmsStatus.ACCEPTED
    assert isinstance(rig.journal, MemoryJournal)
    assert rig.journal.orders["b4-1"].status is OmsStatus.ACCEPTED
    assert oms.next_client_id() == "b4-2"


def test_submit_when_not_recovered_then_refused_with_reason() -> None:
    rig = Rig()
    with pytest.raises(TradingHalted, match="not recovered"):
        rig.buy()
    assert rig.client.posts == {}


def test_submit_when_journal_cannot_commit_then_nothing_sent_and_halted() -> None:
    rig = Rig()
    rig.start()
    assert isinstance(rig.journal, MemoryJournal)
    rig.journal.fail_next = 1
    with pytest.raises(TradingHalted, match="intent not committed"):
        rig.buy()
    assert rig.client.posts == {}
    assert rig.venue_orders() == []
    with pytest.raises(TradingHalted, match="journal cannot commit"):
        rig.buy()


def test_fill_when_partial_trades_then_cum_avg_fee_and_position_exact() -> None:
    rig = Rig()
    oms = rig.start()
    rec = rig.buy("1", price="100")
    rig.trade(100.0, 0.3)
    rig.trade(99.0, 0.7)
    assert status(rec) is OmsStatus.FILLED
    assert rec.filled_qty == D("1")
    assert rec.avg_price == D("100")
    pos = oms.position(rec.order.instrument_id)
    assert pos.quantity == D("1") and pos.avg_price == D("100")
    assert oms.ledger.fees[("SIM", "USDT")] == D("0.1000")  # maker 0.1% of 100 USDT, in the currency charged


@pytest.mark.parametrize("fault", ["drop_after_book"])
def test_submit_when_outcome_unknown_but_booked_then_in_flight_then_settled_by_query(fault: str) -> None:
    rig = Rig()
    oms = rig.start()
    rig.client.plan["submit"] = [fault]
    rec = rig.buy("1", price="100")
    assert status(rec) is OmsStatus.IN_FLIGHT  # A1: never REJECTED
    oms.poll()  # before the in-flight threshold: no query
    assert rig.client.calls["query_order"] == 0
    rig.later()
    oms.poll()
    assert status(rec) is OmsStatus.ACCEPTED
    assert rig.client.posts["b4-1"] == 1 and rig.venue_orders() == ["b4-1"]


def test_submit_when_lost_before_booking_then_failed_after_k_not_found_and_never_resent() -> None:
    rig = Rig()
    oms = rig.start()
    rig.client.plan["submit"] = ["drop_before_book"]
    rec = rig.buy("1", price="100")
    for _ in range(2):
        rig.later()
        oms.poll()
        assert status(rec) is OmsStatus.IN_FLIGHT
    rig.later()
    oms.poll()
    assert status(rec) is OmsStatus.FAILED  # A2
    assert rig.venue_orders() == [] and rig.client.posts == {}
    assert rig.buy("1").client_order_id == "b4-2"  # only a new intent re-enters, with a new id


def test_submit_when_ack_arrives_on_stream_before_timeout_then_no_query_and_one_post() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rig.client.plan["submit"] = ["drop_after_book"]
    rec = rig.buy("1", price="100")
    rig.trade(100.0, 1.0)
    for r in rig.captured:  # A3: the stream reports the order before any retry could fire
        oms.on_report(r)
    rig.later()
    oms.poll()
    assert status(rec) is OmsStatus.FILLED
    assert rig.client.calls["query_order"] == 0 and rig.client.posts["b4-1"] == 1


def test_submit_when_venue_says_duplicate_then_order_adopted_not_failed() -> None:
    rig = Rig()
    oms = rig.start()
    rig.raw.submit(rig_order := limit_order("b4-1"))  # A4a: the id is already open at the venue
    rec = oms.submit(rig_order)
    assert status(rec) is OmsStatus.ACCEPTED
    assert rig.venue_orders() == ["b4-1"]


def test_cancel_when_outcome_unknown_and_order_fills_then_filled_not_assumed_canceled() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    rig.client.plan["cancel"] = ["drop_before_book"]
    oms.cancel(rec.client_order_id)
    assert status(rec) is OmsStatus.PENDING_CANCEL
    rig.trade(100.0, 1.0)  # A5: the order fills while the cancel's fate is unknown
    rig.later()
    oms.poll()
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == D("1")
    assert oms.position(rec.order.instrument_id).quantity == D("1")


def test_cancel_when_venue_refuses_because_filled_then_settled_by_query() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    rig.trade(100.0, 1.0)  # filled at the venue; the stream report is held back
    oms.cancel(rec.client_order_id)
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == D("1")


def test_cancel_when_in_flight_then_sent_after_ack() -> None:
    rig = Rig()
    oms = rig.start()
    rig.client.plan["submit"] = ["drop_after_book"]
    rec = rig.buy("1", price="100")
    oms.cancel(rec.client_order_id)
    assert rig.client.calls["cancel"] == 0
    rig.later()
    oms.poll()
    assert status(rec) is OmsStatus.CANCELED


def test_poll_when_venue_down_then_in_flight_stays_unknown() -> None:
    rig = Rig()
    oms = rig.start()
    rig.client.plan["submit"] = ["drop_after_book"]
    rec = rig.buy("1", price="100")
    rig.client.down = True
    for _ in range(5):
        rig.later()
        oms.poll()
    assert status(rec) is OmsStatus.IN_FLIGHT


def test_submit_when_caller_ids_enabled_then_chosen_id_is_used_and_reuse_is_refused() -> None:
    from bot4.execution.order_manager import OmsConfig, OrderManager

    rig = Rig()
    rig.oms = OrderManager(rig.client, MemoryJournal(), rig.clock, OmsConfig(caller_ids=True))
    oms = rig.start()
    rec = oms.submit(limit_order("alpha-1"))
    assert rec.client_order_id == "alpha-1" and status(rec) is OmsStatus.ACCEPTED
    with pytest.raises(ValueError, match="'alpha-1' is already used"):
        oms.submit(limit_order("alpha-1"))
    with pytest.raises(ValueError, match="1-36 characters"):
        oms.submit(limit_order("a" * 37))
    assert rig.venue_orders("alpha") == ["alpha-1"]


def test_on_status_when_ack_and_fill_arrive_in_one_response_then_each_step_is_reported_in_order() -> None:
    rig = Rig()
    rig.book([("99", "5")], [("100", "5")])
    oms = rig.start()
    steps: list[tuple[str, OmsStatus]] = []
    oms.on_status(lambda rec, st, reason: steps.append((rec.client_order_id, st)))
    rec = rig.buy("1", price="100")  # crosses the ask: accepted and filled by the same request
    assert status(rec) is OmsStatus.FILLED
    assert steps == [("b4-1", OmsStatus.ACCEPTED), ("b4-1", OmsStatus.FILLED)]


def _failed_then_booked_late(rig: Rig) -> tuple[object, list[object]]:
    """An intent lost before booking turns FAILED; then the delayed request reaches the venue after all."""
    oms = rig.start()
    rig.client.plan["submit"] = ["drop_before_book"]
    rec = rig.buy("1", price="100")
    for _ in range(3):
        rig.later()
        oms.poll()
    assert status(rec) is OmsStatus.FAILED
    rig.raw.submit(rec.order)  # the venue books it late (the adapter, not the order manager, sends it)
    return rec, list(rig.captured)


def _late_events(rig: Rig) -> list[str]:
    assert isinstance(rig.journal, MemoryJournal)
    return [d for k, _c, d in rig.journal.events if k == "LATE_BOOKING"]


def test_report_when_failed_intent_booked_late_on_stream_then_venue_state_adopted_fills_count_never_resent() -> None:
    rig = Rig(capture=True)
    rec, _ = _failed_then_booked_late(rig)
    rig.trade(100.0, 0.4)  # part-fills the late order at the venue
    for r in rig.captured:
        rig.oms.on_report(r)
    assert status(rec) is OmsStatus.PARTIALLY_FILLED and rec.filled_qty == D("0.4")  # type: ignore[attr-defined]
    assert rig.oms.position(rec.order.instrument_id).quantity == D("0.4")  # type: ignore[attr-defined]
    assert any("late booking of a failed intent" in d for d in _late_events(rig))
    rig.later()
    rig.oms.poll()
    assert rig.client.posts == {} and rig.oms.working() == [rec]  # managed again, never re-sent


def test_settle_when_failed_intent_found_by_query_then_venue_state_adopted_and_alert_recorded() -> None:
    rig = Rig(capture=True)
    rec, _ = _failed_then_booked_late(rig)
    assert rig.oms.settle(rec)  # type: ignore[arg-type]
    assert status(rec) is OmsStatus.ACCEPTED
    assert _late_events(rig) == ["late booking of a failed intent: the venue reports ACCEPTED"]
    assert rig.client.posts == {}
