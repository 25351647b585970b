"""Brackets, OCO, trailing and time stops, never-naked, with partial fills and a cancel racing a fill."""

from __future__ import annotations

from decimal import Decimal

from bot4.execution.contingent import Bracket, ContingentManager
from bot4.execution.states import OmsStatus
from tests.unit.execution.harness import IID, INST, D, Rig


def setup() -> tuple[Rig, ContingentManager]:
    rig = Rig()
    rig.start()
    return rig, ContingentManager(rig.oms)


def exits_ok(rig: Rig, cm: ContingentManager, b: Bracket) -> tuple[Decimal, Decimal]:
    """Working exits + filled exits never exceed what the entry filled."""
    entry = cm._entry_filled(b)
    exits = [rig.oms.get(c) for c in b.tp_ids + b.exit_ids]
    working = sum((r.leaves_qty for r in exits if r.status.is_working), D(0))
    filled = sum((r.filled_qty for r in exits), D(0))
    assert working + filled <= entry, (working, filled, entry)
    return working, filled


def test_bracket_when_entry_fills_in_parts_then_take_profit_sized_and_resized_to_fills() -> None:
    rig, cm = setup()
    b = cm.bracket(INST, "BUY", "1", entry_price="100", take_profit="110", stop_loss="95")
    assert b.tp_ids == []  # nothing filled, nothing to protect yet
    rig.trade(100.0, 0.4)
    assert rig.oms.get(b.tp_ids[-1]).quantity == D("0.4")
    exits_ok(rig, cm, b)
    rig.trade(100.0, 0.3)
    tp = rig.oms.get(b.tp_ids[-1])
    assert tp.quantity == D("0.7") and len(b.tp_ids) == 2
    assert rig.oms.get(b.tp_ids[0]).status is OmsStatus.CANCELED
    exits_ok(rig, cm, b)
    rig.trade(100.0, 0.3)
    assert rig.oms.get(b.tp_ids[-1]).quantity == D("1")
    rig.trade(110.0, 1.0, "BUY")
    assert b.done and rig.oms.position(IID).quantity == 0
    assert rig.venue_position() == 0


def test_bracket_when_cancel_races_take_profit_fill_then_replacement_sized_to_remaining() -> None:
    rig, cm = setup()
    b = cm.bracket(INST, "BUY", "1", entry_price="100", take_profit="110", stop_loss="95")
    rig.trade(100.0, 0.4)
    first = b.tp_ids[-1]
    rig.client.plan["cancel"] = ["drop_before_book"]  # the resize cancel is lost...
    rig.trade(100.0, 0.3)
    assert rig.oms.get(first).status is OmsStatus.PENDING_CANCEL
    rig.trade(110.0, 0.4, "BUY")  # ...and the old take-profit fills meanwhile
    exits_ok(rig, cm, b)
    rig.later()
    rig.oms.poll()  # the fill's own event settled it; the poll finds nothing left to ask
    assert rig.oms.get(first).status is OmsStatus.FILLED
    assert rig.oms.get(b.tp_ids[-1]).quantity == D("0.3")
    working, filled = exits_ok(rig, cm, b)
    assert working == D("0.3") and filled == D("0.4")
    assert rig.oms.position(IID).quantity == rig.venue_position() == D("0.3")


def test_bracket_when_stop_hit_during_partial_entry_then_entry_and_tp_canceled_and_one_market_exit() -> None:
    rig, cm = setup()
    b = cm.bracket(INST, "BUY", "1", entry_price="100", take_profit="110", stop_loss="96")
    rig.trade(100.0, 0.5)
    rig.book([("95", "10")], [])
    cm.on_price(IID, "95.5")
    assert b.stopped and b.done
    assert rig.oms.get(b.entry_id).status is OmsStatus.CANCELED
    assert len(b.exit_ids) == 1 and rig.oms.get(b.exit_ids[0]).filled_qty == D("0.5")
    assert rig.oms.position(IID).quantity == rig.venue_position() == 0


def test_oco_when_limit_partly_fills_then_stop_exits_only_the_rest() -> None:
    rig, cm = setup()
    rig.book([], [("100", "5")])
    rig.buy("1", type="MARKET")
    rig.book([], [])
    b = cm.oco(INST, "SELL", "1", limit="110", stop="95")
    rig.trade(110.0, 0.4, "BUY")
    assert cm._target(b) == D("0.6")
    rig.book([("94", "10")], [])
    cm.on_price(IID, "94")
    assert b.done and rig.oms.get(b.tp_ids[-1]).status is OmsStatus.CANCELED
    assert rig.oms.get(b.exit_ids[0]).quantity == D("0.6")
    assert rig.oms.position(IID).quantity == rig.venue_position() == 0


def test_trailing_stop_when_price_retraces_percent_from_high_then_exits_once() -> None:
    rig, cm = setup()
    rig.book([], [("100", "5")])
    rig.buy("1", type="MARKET")
    rig.book([("104", "10")], [])
    t = cm.trailing_stop(INST, "SELL", "1", percent="5")
    for px in ("100", "105", "110", "104.6"):
        cm.on_price(IID, px)
    assert not t.fired and t.level() == D("104.5")
    cm.on_price(IID, "104.5")
    cm.on_price(IID, "104")
    assert t.fired and rig.oms.position(IID).quantity == 0
    assert len([r for r in rig.oms.orders.values() if r.role == "STOP"]) == 1


def test_trailing_stop_when_atr_then_level_is_best_minus_multiple() -> None:
    _rig, cm = setup()
    t = cm.trailing_stop(INST, "SELL", "1", atr_mult="2", atr="1.5")
    cm.on_price(IID, "100")
    assert t.level() == D("97.0")
    cm.update_atr(t.id, "1")
    assert t.level() == D("98")


def test_time_stop_when_deadline_passes_on_monotonic_clock_then_flattened() -> None:
    rig, cm = setup()
    rig.book([], [("100", "5")])
    rig.buy("1", type="MARKET")
    rig.book([("99", "10")], [])
    cm.time_stop(INST, 1_000_000_000)
    cm.on_timer()
    assert rig.oms.position(IID).quantity == D("1")
    rig.later(1000)
    cm.on_timer()
    assert rig.oms.position(IID).quantity == 0


def test_ensure_protected_when_position_has_no_stop_then_stop_armed_or_flattened() -> None:
    rig, cm = setup()
    rig.book([], [("100", "5")])
    rig.buy("1", type="MARKET")
    assert cm.ensure_protected(INST, stop_distance="5") == "flattened"  # no price known: cannot place a stop
    rig.book([], [("100", "5")])
    rig.later()
    rig.buy("1", type="MARKET")
    cm.on_price(IID, "100")
    assert cm.ensure_protected(INST, stop_distance="5") == "protected"
    assert cm.protective[IID].stop_loss == D("95")
    assert cm.ensure_protected(INST, stop_distance="5") == "protected"  # idempotent: one stop
    rig.book([("94", "10")], [])
    cm.on_price(IID, "94")
    assert rig.oms.position(IID).quantity == 0
