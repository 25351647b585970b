"""Order round trips through the order manager and its journal against the in-process matching venue.

Measures (one JSON object on stdout):
* ``round_trips_per_s``: market orders submit -> ack -> fill, per journal (none, memory, SQLite
  with WAL + synchronous=FULL, PostgreSQL). Each round trip commits the intent, the ack and the fill.
* ``decision_to_venue_us``: p50/p99 of the internal path from the strategy's decision (the call
  to ``new_order``) to the moment the venue client is called, without the journal write (target
  p99 <= 100 µs).

    python benchmarks/orders.py --orders 2000 [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.data.book import Scale
from bot4.engine.clock import LiveClock
from bot4.execution.matching_client import MatchingClient
from bot4.execution.memory_journal import MemoryJournal, NullJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.ports import Journal
from bot4.execution.records import ExecReport
from bot4.model import Instrument, Order
from bot4.persistence.journal import SqlJournal
from bot4.venues.sim.matching import MatchingVenue

INST = Instrument.spot("SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1", taker_fee="0.001")
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


class Stamp:
    """A venue client shim that notes when the order reached it."""

    def __init__(self, inner: MatchingClient) -> None:
        self.inner = inner
        self.name = inner.name
        self.at = 0.0

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)

    def submit(self, order: Order) -> list[ExecReport]:
        self.at = time.perf_counter()
        return self.inner.submit(order)


def rig(journal: Journal) -> tuple[OrderManager, Stamp]:
    clock = LiveClock()
    client = MatchingClient("SIM")
    venue = MatchingVenue("SIM", {INST.id: INST}, {"USDT": Decimal(10**12), "BTC": Decimal(10**6)}, clock, client.sink)
    client.bind(venue)
    sc = Scale(INST.tick_size, INST.step_size)
    venue.load_book(
        INST.id, [(sc.ticks(Decimal(99)), sc.lots(Decimal(10**6)))], [(sc.ticks(Decimal(101)), sc.lots(Decimal(10**6)))]
    )
    stamp = Stamp(client)
    oms = OrderManager(stamp, journal, clock, OmsConfig(id_prefix="bench-"))
    oms.load()
    oms.resume()
    return oms, stamp


def round_trips(journal: Journal, n: int) -> float:
    oms, _ = rig(journal)
    t0 = time.perf_counter()
    for i in range(n):
        rec = oms.new_order(INST, strategy_id="b", side="BUY" if i % 2 == 0 else "SELL", type="MARKET", quantity="0.01")
        assert rec.status.is_terminal and rec.filled_qty == Decimal("0.01"), rec
    return n / (time.perf_counter() - t0)


def latency(n: int) -> dict[str, float]:
    oms, stamp = rig(NullJournal())
    samples = []
    for i in range(n + 200):
        t0 = time.perf_counter()
        oms.new_order(INST, strategy_id="b", side="BUY" if i % 2 == 0 else "SELL", type="MARKET", quantity="0.01")
        if i >= 200:  # warm-up
            samples.append((stamp.at - t0) * 1e6)
    samples.sort()
    return {
        "p50": round(statistics.median(samples), 2),
        "p99": round(samples[int(len(samples) * 0.99) - 1], 2),
        "max": round(samples[-1], 2),
        "samples": len(samples),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {"orders": args.orders, "round_trips_per_s": {}}
    rt = out["round_trips_per_s"]
    rt["none"] = round(round_trips(NullJournal(), args.orders), 1)
    rt["memory"] = round(round_trips(MemoryJournal(), args.orders), 1)
    with tempfile.TemporaryDirectory() as d:
        j = SqlJournal(f"sqlite:///{Path(d) / 'bench.db'}")
        try:
            rt["sqlite_wal_full"] = round(round_trips(j, max(args.orders // 4, 50)), 1)
        finally:
            j.close()
    if not args.no_postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        try:
            pj = SqlJournal(PG_URL, schema=schema)
        except Exception as exc:  # a benchmark reports what it could not measure
            rt["postgresql"] = f"unavailable: {exc}"
        else:
            try:
                rt["postgresql"] = round(round_trips(pj, max(args.orders // 4, 50)), 1)
            finally:
                import sqlalchemy as sa

                with pj._engine.begin() as conn:
                    conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
                pj.close()
    out["decision_to_venue_us"] = latency(args.orders)
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
