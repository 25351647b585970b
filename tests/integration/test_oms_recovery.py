"""Crash recovery and persistence (catalogue B1-B7, C1, C3) on SQLite and on the real PostgreSQL server.

Crashes are simulated in-process here (the crash hook raises instead of SIGKILL, the journal is
closed the way the OS would release it); tests/acceptance/test_crash_points.py does the real SIGKILL.
After every scenario the global oracle of reliability.md 3.1 is asserted against the venue.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot4.execution import matching_client, order_manager
from bot4.execution.errors import JournalLocked, TradingHalted
from bot4.execution.ledger_dump import dump_ledger
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.persistence import journal as journal_module
from bot4.persistence.journal import SqlJournal, audit_grants_sql
from tests.postgres import PG_URL, drop_schema, open_schema
from tests.unit.execution.harness import IID, D, Rig, limit_order, restart

Opener = Callable[[], SqlJournal]


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after the hook runs."""


def make_opener(kind: str, tmp_path: Path) -> tuple[Opener, Callable[[], None]]:
    """Open (and re-open, as a restarted process would) journals on one storage; plus a cleanup."""
    opened: list[SqlJournal] = []
    engine: sa.Engine | None = None
    if kind == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'journal.db'}", None
    else:
        engine, schema = open_schema("bot4_oms_")
        url = PG_URL

    def open_journal() -> SqlJournal:
        for j in opened:
            j.close()  # the previous "process" died: the OS releases its lock
        opened.clear()
        j = SqlJournal(url, schema=schema)
        opened.append(j)
        return j

    def cleanup() -> None:
        for j in opened:
            j.close()
        if engine is not None and schema is not None:
            drop_schema(engine, schema)

    return open_journal, cleanup


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    open_journal, cleanup = make_opener(request.param, tmp_path)
    yield open_journal
    cleanup()


