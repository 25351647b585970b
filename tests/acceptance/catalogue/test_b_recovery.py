"""Catalogue B (crash recovery and persistence), P0 B1-B3, B6 (+ B4/B5, P1) against the local exchange.

B1 runs bot4's minimal live order path (``bot4.execution.trader_proc``) as a subprocess and SIGKILLs it
at each crash point; the others drive the order manager in-process, "restarting" it by closing the
journal (the OS would release its lock) and opening a new manager on the same storage.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.execution.errors import JournalLocked, TradingHalted
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.live.node import EXIT_OK, TradingNode
from bot4.persistence.journal import SqlJournal
from tests.acceptance.catalogue.conftest import INST, PREFIX, Scenario
from tests.acceptance.catalogue.noderig import IID, NodeRig, until
from tests.acceptance.catalogue.server import SYMBOL

REPO = Path(__file__).resolve().parents[3]
POINTS = ["intent.persisted", "order.sent", "order.ack_received", "fill.received", "fill.persisted"]


def trader(cat: Scenario, crash: str = "", orders: int = 2, client: str = "stdlib") -> tuple[int, list[dict[str, Any]]]:
    """Run the minimal live order path as a process: ``trader_proc`` (stdlib client) or its ccxt twin."""
    env = {k: v for k, v in os.environ.items() if k != "BOT4_CRASHPOINT"}
    if crash:
        env["BOT4_CRASHPOINT"] = crash
    common = ["--db", cat.db_url(), "--orders", str(orders), "--prefix", PREFIX]
    if client == "ccxt":
        env |= {"BOT4_TEST_API_KEY": cat.venue.api_key, "BOT4_TEST_SECRET": cat.venue.secret}
        cmd = [sys.executable, "-m", "tests.acceptance.catalogue.ccxt_trader", "--url", cat.venue.url, *common]
    else:
        cmd = [
            sys.executable, "-m", "bot4.execution.trader_proc", "--url", cat.venue.url, "--key", cat.venue.api_key,
            "--secret", cat.venue.secret, "--qty", "0.001", "--grace-ms", "50", "--inflight-ms", "200", *common,
        ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=25, cwd=REPO)
    n = len(cat.sinks.texts)
    cat.sinks.texts[f"{client} trader run {n} stdout"] = proc.stdout
    cat.sinks.texts[f"{client} trader run {n} stderr"] = proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events


@pytest.mark.parametrize("client", ["ccxt", "stdlib"])
@pytest.mark.parametrize("point", POINTS)
def test_b1_trader_when_sigkilled_at_crash_point_then_restart_adopts_exactly_once(
    cat: Scenario, point: str, client: str
) -> None:
    """B1: exactly one order per intent, fills once, trading only after reconciliation; a second restart is a no-op."""
    code, _ = trader(cat, crash=point, client=client)
    assert code == -signal.SIGKILL
    code, events = trader(cat, client=client)
    assert code == 0, events
    assert [e["event"] for e in events][:2] == ["starting", "recovered"] and events[1]["ok"]
    if point == "intent.persisted":
        assert events[1]["failed"] == ["ca-1"]  # never booked: FAILED, not re-sent
    led = cat.venue.ledger()
    assert all(len(v) == 1 for v in led.orders.values()) and set(led.posts.values()) == {1}
    assert led.position == Decimal("0.002")
    code, again = trader(cat, client=client)
    assert code == 0 and not [e for e in again if e["event"] == "submitted"]
    assert cat.venue.ledger() == led


def test_b2_restart_when_venue_changed_while_down_then_fills_generated_manual_order_external_and_no_trading_first(
    cat: Scenario,
) -> None:
    """B2: offline fills and cancels applied, a manual order adopted EXTERNAL, nothing sent before recovery."""
    oms = cat.oms()
    bid, ask = cat.venue.top()
    a = oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid, time_in_force="GTC")
    b = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid - 500, time_in_force="GTC"
    )
    assert {a.status, b.status} == {OmsStatus.ACCEPTED}
    cat.close_journals()  # the process is gone
    for _ in range(200):  # while down: ca-1 fills, ca-2 is cancelled by hand, a manual order is placed
        cat.venue.step(1)
        if cat.venue.ledger().orders["ca-1"][0][0] == "FILLED":
            break
    cat.venue.call(
        lambda: cat.venue.server.exchange.cancel(cat.venue.account, {"symbol": SYMBOL, "origClientOrderId": "ca-2"})
    )
    manual = {"symbol": SYMBOL, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    cat.venue.place_raw(cat.venue.account, {**manual, "price": str(ask + 1000), "newClientOrderId": "manual-1"})
    posts = cat.venue.counter("POST /api/v3/order")
    oms = cat.oms(recovered=False)
    with pytest.raises(TradingHalted):
        oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    rep = recover(oms, [INST.id])
    assert rep.ok, rep.reason
    assert posts.fired == 0
    assert oms.get("ca-1").status is OmsStatus.FILLED and oms.get("ca-2").status is OmsStatus.CANCELED
    assert oms.get("manual-1").role == "EXTERNAL" and "manual-1" in rep.adopted
    assert oms.position(INST.id).quantity == cat.venue.ledger().position == Decimal("0.001")


@pytest.mark.parametrize("endpoint", ["GET /api/v3/openOrders", "GET /api/v3/myTrades", "GET /api/v3/order"])
def test_b3_recovery_when_reconciliation_source_down_then_halted_never_flat_and_proceeds_on_success(
    cat: Scenario, endpoint: str
) -> None:
    """B3 (order-manager level): a failed query leaves the manager halted with the reason; it is never read as flat."""
    oms = cat.oms()
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert rec.status is OmsStatus.FILLED
    if endpoint == "GET /api/v3/order":
        bid, _ = cat.venue.top()
        oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid - 300,
                      time_in_force="GTC")  # fmt: skip
        cat.venue.fault("POST /api/v3/order", "drop_after_book", count=1)
        oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")  # in flight at the crash
    cat.close_journals()
    cat.venue.fault(endpoint, "status", code=500, duration_ms=10_000)
    oms = cat.oms(recovered=False)
    rep = recover(oms, [INST.id])
    assert not rep.ok and "venue not reconciled" in rep.reason, rep.reason
    assert oms.halted_reason is not None and "halted" in oms.halted_reason
    assert oms.position(INST.id).quantity == Decimal("0.001")  # the journal's position stands; never "flat"
    with pytest.raises(TradingHalted):
        oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    cat.venue.clear_faults()
    rep = recover(oms, [INST.id])
    assert rep.ok, rep.reason
    assert oms.position(INST.id).quantity == cat.venue.ledger().position


def test_b4_submit_when_sqlite_locked_then_nothing_sent_halted_and_cancel_still_works(cat: Scenario) -> None:
    """B4 (P1): no order without a committed intent; trading halts; a cancel still reaches the venue; resume heals."""
    oms = cat.oms()
    bid, _ = cat.venue.top()
    rest = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid - 200, time_in_force="GTC"
    )
    posts = cat.venue.counter("POST /api/v3/order")
    url = cat.db_url()
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TradingHalted):
            oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
        assert posts.fired == 0 and oms.halted_reason is not None
        oms.cancel(rest.client_order_id)  # cancel-only path works without storage
        assert cat.venue.ledger().orders["ca-1"][0][0] == "CANCELED"
    finally:
        blocker.rollback()
        blocker.close()
    cat.close_journals()
    oms = cat.oms()  # storage healthy again: reconcile, then trade
    assert oms.get("ca-1").status is OmsStatus.CANCELED
    again = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert again.status is OmsStatus.FILLED


def test_b5_restart_when_db_restored_from_stale_copy_then_newer_venue_orders_adopted_and_paused(cat: Scenario) -> None:
    """B5 (P1): orders newer than the DB's high-water mark are adopted; the regression is flagged; trading paused."""
    oms = cat.oms()
    oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    cat.close_journals()
    db = cat.tmp_path / "journal.db"
    stale = db.read_bytes()  # copied without the -wal file: the DB goes back in time
    wal = db.with_name("journal.db-wal")
    oms = cat.oms()
    oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.002")
    cat.close_journals()
    db.write_bytes(stale)
    wal.unlink(missing_ok=True)
    oms = cat.oms(recovered=False)
    rep = recover(oms, [INST.id])
    assert rep.regressed and not rep.ok and "ca-2" in rep.adopted
    assert oms.halted_reason is not None  # paused until an operator resumes
    assert oms.position(INST.id).quantity == cat.venue.ledger().position == Decimal("0.003")


