"""``bot4.execution.trader_proc`` on bot4's ccxt adapter, for the SIGKILL crash-point matrix (B1).

    python -m tests.acceptance.catalogue.ccxt_trader --url http://127.0.0.1:PORT --db sqlite:///j.db ...

Same order path and JSON lines as ``trader_proc`` (lock -> recovery -> keep ``--orders`` live intents ->
poll until settled), but the venue client is ``CcxtVenueClient``. The keys come from the environment
(``BOT4_TEST_API_KEY``/``BOT4_TEST_SECRET``), never argv. ccxt cannot split "request written" from "answer
read", so ``order.sent`` fires when ccxt's transport returns the POST's answer, before it is parsed: the
venue has booked the order and the process never learns it, which is what the crash point is for.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from bot4.engine.clock import LiveClock
from bot4.execution import crashpoints
from bot4.execution.errors import JournalLocked, TradingHalted
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.execution.trader_proc import emit
from bot4.persistence.journal import SqlJournal
from bot4.venues.ccxt import CcxtVenueClient, VenueSettings, build_exchange

IID = "BINANCE:BTC/USDT"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ccxt_trader")
    ap.add_argument("--url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=2)
    ap.add_argument("--qty", default="0.001")
    ap.add_argument("--prefix", default="ca-")
    args = ap.parse_args(argv)
    try:
        journal = SqlJournal(args.db)
    except JournalLocked as exc:
        emit("locked", reason=str(exc))
        return 3
    try:
        return run(args, journal)
    finally:
        journal.close()


def run(args: argparse.Namespace, journal: SqlJournal) -> int:
    clock = LiveClock()
    settings = VenueSettings(exchange="binance", name="BINANCE", symbols=["BTC/USDT"], url=args.url, timeout_ms=2000)
    exchange = build_exchange(settings, os.environ["BOT4_TEST_API_KEY"], os.environ["BOT4_TEST_SECRET"])
    fetch = exchange.fetch

    def fetch_then_crash(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        answer = fetch(url, method, headers, body)
        if method == "POST" and url.split("?", 1)[0].endswith("/api/v3/order"):
            crashpoints.crashpoint("order.sent")
        return answer

    exchange.fetch = fetch_then_crash
    client = CcxtVenueClient(exchange, clock, settings)
    inst = client.load_instruments()[IID]
    oms = OrderManager(client, journal, clock, OmsConfig(id_prefix=args.prefix, inflight_timeout_ns=200_000_000))
    emit("starting", pid_note="recovery first; no order before it")
    rep = recover(oms, [inst.id], grace=lambda: time.sleep(0.05))
    emit("recovered", ok=rep.ok, reason=rep.reason, settled=rep.settled, failed=rep.failed, adopted=rep.adopted)
    if not rep.ok:
        return 2

    def live_entries() -> int:
        dead = (OmsStatus.FAILED, OmsStatus.REJECTED)
        return sum(1 for r in oms.orders.values() if r.role == "ENTRY" and r.status not in dead)

    try:
        while live_entries() < args.orders:
            rec = oms.new_order(inst, strategy_id="crash", side="BUY", type="MARKET", quantity=args.qty)
            emit("submitted", cid=rec.client_order_id, status=rec.status.value)
    except TradingHalted as exc:
        emit("halted", reason=str(exc))
        return 2
    deadline = clock.monotonic_ns() + 10_000_000_000
    while oms.working() and clock.monotonic_ns() < deadline:
        time.sleep(0.05)
        oms.poll()
    emit("done", working=[r.client_order_id for r in oms.working()], position=str(oms.position(inst.id).quantity))
    return 0 if not oms.working() else 4


if __name__ == "__main__":
    sys.exit(main())
