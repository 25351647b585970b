"""Order-book and matching throughput on the recorded feeds. Prints one JSON object.

* ``l2_deltas_per_s``: Bybit XRPUSDT ob500 deltas (pre-parsed to integer ticks/lots) applied message
  by message, including each message's crossed-book check; snapshot reloads are not timed.
* ``l2_apply_per_s``: the same deltas through ``L2Book.apply`` alone.
* ``l3_updates_per_s``: the Bitfinex L3 capture (99,998 order updates) with the uncross policy.
* ``market_matches_per_s``: market orders (alternating buy/sell, 0.01 BTC) submitted to a
  ``MatchingVenue`` driven by the Bitfinex L3 replay, one every 10 updates; only submits are timed.

    python benchmarks/book.py --repeat 200
"""

from __future__ import annotations

import argparse
import json
import os
import time
from decimal import Decimal
from pathlib import Path

from bot4.data.book import L2Book, L3Book, Scale
from bot4.data.book.loaders import load_bitfinex_l3, load_bybit_orderbook
from bot4.engine.clock import SimClock
from bot4.model import Instrument, Order

DATA = Path(os.environ.get("BOT4_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def bench_l2(repeat: int) -> dict[str, float]:
    msgs = load_bybit_orderbook(DATA / "nautilus_trader/bybit/xrpusdt-ob500.data.zip", Scale.of("0.0001", "1"))
    snap = msgs[0]
    deltas = [m.deltas() for m in msgs[1:]]
    flat = [d for m in deltas for d in m]
    n = len(flat)
    book = L2Book()
    msg_time = apply_time = 0.0
    for _ in range(repeat):
        book.load_snapshot(snap.bids, snap.asks, snap.update_id)
        t0 = time.perf_counter()
        for m in deltas:
            book.apply_message(m)
        msg_time += time.perf_counter() - t0
        book.load_snapshot(snap.bids, snap.asks, snap.update_id)
        apply = book.apply
        t0 = time.perf_counter()
        for is_bid, price, size in flat:
            apply(is_bid, price, size)
        apply_time += time.perf_counter() - t0
    return {
        "l2_deltas": n * repeat,
        "l2_deltas_per_s": n * repeat / msg_time,
        "l2_apply_per_s": n * repeat / apply_time,
    }


def bench_l3(repeat: int) -> dict[str, float]:
    scale = Scale.of("0.00000001", "0.00000001")
    snapshot, updates = load_bitfinex_l3(DATA / "nautilus_trader/bitfinex/L3_feed.json", scale)
    total = 0.0
    for _ in range(repeat):
        book = L3Book("uncross")
        book.load_snapshot(snapshot)
        update = book.update
        t0 = time.perf_counter()
        for oid, is_bid, price, size in updates:
            update(oid, is_bid, price, size)
        total += time.perf_counter() - t0
    return {"l3_updates": len(updates) * repeat, "l3_updates_per_s": len(updates) * repeat / total}


def bench_matching() -> dict[str, float]:
    from bot4.venues.sim.matching import MatchingVenue

    inst = Instrument.spot(
        "BITFINEX", "BTC/USD", tick_size="0.00000001", step_size="0.00000001", maker_fee="0.001", taker_fee="0.002"
    )
    scale = Scale(inst.tick_size, inst.step_size)
    snapshot, updates = load_bitfinex_l3(DATA / "nautilus_trader/bitfinex/L3_feed.json", scale)
    book = L3Book("uncross")
    book.load_snapshot(snapshot)
    venue = MatchingVenue(
        "BITFINEX", {inst.id: inst}, {"USD": Decimal(10**9), "BTC": Decimal(10**4)}, SimClock(), lambda e: None
    )
    venue.attach_l3(inst.id, book)
    orders = [
        Order.create(
            inst,
            client_order_id=f"m{i}",
            strategy_id="bench",
            side="BUY" if i % 2 else "SELL",
            type="MARKET",
            quantity="0.01",
        )
        for i in range(len(updates) // 10 + 1)
    ]
    fills = 0
    spent = 0.0
    on_l3 = venue.on_l3
    for i, (oid, is_bid, price, size) in enumerate(updates):
        on_l3(inst.id, oid, is_bid, price, size)
        if i % 10 == 0:
            t0 = time.perf_counter()
            events = venue.place(orders[i // 10])
            spent += time.perf_counter() - t0
            fills += len(events) - 1
    n = len(orders)
    return {"market_orders": n, "market_fills": fills, "market_matches_per_s": n / spent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="L2 replays (L3 replays are repeat // 50 + 1)")
    args = parser.parse_args()
    result: dict[str, float] = {}
    result.update(bench_l2(args.repeat))
    result.update(bench_l3(args.repeat // 50 + 1))
    result.update(bench_matching())
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