def test_b6_second_instance_when_journal_locked_then_exits_before_any_request(cat: Scenario) -> None:
    """B6: the second writer fails on the lock (exit 3) before any venue request; the fake sees one instance."""
    holder = cat.open_journal()
    requests = cat.venue.counter("*")
    with pytest.raises(JournalLocked):
        SqlJournal(cat.db_url())
    code, events = trader(cat)
    assert code == 3 and events[0]["event"] == "locked"
    time.sleep(0.05)
    assert requests.fired == 0 and cat.venue.ledger().orders == {}
    holder.close()


def test_b3_node_when_reconciliation_sources_fail_at_startup_then_halted_retrying_never_flat_then_trades(
    cat: Scenario, rig: NodeRig, caplog: pytest.LogCaptureFixture
) -> None:
    """B3 (node): /openOrders and /account answer 500 for 3 s at startup; no order, no "flat"; starts when they heal."""

    async def first(node: TradingNode) -> None:
        await rig.market(node)
        cid = await rig.buy("0.002")
        await until(lambda: cid in cat.venue.ledger().orders, 3, "the first position")

    assert rig.run(rig.node(), first) == EXIT_OK
    posts = sum(cat.venue.ledger().posts.values())
    cat.venue.fault("GET /api/v3/openOrders", "status", code=500, duration_ms=3000)
    cat.venue.fault("GET /api/v3/account", "status", code=500, duration_ms=3000)
    started_after: list[float] = []
    t0 = time.monotonic()

    async def second(node: TradingNode) -> None:
        started_after.append(time.monotonic() - t0)
        assert sum(cat.venue.ledger().posts.values()) == posts  # nothing sent while unreconciled
        assert await rig.read(lambda: node.oms.position(IID).quantity) == Decimal("0.002")  # type: ignore[union-attr]
        await rig.market(node)
        cid = await rig.buy("0.001")
        await until(lambda: cid in cat.venue.ledger().orders, 3, "trading after the heal")

    assert rig.run(rig.node(), second) == EXIT_OK
    assert started_after and started_after[0] >= 2.5  # it waited for the venue instead of guessing
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "retrying" in r.getMessage()]
    assert errors, "no clear error while the venue could not be reconciled"
