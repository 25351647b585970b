"""F3 + B4 for real: a kill switch while another connection holds the SQLite journal (``BEGIN EXCLUSIVE``).

The order manager talks REST to the local exchange server; the exchange's ledger is the truth. The
cancels and the flattening must reach it within 1 s while the lock is held, the journal must catch up
once the lock goes, and a process that dies mid-kill (its queued writes lost, the emergency log kept)
must find its flattening order again at restart, by client id, exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.engine.clock import LiveClock
from bot4.execution.emergency import EmergencyLog
from bot4.execution.http_client import BinanceRestClient
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.persistence.journal import SqlJournal
from bot4.venues.sim.server import Account, FaultPlan, ServerConfig
from tests.acceptance.test_crash_points import ServerThread

INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.000001", min_notional="5")
ACCOUNTS = [f"k{i}" for i in range(4)]
_next = iter(range(len(ACCOUNTS)))
CFG = OmsConfig(id_prefix="ek-", caller_ids=True, inflight_timeout_ns=200_000_000, journal_retry_ns=100_000_000)


@pytest.fixture(scope="module")
def exchange(shared_data: Path) -> Iterator[ServerThread]:
    d = shared_data / "nautilus_trader" / "binance"
    accounts = [Account(a, f"key-{a}", f"secret-{a}", {"USDT": Decimal("100000")}) for a in ACCOUNTS]
    cfg = ServerConfig(
        accounts=accounts, data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"], faults=FaultPlan()
    )
    with ServerThread(cfg) as st:
        yield st


class Setup:
    def __init__(self, exchange: ServerThread, tmp_path: Path) -> None:
        self.exchange = exchange
        self.acct = ACCOUNTS[next(_next)]
        self.db = tmp_path / "journal.db"
        self.url = f"sqlite:///{self.db}"
        self.journal = SqlJournal(self.url)  # the default 2 s lock wait: the kill path must not use it
        self.oms = self.open(self.journal)

    def open(self, journal: SqlJournal) -> OrderManager:
        client = BinanceRestClient(
            self.exchange.server.url,
            f"key-{self.acct}",
            f"secret-{self.acct}",
            {INST.id: "BTCUSDT"},
            LiveClock(),
            timeout_s=2.0,
        )
        oms = OrderManager(client, journal, LiveClock(), CFG)
        report = recover(oms, [INST.id])
        assert report.ok and not report.adopted, report.reason
        return oms

    def ledger(self) -> dict[str, Any]:
        return self.exchange.ledger(self.acct)

    def statuses(self) -> dict[str, str]:
        async def read() -> dict[str, str]:
            led = self.exchange.server.exchange.ledger
            return {o.client_order_id: o.status for o in led.orders.values() if o.account == self.acct}

        return asyncio.run_coroutine_threadsafe(read(), self.exchange.loop).result(5)

    def build_book(self) -> None:
        """A position of 0.003 BTC and five resting buys far under the market."""
        oms = self.oms
        oms.submit(order("ek-1", "BUY", "0.003"))
        for i in range(5):
            oms.submit(order(f"ek-{i + 2}", "BUY", "0.0002", type="LIMIT", price=str(30_000 + i)))
        assert len(oms.working()) == 5 and self.ledger()["position"] == Decimal("0.003")

    def kill(self) -> float:
        """Cancel everything and flatten with a reduce-only market order; returns the seconds it took."""
        t0 = time.monotonic()
        for rec in list(self.oms.working()):
            self.oms.cancel(rec.client_order_id)
        self.oms.submit(order("risk-1", "SELL", str(self.oms.position(INST.id).quantity), reduce_only=True))
        return time.monotonic() - t0


def order(cid: str, side: str, qty: str, *, type: str = "MARKET", price: str | None = None, **kw: Any) -> Order:
    return Order.create(
        INST, client_order_id=cid, strategy_id="s", side=side, type=type, quantity=qty, price=price, **kw
    )


def lock(db: Path) -> sqlite3.Connection:
    blocker = sqlite3.connect(db, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # B4: another connection holds the journal's write lock
    return blocker


@pytest.fixture
def setup(exchange: ServerThread, tmp_path: Path) -> Iterator[Setup]:
    s = Setup(exchange, tmp_path)
    yield s
    s.journal.close()


def test_f3_kill_when_sqlite_locked_then_cancels_and_flatten_reach_exchange_within_1s_and_journal_catches_up(
    setup: Setup,
) -> None:
    setup.build_book()
    blocker = lock(setup.db)
    try:
        took = setup.kill()
        statuses = setup.statuses()
        assert took < 1.0, f"the kill took {took:.2f} s with the journal locked"
        assert [statuses[f"ek-{i}"] for i in range(2, 7)] == ["CANCELED"] * 5
        led = setup.ledger()
        assert led["position"] == 0 and led["posts"]["risk-1"] == 1
        assert setup.oms.journal_down is not None
        intents = [e for e in EmergencyLog(f"{setup.db}.emergency.jsonl").entries() if e["kind"] == "intent"]
        assert [e["client_order_id"] for e in intents] == ["risk-1"]
        assert not setup.oms.flush_journal(force=True)  # still locked: nothing half-written
        assert "risk-1" not in {r.client_order_id for r in setup.journal.load().orders}
    finally:
        blocker.rollback()
        blocker.close()

    assert setup.oms.flush_journal(force=True) and setup.oms.journal_down is None
    snap = setup.journal.load()
    led = setup.ledger()
    by_id = {r.client_order_id: r for r in snap.orders}
    assert {c: r.status.value for c, r in by_id.items()} == {
        c: {"FILLED": "FILLED", "CANCELED": "CANCELED"}[s] for c, s in setup.statuses().items()
    }
    for cid, qty in led["executed"].items():
        assert sum((f.fill.quantity for f in snap.fills if f.fill.client_order_id == cid), Decimal(0)) == qty, cid
    assert {p.instrument_id: p.quantity for p in snap.positions}[INST.id] == led["position"] == 0
    assert EmergencyLog(f"{setup.db}.emergency.jsonl").entries() == []
    assert setup.journal.verify_audit() is None


def test_f3_restart_when_killed_mid_kill_with_sqlite_locked_then_emergency_order_adopted_once(setup: Setup) -> None:
    setup.build_book()
    blocker = lock(setup.db)
    try:
        setup.kill()
        posts = dict(setup.ledger()["posts"])
        setup.journal.close()  # SIGKILL-like: the queued writes die with the process; the OS drops the file lock
    finally:
        blocker.rollback()
        blocker.close()

    for _ in range(2):  # the second restart must change nothing
        journal = SqlJournal(setup.url)
        try:
            oms = setup.open(journal)
            rec = oms.get("risk-1")
            assert rec.status is OmsStatus.FILLED and rec.role == "ENTRY" and not oms.adopted
            assert oms.position(INST.id).quantity == setup.ledger()["position"] == 0
            assert all(oms.get(f"ek-{i}").status is OmsStatus.CANCELED for i in range(2, 7))
            snap = journal.load()
            fills = [f for f in snap.fills if f.fill.client_order_id == "risk-1"]
            assert sum((f.fill.quantity for f in fills), Decimal(0)) == Decimal("0.003")
            assert {f.fill.strategy_id for f in fills} == {"s"}  # credited to the order's strategy
            assert dict(setup.ledger()["posts"]) == posts  # nothing sent again
            assert EmergencyLog(f"{setup.db}.emergency.jsonl").entries() == []
        finally:
            journal.close()
