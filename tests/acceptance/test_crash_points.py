"""B1 for real: bot4 runs as a subprocess against the local exchange server and is SIGKILLed at each
step of the order path; the restarted process must leave exactly one exchange order per intent,
every fill applied once, its position equal to the exchange's, and trade only after recovery.

The server runs in this process on a background event loop, one test account per scenario, so the
exchange's ledger (the ground truth) is read directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.execution.states import OmsStatus
from bot4.persistence.journal import SqlJournal
from bot4.venues.sim.server import Account, ExchangeServer, ServerConfig

POINTS = ["intent.persisted", "order.sent", "order.ack_received", "fill.received", "fill.persisted"]
CASES = [(p, "sqlite") for p in POINTS] + [
    pytest.param(p, "postgres", marks=pytest.mark.postgres) for p in ("order.sent", "fill.received")
]


class ServerThread:
    def __init__(self, config: ServerConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = ExchangeServer(config)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(20)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def ledger(self, account: str) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            led = self.server.exchange.ledger
            orders = {o.client_order_id: o.executed_qty for o in led.orders.values() if o.account == account}
            counts = {cid: len(led.orders_by_client_id(account, cid)) for cid in orders}
            posts = {c: n for (a, c), n in led.posts.items() if a == account}
            pos = sum((t.qty if t.is_buyer else -t.qty for t in led.trades if t.account == account), Decimal(0))
            return {"executed": orders, "counts": counts, "posts": posts, "position": pos}

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(5)


@dataclass
class Db:
    url: str
    schema: str | None


@pytest.fixture(scope="module")
def exchange(shared_data: Path) -> Iterator[ServerThread]:
    d = shared_data / "nautilus_trader" / "binance"
    accounts = [Account(f"acct{i}", f"key{i}", f"secret{i}", {"USDT": Decimal("100000")}) for i in range(len(CASES))]
    cfg = ServerConfig(accounts=accounts, data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"])
    with ServerThread(cfg) as st:
        yield st


@pytest.fixture()
def db(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> Iterator[Db]:
    kind = request.param
    if kind == "sqlite":
        yield Db(f"sqlite:///{tmp_path / 'journal.db'}", None)
        return
    yield Db(pg_url, request.getfixturevalue("pg_schema"))


def trader(ex: ServerThread, n: int, db: Db, crash: str = "") -> tuple[int, list[dict[str, Any]]]:
    env = {k: v for k, v in os.environ.items() if k != "BOT4_CRASHPOINT"}
    if crash:
        env["BOT4_CRASHPOINT"] = crash
    cmd = [
        sys.executable, "-m", "bot4.execution.trader_proc", "--url", ex.server.url, "--key", f"key{n}",
        "--secret", f"secret{n}", "--db", db.url, "--orders", "2", "--qty", "0.001", "--prefix", "cp-",
        "--grace-ms", "50", "--inflight-ms", "200",
    ]  # fmt: skip
    if db.schema:
        cmd += ["--schema", db.schema]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=25)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == -signal.SIGKILL or not proc.stderr.strip(), proc.stderr[-2000:]
    return proc.returncode, events


@pytest.mark.parametrize(("point", "db"), CASES, indirect=["db"])
def test_trader_when_killed_at_crash_point_then_restart_reconciles_exactly_once(
    exchange: ServerThread, db: Db, point: str
) -> None:
    n = (
        CASES.index((point, "sqlite"))
        if db.schema is None
        else len(POINTS) + ("order.sent", "fill.received").index(point)
    )
    code, events = trader(exchange, n, db, crash=point)
    assert code == -signal.SIGKILL, events
    code, events = trader(exchange, n, db)
    assert code == 0, events
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["starting", "recovered"] and events[1]["ok"]  # trading resumes only after recovery
    if point == "intent.persisted":
        assert events[1]["failed"] == ["cp-1"]  # never booked: FAILED, not re-sent
    led = exchange.ledger(f"acct{n}")
    with SqlJournal(db.url, schema=db.schema) as j:
        snap = j.load()
        assert j.verify_audit() is None
    live = {r.client_order_id for r in snap.orders if r.status is not OmsStatus.FAILED}
    assert set(led["executed"]) == live and len(live) == 2  # exactly one exchange order per intent
    assert all(c == 1 for c in led["counts"].values()) and all(c == 1 for c in led["posts"].values())
    filled: dict[str, Decimal] = {}
    for f in snap.fills:
        filled[f.fill.client_order_id] = filled.get(f.fill.client_order_id, Decimal(0)) + f.fill.quantity
    assert filled == {c: q for c, q in led["executed"].items() if q}  # every fill applied once
    position = {p.instrument_id: p.quantity for p in snap.positions}
    assert sum(position.values(), Decimal(0)) == led["position"] == Decimal("0.002")
    code, again = trader(exchange, n, db)  # a second restart is a no-op
    assert code == 0 and not [e for e in again if e["event"] == "submitted"]
    assert exchange.ledger(f"acct{n}") == led
