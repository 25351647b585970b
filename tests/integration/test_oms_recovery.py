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
from bot4.persistence.journal import SqlJournal
from tests.unit.execution.harness import IID, D, Rig, limit_order, restart

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
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
        url, schema = PG_URL, f"bot4_oms_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            engine.dispose()
            pytest.fail(f"PostgreSQL test server not reachable at {PG_URL}: {exc.orig}")

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
            with engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
            engine.dispose()

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
