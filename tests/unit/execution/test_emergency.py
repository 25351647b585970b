"""F3/B4 on the order manager: the kill path sends without the journal, and nothing is lost or sent twice.

The journal is a ``MemoryJournal`` whose ``down`` flag fails every commit, as a locked database would;
the emergency intent log is a real file. Real SQLite locks and the real exchange server are in
tests/integration/test_oms_emergency.py.
"""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.execution.emergency import EmergencyLog, intent_entry, record_from_entry
from bot4.execution.errors import JournalError, TradingHalted
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import OrderRecord
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.model import Order
from bot4.persistence.journal import SqlJournal
from tests.unit.execution.harness import INST, MS, D, Rig, status

CFG = OmsConfig(caller_ids=True, inflight_timeout_ns=500 * MS, urgent_ms=120, journal_retry_ns=100 * MS)


def make(tmp_path: Path) -> tuple[Rig, OrderManager, MemoryJournal]:
    journal = MemoryJournal()
    journal.emergency_log_path = tmp_path / "journal.db.emergency.jsonl"
    rig = Rig(journal)
    rig.book([("99", "10")], [("101", "10")])
    oms = rig.oms = OrderManager(rig.client, journal, rig.clock, CFG)
    assert recover(oms, [INST.id]).ok
    return rig, oms, journal


def order(cid: str, side: str, qty: str, *, type: str = "MARKET", price: str | None = None, **kw: Any) -> Order:
    return Order.create(
        INST, client_order_id=cid, strategy_id="s", side=side, type=type, quantity=qty, price=price, **kw
    )


def build_book(oms: OrderManager) -> None:
    """A long position of 2 and three resting buys."""
    oms.submit(order("s-1", "BUY", "2"))
    for i in range(3):
        oms.submit(order(f"s-{i + 2}", "BUY", "1", type="LIMIT", price=str(90 - i)))
    assert len(oms.working()) == 3 and oms.position(INST.id).quantity == D("2")


def kill(oms: OrderManager) -> None:
    for rec in list(oms.working()):
        oms.cancel(rec.client_order_id)
    oms.submit(order("risk-1", "SELL", str(oms.position(INST.id).quantity), reduce_only=True))


def test_f3_kill_when_journal_down_then_cancels_and_flatten_sent_and_intent_in_emergency_log(tmp_path: Path) -> None:
    rig, oms, journal = make(tmp_path)
    build_book(oms)
    journal.down = True
    journal.waits.clear()

    kill(oms)

    assert rig.venue_orders("s-") and not [c for c in rig.venue_orders("s-") if rig.venue.status[c].value == "NEW"]
    assert rig.client.posts["risk-1"] == 1 and rig.venue_position() == 0
    assert oms.position(INST.id).quantity == 0 and status(oms.get("risk-1")) is OmsStatus.FILLED
    assert set(journal.waits) <= {CFG.urgent_ms, 0}  # no kill-path write waited the journal's full lock timeout
    lines = EmergencyLog(journal.emergency_log_path or "").entries()
    assert [e["client_order_id"] for e in lines if e["kind"] == "intent"] == ["risk-1"]
    assert {e["client_order_id"] for e in lines if e["kind"] == "cancel"} == {"s-2", "s-3", "s-4"}
    assert "risk-1" not in journal.orders and journal.orders["s-2"].status is OmsStatus.ACCEPTED
    assert oms.journal_down is not None


def test_b4_strategy_order_when_journal_down_then_refused_not_sent_and_halt_stays(tmp_path: Path) -> None:
    rig, oms, journal = make(tmp_path)
    build_book(oms)
    journal.down = True
    kill(oms)
    with pytest.raises(TradingHalted, match="intent not committed"):
        oms.submit(order("s-9", "BUY", "1"))
    assert "s-9" not in rig.client.posts and oms.halted_reason is not None
    journal.down = False
    with pytest.raises(TradingHalted, match="journal cannot commit intents"):
        oms.submit(order("s-10", "BUY", "1"))  # the halt stays for strategies until an operator resumes
    oms.submit(order("risk-2", "BUY", "1", type="LIMIT", price="50", reduce_only=True))  # the kill path still works
    assert rig.client.posts["risk-2"] == 1


def test_b4_journal_when_writable_again_then_backlog_replayed_and_equals_venue(tmp_path: Path) -> None:
    rig, oms, journal = make(tmp_path)
    build_book(oms)
    journal.down = True
    kill(oms)
    assert not oms.flush_journal(force=True)
    journal.down = False
    rig.later(200)
    oms.poll()

    assert oms.journal_down is None
    for cid, rec in oms.orders.items():
        assert journal.orders[cid] == rec, cid
    assert journal.orders["risk-1"].status is OmsStatus.FILLED
    assert sum(r.fill.quantity for r in journal.fills.values() if r.fill.client_order_id == "risk-1") == D("2")
    assert journal.positions[("SIM", INST.id)].quantity == rig.venue_position() == 0
    assert EmergencyLog(journal.emergency_log_path or "").entries() == []
    assert [k for k, *_ in journal.events].count("CANCEL_ALL") == 0  # only what happened is recorded


