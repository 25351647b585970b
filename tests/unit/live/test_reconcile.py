"""Reconciliation diff logic (B2, B3): mismatches beyond tolerance, confirmed twice; failed queries are unknown."""

from __future__ import annotations

from decimal import Decimal

from bot4.execution.records import OrderRecord, OrderSnapshot
from bot4.execution.states import OmsStatus
from bot4.live.reconcile import Reconciler, diff_balances, diff_open_orders
from bot4.model.enums import Liquidity, Side
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

D = Decimal
INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.00001", min_notional="5")
IID = INST.id


def ours(cid: str) -> bool:
    return cid.startswith("b4-")


def rec(cid: str, status: OmsStatus) -> OrderRecord:
    order = Order.create(INST, client_order_id=cid, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001",
                         price="10000", ts_init=0)  # fmt: skip
    return OrderRecord(cid, 1, "BINANCE", order, status=status)


def snap(cid: str) -> OrderSnapshot:
    return OrderSnapshot(cid, IID, "BUY", "LIMIT", OmsStatus.ACCEPTED, D("0.001"), D(0), D(100))


def fill(side: Side, qty: str, price: str, fee: str) -> Fill:
    return Fill("t1", "b4-s-1", "s", IID, side, D(qty), D(price), D(fee), "USDT", Liquidity.TAKER, 0)


def test_orders_when_venue_and_journal_agree_then_no_mismatch() -> None:
    journal = {"b4-s-1": rec("b4-s-1", OmsStatus.ACCEPTED), "b4-s-2": rec("b4-s-2", OmsStatus.FILLED)}
    assert diff_open_orders([snap("b4-s-1")], journal, ours) == []


def test_orders_when_ours_at_venue_unknown_or_closed_in_journal_then_mismatch_external_ignored() -> None:
    journal = {"b4-s-2": rec("b4-s-2", OmsStatus.CANCELED)}
    found = diff_open_orders([snap("b4-s-1"), snap("b4-s-2"), snap("manual-7")], journal, ours)
    assert [(m.kind, m.subject) for m in found] == [
        ("order_not_in_journal", "b4-s-1"),
        ("order_not_in_journal", "b4-s-2"),
    ]


def test_orders_when_journal_open_but_venue_does_not_list_it_then_mismatch_unless_in_flight() -> None:
    journal = {"b4-s-1": rec("b4-s-1", OmsStatus.ACCEPTED), "b4-s-2": rec("b4-s-2", OmsStatus.IN_FLIGHT)}
    found = diff_open_orders([], journal, ours)
    assert [(m.kind, m.subject) for m in found] == [("order_missing_at_venue", "b4-s-1")]


def test_balances_when_within_tolerance_then_ok_beyond_then_mismatch_names_currency() -> None:
    tol = {"BTC": D("0.00001"), "USDT": D("0.01")}
    assert diff_balances({"BTC": D("1"), "USDT": D("100")}, {"BTC": D("1.00001"), "USDT": D("99.99")}, tol) == []
    found = diff_balances({"BTC": D("1"), "USDT": D("100")}, {"BTC": D("1.001"), "USDT": D("100")}, tol)
    assert [(m.kind, m.subject) for m in found] == [("balance", "BTC")]
    assert "1.001" in found[0].detail and "tolerance" in found[0].detail


def test_reconciler_when_query_failed_then_unknown_never_flat_b3() -> None:
    r = Reconciler({IID: INST})
    r.set_baseline({"BTC": D(1), "USDT": D(1000)})
    res = r.check(None, None, {"b4-s-1": rec("b4-s-1", OmsStatus.ACCEPTED)}, ours, error="open orders: HTTP 500")
    assert res.status == "unknown" and "500" in res.describe() and res.mismatches == ()


def test_reconciler_when_fills_move_balances_then_expected_follows_and_only_persistent_diffs_count() -> None:
    r = Reconciler({IID: INST}, tolerance_steps=1, confirmations=2)
    r.set_baseline({"BTC": D(1), "USDT": D(1000)})
    r.on_fill(fill(Side.BUY, "0.01", "100", "0.001"))
    assert r.expected() == {"BTC": D("1.01"), "USDT": D("998.999")}
    agree = {"BTC": D("1.01"), "USDT": D("998.999")}
    assert r.check([], agree, {}, ours).status == "ok"
    manual = {"BTC": D("1.51"), "USDT": D("998.999")}  # someone bought 0.5 BTC by hand
    first = r.check([], manual, {}, ours)
    assert first.status == "ok"  # seen once: could be a fill racing the query
    second = r.check([], manual, {}, ours)
    assert second.status == "mismatch" and second.mismatches[0].subject == "BTC"
    assert r.check([], agree, {}, ours).status == "ok"  # resolved: the count starts again


def test_reconciler_when_orders_in_flight_then_balances_are_not_judged() -> None:
    r = Reconciler({IID: INST}, confirmations=1)
    r.set_baseline({"BTC": D(1), "USDT": D(1000)})
    in_flight = {"b4-s-1": rec("b4-s-1", OmsStatus.IN_FLIGHT)}
    assert r.check([], {"BTC": D(2), "USDT": D(0)}, in_flight, ours).status == "ok"
    assert r.check([], {"BTC": D(2), "USDT": D(0)}, {}, ours).status == "mismatch"
