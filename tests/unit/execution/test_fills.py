"""Fills exactly once (C1), lost partial fills backfilled (C3), stale snapshots (C2), fee currency."""

from __future__ import annotations

from dataclasses import replace

from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.records import OrderSnapshot
from bot4.execution.states import OmsStatus
from tests.unit.execution.harness import IID, D, Rig, status


def test_fill_when_delivered_three_times_and_by_rest_poll_then_applied_once() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    rig.trade(100.0, 0.5)
    fill_report = rig.captured[-1]
    for _ in range(3):
        oms.on_report(fill_report)  # the stream repeats the same trade (t/I)
    oms.backfill(IID)  # and the REST poll returns it again
    assert rec.filled_qty == D("0.5")
    pos = oms.position(IID)
    assert pos.quantity == D("0.5") and pos.avg_price == D("100")
    assert oms.ledger.fees[("SIM", "USDT")] == D("0.0500")
    if isinstance(rig.journal, MemoryJournal):
        kinds = [k for k, _, _ in rig.journal.events]
        assert kinds.count("DUPLICATE_FILL_DROPPED") == 3  # the audit says what was dropped


def test_fill_when_one_partial_report_lost_then_cum_jump_reveals_gap_and_backfill_completes() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    for size in (0.3, 0.3, 0.4):
        rig.trade(100.0, size)
    fills = [r for r in rig.captured if r.fill is not None]
    oms.on_report(fills[0])
    oms.on_report(fills[2])  # the second report never arrives
    assert rec.has_gap and rec.filled_qty == D("0.7") and rec.reported_cum == D("1")
    rig.later()
    oms.poll()
    assert rec.filled_qty == D("1") and not rec.has_gap and rec.status is OmsStatus.FILLED
    assert oms.position(IID).quantity == D("1")
    assert oms.ledger.fees == {("SIM", "USDT"): D("0.1000")}


def test_snapshot_when_stale_new_arrives_after_stream_fill_then_no_regression() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    stale = rig.raw.query_order(rec.client_order_id, IID)
    assert stale is not None and stale.status is OmsStatus.ACCEPTED
    rig.trade(100.0, 1.0)
    for r in rig.captured:
        oms.on_report(r)
    oms.apply_snapshot(rec, stale)  # the slow REST answer lands after the stream's FILLED
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == D("1")


def test_snapshot_when_query_confirms_open_during_pending_cancel_then_back_to_open() -> None:
    rig = Rig(capture=True)
    oms = rig.start()
    rec = rig.buy("1", price="100")
    rig.client.plan["cancel"] = ["drop_before_book"]
    oms.cancel(rec.client_order_id)
    assert status(rec) is OmsStatus.PENDING_CANCEL
    snap = rig.raw.query_order(rec.client_order_id, IID)
    assert isinstance(snap, OrderSnapshot)
    oms.apply_snapshot(rec, snap)  # only an explicit query may undo PENDING_CANCEL
    assert status(rec) is OmsStatus.ACCEPTED
    oms.apply_snapshot(rec, replace(snap, status=OmsStatus.CANCELED))
    assert status(rec) is OmsStatus.CANCELED