def test_f3_restart_when_crashed_mid_kill_with_journal_down_then_emergency_order_adopted_exactly_once(
    tmp_path: Path,
) -> None:
    rig, oms, journal = make(tmp_path)
    build_book(oms)
    journal.down = True
    kill(oms)
    posts = dict(rig.client.posts)
    journal.down = False  # the process dies here: its in-memory backlog is gone, the log file stays

    for _ in range(2):  # two restarts: the second must change nothing
        again = OrderManager(rig.client, journal, rig.clock, CFG)
        report = recover(again, [INST.id])
        assert report.ok and not report.regressed and report.adopted == [], report.reason
        rec = again.get("risk-1")
        assert status(rec) is OmsStatus.FILLED and rec.role == "ENTRY" and rec.filled_qty == D("2")
        assert again.position(INST.id).quantity == rig.venue_position() == 0
        assert {c: s for c, s in ((c, again.get(c).status) for c in ("s-2", "s-3", "s-4"))} == dict.fromkeys(
            ("s-2", "s-3", "s-4"), OmsStatus.CANCELED
        )
        assert dict(rig.client.posts) == posts  # nothing sent again
        assert EmergencyLog(journal.emergency_log_path or "").entries() == []
    fills = [r for r in journal.fills.values() if r.fill.client_order_id == "risk-1"]
    assert sum(r.fill.quantity for r in fills) == D("2") and all(r.fill.strategy_id == "s" for r in fills)


def test_emergency_order_when_not_reduce_only_then_strict_rule_applies(tmp_path: Path) -> None:
    rig, oms, journal = make(tmp_path)
    journal.down = True
    with pytest.raises(TradingHalted, match="intent not committed"):
        oms.submit(order("risk-1", "BUY", "1"))  # a system id alone is not enough: only reductions may bypass
    assert rig.client.posts == {}


def test_emergency_order_when_no_emergency_log_then_refused_not_sent() -> None:
    rig = Rig()
    oms = rig.oms = OrderManager(rig.client, rig.journal, rig.clock, CFG)
    assert recover(oms, [INST.id]).ok
    assert isinstance(rig.journal, MemoryJournal)
    rig.journal.down = True
    with pytest.raises(TradingHalted, match="intent not committed"):
        oms.submit(order("risk-1", "SELL", "1", reduce_only=True))
    assert rig.client.posts == {}


def test_emergency_log_when_unwritable_then_order_not_sent(tmp_path: Path) -> None:
    rig, oms, journal = make(tmp_path)
    build_book(oms)
    journal.down = True
    journal.emergency_log_path = tmp_path / "missing-dir" / "log.jsonl"
    oms.writes.emergency_log = EmergencyLog(journal.emergency_log_path)
    with pytest.raises(TradingHalted, match=r"emergency log .*missing-dir.*cannot append"):
        oms.submit(order("risk-1", "SELL", "2", reduce_only=True))
    assert "risk-1" not in rig.client.posts  # write-ahead holds: no durable record, no order


def test_emergency_log_when_last_line_torn_then_skipped_and_complete_lines_read(tmp_path: Path) -> None:
    log = EmergencyLog(tmp_path / "e.jsonl")
    rec = record_from_entry(intent_entry(make_record()))
    log.append(intent_entry(rec))
    with open(log.path, "ab") as fh:
        fh.write(b'{"kind":"intent","client_order_id":"risk-')  # a crash mid-append
    entries = log.entries()
    assert [e["client_order_id"] for e in entries] == ["risk-7"]
    assert record_from_entry(entries[0]).order == rec.order and record_from_entry(entries[0]).intent_seq == 7
    log.clear()
    assert log.entries() == []


def test_emergency_log_when_line_malformed_then_error_names_the_line() -> None:
    with pytest.raises(JournalError, match=r"intent line .*malformed"):
        record_from_entry({"kind": "intent", "client_order_id": "risk-1"})


def make_record() -> OrderRecord:
    o = order("risk-7", "SELL", "1.5", type="LIMIT", price="100.5", reduce_only=True)
    return OrderRecord("risk-7", 7, "SIM", o, "ENTRY", "", OmsStatus.PENDING_SEND)


def test_emergency_log_line_is_one_json_object_per_intent(tmp_path: Path) -> None:
    log = EmergencyLog(tmp_path / "e.jsonl")
    log.append({"kind": "intent", "client_order_id": "risk-1", "quantity": str(Decimal("0.10"))})
    assert json.loads(log.path.read_text().splitlines()[0])["quantity"] == "0.10"


def test_sql_journal_wait_at_most_when_locked_then_gives_up_fast_and_default_wait_returns(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    journal = SqlJournal(f"sqlite:///{db}", busy_timeout_ms=600)
    assert journal.emergency_log_path == tmp_path / "j.db.emergency.jsonl"
    blocker = sqlite3.connect(db, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        with journal.wait_at_most(50), pytest.raises(JournalError, match="locked"):
            journal.set_meta("k", "v")
        fast = time.monotonic() - t0
        t0 = time.monotonic()
        with pytest.raises(JournalError, match="locked"):
            journal.set_meta("k", "v")
        slow = time.monotonic() - t0
    finally:
        blocker.rollback()
        blocker.close()
    assert fast < 0.4 and slow >= 0.5, (fast, slow)
    journal.set_meta("k", "v")
    assert journal.load().meta == {"k": "v"}
    journal.close()
