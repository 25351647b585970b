"""The audit trail's hash chain: intact chains verify; edits, deletions, reorders and truncation do not."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot4.risk.audit import GENESIS, AuditLog, entry_hash, verify
from bot4.risk.engine import RiskEngine
from bot4.risk.limits import RiskLimits
from tests.unit.risk.fakes import PERMISSIVE, FakeControl, bar, make_risk, order


def _log(tmp_path: Path, n: int = 10) -> tuple[str, Path, Path]:
    db = tmp_path / "audit.db"
    head = tmp_path / "head.json"
    log = AuditLog(f"sqlite:///{db}", head)
    for i in range(n):
        log.append("tester", "order_denied", {"i": i, "reason": f"r{i}", "amount": "1.5"}, 1_000 + i)
    assert log.flush()
    log.close()
    return f"sqlite:///{db}", db, head


def test_verify_when_chain_untouched_then_ok_with_count(tmp_path: Path) -> None:
    url, _, head = _log(tmp_path)
    report = verify(url, head)
    assert report.ok and report.records == 10 and report.first_bad_seq is None


def test_verify_when_first_record_then_it_links_to_genesis(tmp_path: Path) -> None:
    _url, db, _ = _log(tmp_path, 1)
    row = sqlite3.connect(db).execute("select seq, ts_ns, actor, action, payload, prev_hash, entry_hash "
                                      "from risk_audit").fetchone()
    assert row[5] == GENESIS
    assert row[6] == entry_hash(row[0], row[1], row[2], row[3], row[4], GENESIS)


def test_verify_when_payload_tampered_then_that_record_reported(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("update risk_audit set payload = ? where seq = 4", ('{"amount":"999","i":3,"reason":"r3"}',))
    report = verify(url, head)
    assert not report.ok and report.first_bad_seq == 4 and "record 4" in report.message


def test_verify_when_tampered_and_hash_rewritten_then_chain_link_catches_it(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path)
    with sqlite3.connect(db) as con:
        seq, ts, actor, action, _, prev = con.execute(
            "select seq, ts_ns, actor, action, payload, prev_hash from risk_audit where seq = 6").fetchone()
        forged = '{"amount":"0","i":5,"reason":"r5"}'
        con.execute("update risk_audit set payload = ?, entry_hash = ? where seq = 6",
                    (forged, entry_hash(seq, ts, actor, action, forged, prev)))
    report = verify(url, head)
    assert not report.ok and report.first_bad_seq == 6


def test_verify_when_record_deleted_then_gap_reported(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("delete from risk_audit where seq = 3")
    report = verify(url, head)
    assert not report.ok and report.first_bad_seq == 3 and "missing" in report.message


def test_verify_when_records_reordered_then_detected(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("update risk_audit set seq = -1 where seq = 7")
        con.execute("update risk_audit set seq = 7 where seq = 8")
        con.execute("update risk_audit set seq = 8 where seq = -1")
    report = verify(url, head)
    assert not report.ok and report.first_bad_seq == 7


def test_verify_when_tail_truncated_then_head_file_catches_it(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("delete from risk_audit where seq > 7")
    assert verify(url).ok  # without the side file a shorter chain looks valid
    report = verify(url, head)
    assert not report.ok and report.first_bad_seq == 8 and "head file" in report.message


def test_flush_when_database_locked_then_buffered_and_written_after_release(tmp_path: Path) -> None:
    url, db, head = _log(tmp_path, 2)
    log = AuditLog(url, head)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        log.append("risk", "kill_switch", {"x": 1}, 5)
        assert log.flush() is False and log.pending == 1
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert log.flush() and log.pending == 0
    log.close()
    report = verify(url, head)
    assert report.ok and report.records == 3


def test_append_when_payload_has_decimals_then_canonical_and_verifiable(tmp_path: Path) -> None:
    from decimal import Decimal

    db = tmp_path / "a.db"
    log = AuditLog(f"sqlite:///{db}")
    log.append("a", "b", {"z": Decimal("1.10"), "a": [1, 2]}, 1)
    assert log.flush()
    payload = sqlite3.connect(db).execute("select payload from risk_audit").fetchone()[0]
    assert payload == '{"a":[1,2],"z":"1.10"}'
    assert verify(f"sqlite:///{db}").ok


@pytest.mark.parametrize("bad", ["not json", '{"seq": 1}'])
def test_verify_when_head_file_damaged_then_reported(tmp_path: Path, bad: str) -> None:
    url, _, head = _log(tmp_path, 2)
    head.write_text(bad)
    assert not verify(url, head).ok


def test_poll_when_orders_approved_then_one_chained_approval_row_each_in_decision_order(tmp_path: Path) -> None:
    db, head = tmp_path / "a.db", tmp_path / "head.json"
    audit = AuditLog(f"sqlite:///{db}", head)
    risk = RiskEngine(RiskLimits.parse({**PERMISSIVE, "max_order_quantity": "5"}), state_dir=tmp_path, audit=audit)
    control = FakeControl()
    risk.bind(control)
    bar(risk, control, 100.0)
    n = 25
    for i in range(n):
        control.now += 1_000
        assert risk.check(order(qty="0.01", cid=f"ok-{i}")) is None
        if i == 10:
            assert risk.check(order(qty="9", cid="too-big")) is not None
    assert len(risk._approvals) == n - 11  # approvals after the denial wait in the engine until poll
    risk.poll()
    rows = sqlite3.connect(db).execute("select action, payload from risk_audit order by seq").fetchall()
    approved = [json.loads(p)["order"] for a, p in rows if a == "order_approved"]
    assert approved == [f"ok-{i}" for i in range(n)]
    decisions = [json.loads(p)["order"] for a, p in rows if a in ("order_approved", "order_denied")]
    assert decisions.index("too-big") == 11  # the denial sits between the approvals it came between
    first = json.loads(next(p for a, p in rows if a == "order_approved"))
    assert (first["side"], first["quantity"], first["strategy"]) == ("BUY", "0.01", "s")
    report = verify(f"sqlite:///{db}", head)
    assert report.ok and report.records == len(rows)


def test_check_when_no_audit_log_then_approvals_not_kept(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    for i in range(5):
        assert risk.check(order(qty="0.01", cid=f"ok-{i}")) is None
    assert risk._approvals == []