def arm(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def hook(point: str) -> None:
        if point == name:
            raise Crash(point)

    monkeypatch.setattr(order_manager, "crashpoint", hook)
    monkeypatch.setattr(matching_client, "crashpoint", hook)


def disarm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(order_manager, "crashpoint", lambda _p: None)
    monkeypatch.setattr(matching_client, "crashpoint", lambda _p: None)


def oracle(rig: Rig, journal: SqlJournal) -> None:
    snap = journal.load()
    ours = {r.client_order_id for r in snap.orders if r.status is not OmsStatus.FAILED and r.role != "EXTERNAL"}
    assert set(rig.venue_orders()) == ours  # no orphans, no ghosts
    db_fills: dict[str, Decimal] = {}
    for f in snap.fills:
        db_fills[f.fill.client_order_id] = db_fills.get(f.fill.client_order_id, D(0)) + f.fill.quantity
    for cid in ours:
        assert db_fills.get(cid, D(0)) == rig.venue_filled(cid), cid
    pos = {p.instrument_id: p.quantity for p in snap.positions}
    assert pos.get(IID, D(0)) == rig.venue_position()
    assert all(n == 1 for n in rig.client.posts.values()), rig.client.posts
    assert journal.verify_audit() is None


@pytest.mark.parametrize("point", ["intent.persisted", "order.sent", "order.ack_received"])
def test_restart_when_crashed_on_submit_path_then_one_order_per_intent_and_fills_adopted(
    opener: Opener, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    rig = Rig(opener(), capture=True)
    oms = rig.start()
    arm(monkeypatch, point)
    with pytest.raises(Crash):
        rig.buy("1", price="100")
    disarm(monkeypatch)
    rig.trade(100.0, 0.4)  # while we are down the venue part-fills whatever it booked
    oms = restart(rig, opener())
    with pytest.raises(TradingHalted):
        rig.buy("1", oms=oms)  # nothing before reconciliation
    rep = recover(oms, [IID])
    assert rep.ok, rep.reason
    rec = oms.get("b4-1")
    if point == "intent.persisted":
        assert rec.status is OmsStatus.FAILED and rig.venue_orders() == []
    else:
        assert rec.status is OmsStatus.PARTIALLY_FILLED and rec.filled_qty == D("0.4")
    oracle(rig, rig.journal)  # type: ignore[arg-type]
    assert rig.buy("1", oms=oms).client_order_id == "b4-2"  # trading resumes after recovery


def test_recover_when_failed_intent_booked_late_then_venue_state_adopted_and_fills_counted(
    opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(opener(), capture=True)
    oms = rig.start()
    arm(monkeypatch, "intent.persisted")
    with pytest.raises(Crash):
        rig.buy("1", price="100")
    disarm(monkeypatch)
    oms = restart(rig, opener())
    first = recover(oms, [IID])
    assert first.ok, first.reason
    assert oms.get("b4-1").status is OmsStatus.FAILED, first  # the venue says "not found"
    rig.raw.set_listener(lambda _r: None)  # we go down: stream events from here on are lost
    rig.raw.submit(oms.get("b4-1").order)  # the lost request reaches the venue late
    rig.trade(100.0, 0.4)
    oms = restart(rig, opener())
    rep = recover(oms, [IID])
    assert rep.ok, rep.reason
    rec = oms.get("b4-1")
    assert rec.status is OmsStatus.PARTIALLY_FILLED and rec.filled_qty == D("0.4")
    assert rep.late_booked == ["b4-1"], rep
    assert rig.client.posts == {}  # adopted, never re-sent
    assert any(k == "LATE_BOOKING" for k, _c, _d in rig.journal.audit())  # type: ignore[attr-defined]
    oracle(rig, rig.journal)  # type: ignore[arg-type]


@pytest.mark.parametrize("point", ["fill.received", "fill.persisted"])
def test_restart_when_crashed_on_fill_path_then_each_fill_applied_once(
    opener: Opener, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    rig = Rig(opener(), capture=True)
    oms = rig.start()
    rig.buy("1", price="100")
    rig.trade(100.0, 0.3)
    rig.trade(100.0, 0.3)
    arm(monkeypatch, point)
    with pytest.raises(Crash):
        for r in rig.captured:
            oms.on_report(r)
    disarm(monkeypatch)
    for _ in range(2):  # restarting twice in a row still gives one application per fill
        oms = restart(rig, opener())
        assert recover(oms, [IID]).ok
        assert oms.get("b4-1").filled_qty == D("0.6")
        oracle(rig, rig.journal)  # type: ignore[arg-type]
    first = dump_ledger(rig.journal.load())
    oms = restart(rig, opener())
    assert recover(oms, [IID]).ok
    assert dump_ledger(rig.journal.load()) == first


def test_restart_when_venue_changed_offline_then_fills_generated_and_manual_order_external(opener: Opener) -> None:
    rig = Rig(opener(), capture=True)
    rig.start()
    rig.buy("1", price="100")
    rig.buy("1", price="90")
    manual = limit_order("manual-7")
    rig.raw.submit(manual)  # B2: someone trades by hand while bot4 is down
    rig.trade(100.0, 1.0)
    rig.venue.cancel_order("b4-2")
    oms = restart(rig, opener())
    rep = recover(oms, [IID])
    assert rep.ok, rep.reason
    assert oms.get("b4-1").status is OmsStatus.FILLED
    assert oms.get("b4-2").status is OmsStatus.CANCELED
    assert oms.get("manual-7").role == "EXTERNAL"
    oracle(rig, rig.journal)  # type: ignore[arg-type]


def test_recover_when_venue_unreachable_then_halted_with_reason_until_it_answers(opener: Opener) -> None:
    rig = Rig(opener())
    rig.start()
    rig.buy("1", price="100")
    oms = restart(rig, opener())
    rig.client.down = True  # B3
    rep = recover(oms, [IID])
    assert not rep.ok and "venue not reconciled" in rep.reason
    with pytest.raises(TradingHalted, match="venue not reconciled"):
        rig.buy("1", oms=oms)
    assert oms.get("b4-1").status is OmsStatus.ACCEPTED  # a failed query never means "gone" or "flat"
    rig.client.down = False
    assert recover(oms, [IID]).ok


def test_open_when_second_instance_on_same_journal_then_refused(opener: Opener) -> None:
    first = opener()
    url = first.url
    schema = first.t["oms_orders"].schema
    with pytest.raises(JournalLocked, match="another bot4 instance"):
        SqlJournal(url, schema=schema)  # B6


def test_verify_when_audit_row_edited_then_first_broken_index_reported(opener: Opener) -> None:
    j = opener()
    for i in range(3):
        j.record_event("E", f"c{i}", "x")
    assert j.verify_audit() is None
    t = j.t["oms_audit"]
    with j._engine.begin() as conn:  # B7: direct SQL tamper
        conn.execute(sa.update(t).where(t.c.client_order_id == "c1").values(detail="y"))
    assert j.verify_audit() == 1


@pytest.mark.postgres
def test_audit_when_app_role_has_only_audit_grants_then_appends_work_and_update_delete_denied(tmp_path: Path) -> None:
    open_journal, cleanup = make_opener("postgres", tmp_path)
    role, password = f"bot4_app_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 5})
    try:
        j = open_journal()
        j.record_event("E", "c0", "x")
        t = j.t["oms_audit"]
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
            for stmt in audit_grants_sql(str(t.schema), role):
                conn.exec_driver_sql(stmt)  # B7: what an operator applies for the app role
        app = sa.create_engine(f"postgresql+psycopg2://{role}:{password}@127.0.0.1:5432/test")
        try:
            with app.begin() as conn:  # appending (with the chained hash) and reading are allowed
                prev = conn.execute(sa.select(t.c.hash).order_by(t.c.id.desc()).limit(1)).scalar_one()
                row = {"kind": "E", "client_order_id": "c1", "detail": "y"}
                conn.execute(sa.insert(t).values(**row, hash=journal_module._chain(prev, row)))
                assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 2
            for stmt in (sa.update(t).values(detail="z"), sa.delete(t), sa.text(f"TRUNCATE {t.schema}.oms_audit")):
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), app.begin() as conn:
                    conn.execute(stmt)
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), app.begin() as conn:
                conn.execute(sa.select(j.t["oms_orders"]))  # nothing beyond the audit table
        finally:
            app.dispose()
        assert j.audit() == [("E", "c0", "x"), ("E", "c1", "y")]
        assert j.verify_audit() is None
    finally:
        cleanup()
        with admin.begin() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.exec_driver_sql(f"DROP OWNED BY \"{role}\"")
                conn.exec_driver_sql(f"DROP ROLE \"{role}\"")
        admin.dispose()


def test_audit_grants_sql_when_name_not_plain_identifier_then_error_names_parameter() -> None:
    with pytest.raises(ValueError, match="role 'app; DROP TABLE x' is not a plain identifier"):
        audit_grants_sql("bot4", "app; DROP TABLE x")


def test_submit_when_sqlite_locked_then_nothing_sent_and_cancel_still_works(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqlJournal(f"sqlite:///{path}", busy_timeout_ms=100)
    rig = Rig(journal)
    oms = rig.start()
    rest = rig.buy("1", price="100")
    blocker = sa.create_engine(f"sqlite:///{path}").raw_connection()
    blocker.execute("BEGIN EXCLUSIVE")  # B4
    try:
        with pytest.raises(TradingHalted, match="intent not committed"):
            rig.buy("1", price="99")
        assert rig.venue_orders() == ["b4-1"]
        oms.cancel(rest.client_order_id)  # the cancel-only path
        assert rig.venue.status["b4-1"].value == "CANCELED"
    finally:
        blocker.rollback()
        blocker.close()
        journal.close()


def test_submit_when_sqlite_disk_full_then_halted_nothing_unjournaled_sent_and_cancel_still_works(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    journal = SqlJournal(f"sqlite:///{path}")
    rig = Rig(journal)
    oms = rig.start()
    rest = rig.buy("1", price="100")

    def cap(dbapi_conn: object, _record: object) -> None:  # B4: the disk fills up at the current size
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    sa.event.listen(journal._engine, "connect", cap)
    journal._engine.dispose()  # every connection from now on sees the cap
    with pytest.raises(TradingHalted, match="storage is full") as halted:
        for _ in range(500):  # keep trading until the intents no longer fit
            rig.buy("0.1", price="90")
    refused_cid = str(halted.value).split()[1]  # "order <cid> not sent: intent not committed (...)"
    assert "intent not committed" in str(halted.value) and refused_cid not in rig.venue_orders()
    assert oms.halted_reason is not None and "storage is full" in oms.halted_reason
    with pytest.raises(TradingHalted, match=r"refused: .*storage is full"):
        rig.buy("0.1", price="90")  # halted: no new orders until an operator resumes
    assert oms.cancel(rest.client_order_id)  # the cancel-only path
    assert rig.venue.status[rest.client_order_id].value == "CANCELED"
    journal.close()
    reopened = SqlJournal(f"sqlite:///{path}")  # the space is back (the cap was per connection)
    try:
        snap = reopened.load()
        journaled = {r.client_order_id for r in snap.orders}
        assert set(rig.venue_orders()) <= journaled  # no order reached the venue without a committed intent
        assert refused_cid not in journaled
        assert len(journaled) == len(snap.orders) and all(r.order.quantity for r in snap.orders)
        assert reopened.verify_audit() is None
        with sa.create_engine(f"sqlite:///{path}").connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"  # no half-written rows
    finally:
        reopened.close()


def test_restart_when_db_restored_from_stale_copy_then_newer_orders_adopted_and_paused(tmp_path: Path) -> None:
    opener, cleanup = make_opener("sqlite", tmp_path)  # a stale file restore is a SQLite failure mode
    j = opener()
    rig = Rig(j, capture=True)
    oms = rig.start()
    rig.buy("1", price="100")
    db = Path(j._engine.url.database or "")
    j.close()
    shutil.copy(db, tmp_path / "old.db")  # B5: a copy without its -wal
    oms = restart(rig, opener())
    oms.load()
    oms.resume()
    rig.buy("1", price="99", oms=oms)
    rig.trade(99.0, 1.0, "SELL")
    rig.journal.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", db)
    oms = restart(rig, opener())
    rep = recover(oms, [IID])
    assert rep.regressed and not rep.ok and "behind the venue" in rep.reason
    assert {"b4-1", "b4-2"} <= set(oms.orders)
    oracle(rig, rig.journal)  # type: ignore[arg-type]
    assert oms.next_client_id() == "b4-3"
    cleanup()


@pytest.mark.parametrize("kind", BACKENDS)
def test_replay_when_event_log_applied_twice_into_fresh_db_then_ledger_byte_identical(
    kind: str, tmp_path: Path
) -> None:
    rig = Rig(capture=True)  # record a real event log from the venue
    rig.start()
    rig.buy("1", price="100")
    for size in (0.2, 0.3, 0.5):
        rig.trade(100.0, size)
    log = list(rig.captured)
    dumps = []
    for times in (1, 2):
        where = tmp_path / str(times)
        where.mkdir()
        open_journal, cleanup = make_opener(kind, where)
        try:
            fresh = Rig(open_journal())
            oms = fresh.start()
            fresh.buy("1", price="100")
            for _ in range(times):
                for r in log:
                    oms.on_report(r)
            dumps.append(dump_ledger(fresh.journal.load()))
        finally:
            cleanup()
    assert dumps[0] == dumps[1] and b"FILLED" in dumps[0]
