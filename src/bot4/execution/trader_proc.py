"""A minimal trading process for the SIGKILL crash-point tests: recover, then buy N times, then settle.

    python -m bot4.execution.trader_proc --url http://127.0.0.1:PORT --key K --secret S \
        --db sqlite:///journal.db --orders 2 --qty 0.001 [--prefix cp-]

It is the whole order path of a live bot in a few lines: single-writer journal lock (exit 3 when
another instance holds it, before any network call), recovery (exit 2 with the reason when the venue
cannot be reconciled; no order is sent first), then the "strategy": keep ``--orders`` live entry
intents (an intent that FAILED is replaced by a fresh decision with a new id), poll until nothing is
in flight. Every step prints one JSON line, so the test can check that trading began after recovery.
``BOT4_CRASHPOINT`` arms the named crash hook (see ``bot4.execution.crashpoints``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bot4.engine.clock import LiveClock
from bot4.execution.errors import JournalLocked, TradingHalted
from bot4.execution.http_client import BinanceRestClient
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.model.instrument import Instrument
from bot4.persistence.journal import SqlJournal


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="trader_proc", description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--db", required=True, help="SQLAlchemy URL of the journal")
    ap.add_argument("--schema", default=None)
    ap.add_argument("--base", default="BTC")
    ap.add_argument("--quote", default="USDT")
    ap.add_argument("--tick", default="0.01")
    ap.add_argument("--step", default="0.000001")
    ap.add_argument("--min-notional", default="5")
    ap.add_argument("--orders", type=int, default=1)
    ap.add_argument("--qty", default="0.001")
    ap.add_argument("--prefix", default="b4-")
    ap.add_argument("--inflight-ms", type=int, default=300)
    ap.add_argument("--grace-ms", type=int, default=100)
    ap.add_argument("--settle-s", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.orders < 0:
        ap.error(f"--orders must be >= 0 (got {args.orders})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        journal = SqlJournal(args.db, schema=args.schema)
    except JournalLocked as exc:
        emit("locked", reason=str(exc))
        return 3
    try:
        return run(args, journal)
    finally:
        journal.close()


def run(args: argparse.Namespace, journal: SqlJournal) -> int:
    inst = Instrument.spot(
        "BINANCE", f"{args.base}/{args.quote}", tick_size=args.tick, step_size=args.step,
        min_notional=args.min_notional,
    )  # fmt: skip
    clock = LiveClock()
    client = BinanceRestClient(args.url, args.key, args.secret, {inst.id: args.base + args.quote}, clock)
    cfg = OmsConfig(id_prefix=args.prefix, inflight_timeout_ns=args.inflight_ms * 1_000_000)
    oms = OrderManager(client, journal, clock, cfg)
    emit("starting", pid_note="recovery first; no order before it")
    rep = recover(oms, [inst.id], grace=lambda: time.sleep(args.grace_ms / 1000))
    emit(
        "recovered", ok=rep.ok, reason=rep.reason, settled=rep.settled, failed=rep.failed, adopted=rep.adopted,
        fills=rep.fills_applied,
    )  # fmt: skip
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
    deadline = clock.monotonic_ns() + int(args.settle_s * 1e9)
    while oms.working() and clock.monotonic_ns() < deadline:
        time.sleep(0.05)
        oms.poll()
    pos = oms.position(inst.id)
    emit(
        "done", working=[r.client_order_id for r in oms.working()], position=str(pos.quantity),
        orders={r.client_order_id: [r.status.value, str(r.filled_qty)] for r in oms.orders.values()},
    )  # fmt: skip
    return 0 if not oms.working() else 4


if __name__ == "__main__":
    sys.exit(main())
