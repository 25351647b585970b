"""Issue 7 soak, full fault mix: an hour of recorded market in under two minutes, then the oracle.

Complements ``test_soak.py`` (the node as a subprocess, a fixed fault sprinkle): here the node runs in
process, trades ``ema_cross`` plus a strategy that rests and moves limit orders every few bars (cancel
traffic), and the exchange injects every fault kind of ``soakplan.soak_plan(seed)`` (REST delays, 503
with and without booking, ``drop_after_book``, a 429 burst, duplicated/reordered user and market
events, user-stream disconnects). The 46 s recording is looped to an hour (``livenode.looped``) and
replayed ``SPEED`` times faster. After a graceful stop the global oracle (reliability.md 3.1, H6's
``catalogue/oracle.py``) must hold and the process's RSS must be flat after warm-up; a JSON summary is
printed. ``BOT4_SOAK_SEED`` picks another plan (the seed is in the summary, so a failure replays).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.live.node import EXIT_OK
from bot4.model.events import Bar
from bot4.strategies.base import Strategy
from tests.acceptance.catalogue import oracle
from tests.acceptance.catalogue.server import new_sentinel
from tests.acceptance.livenode import (
    Market,
    drive,
    journal_url,
    make_node,
    node_config,
    product_logging,
    risk_audit_url,
    unconfigure_logging,
)
from tests.acceptance.soakplan import KINDS, build, fault_kinds, soak_plan

MARKET_S = 3600.0  # one hour of recorded market time
SPEED = 40.0  # -> 90 s of wall time
WARMUP_FRACTION = 0.2  # RSS baseline once this share of the replay has played
RSS_MARGIN = (0.10, 20 * 1024 * 1024)  # flat: growth <= 10 % or <= 20 MiB
SEED = int(os.environ.get("BOT4_SOAK_SEED", "20261121"))
TRADES_KEPT = 10_000


class RestAndMove(Strategy):
    """Keeps one small limit order resting near the touch and moves it every third bar: cancel traffic."""

    name = "rest_and_move"

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n % 3:
            return
        iid = bar.instrument_id
        for order in self.ctx.open_orders(iid):
            self.ctx.cancel(order.client_order_id)
        inst = self.ctx.instrument(iid)
        buy = self.ctx.position(iid) <= 0
        px = Decimal(str(bar.close)) * (Decimal("0.9997") if buy else Decimal("1.0003"))
        self.ctx.submit(iid, "BUY" if buy else "SELL", Decimal("0.001"), type="LIMIT", price=inst.make_price(px))


STRATEGIES: list[dict[str, Any]] = [
    {"name": "ema_cross", "params": {"fast": 3, "slow": 8, "size": "0.002"}},
    {"name": "rest_and_move"},
]


def rss_bytes() -> int:
    """This process's resident set (the node and the exchange both live in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("/proc/self/status has no VmRSS line")


def test_soak_plan_when_same_seed_then_same_plan_covering_every_fault_kind() -> None:
    assert soak_plan(7) == soak_plan(7) and soak_plan(7) != soak_plan(8)
    assert fault_kinds(soak_plan(7)) == set(KINDS)
    assert build(7).rules  # the server's plan parser accepts it


@pytest.mark.slow
def test_soak_when_an_hour_of_market_with_every_fault_kind_then_oracle_holds_and_memory_flat(
    shared_data: Path, tmp_path: Path
) -> None:
    sentinel = new_sentinel()
    plan = build(SEED, orders=40, market_events=60_000)
    recorded = Market(shared_data, sentinel, tape=False).market_seconds  # no server started
    loops = math.ceil(MARKET_S / recorded)
    log_file = tmp_path / "bot4.log"
    handlers = product_logging(log_file)
    # pytest keeps every captured record in memory for its report: at DEBUG that would be our growth, not the node's
    quiet = {h: h.level for h in logging.getLogger().handlers if h not in handlers}
    for h in quiet:
        h.setLevel(logging.WARNING)
    samples: list[tuple[float, int]] = []
    try:
        with Market(shared_data, sentinel, faults=plan, loops=loops, tape=False) as mkt:
            total = len(mkt.venue.server.replay.events)
            # partial fills leave dust under the 5 USDT minimum notional; ema_cross then tries to sell it on
            # every cross and the reject breaker would pause the node for the rest of the hour
            cfg = node_config(
                mkt, tmp_path, STRATEGIES, {"rejects_to_trip": 1000}, bar_interval="250ms", bar_grace_ms=30
            )
            node = make_node(cfg, mkt, {"rest_and_move": RestAndMove})
            # the node keeps the last 1M public trades for parity checks: bounded, but ~240 B each, so it grows
            # ~38 MiB over this hour before the bound (reported separately); capped here to see leaks beneath it
            node.trades_seen = deque(maxlen=TRADES_KEPT)
            t0 = time.monotonic()
            last = [0.0]

            def sample() -> None:
                now = time.monotonic()
                if now - last[0] >= 2.0:
                    last[0] = now
                    samples.append((mkt.venue.server.replay.position / total, rss_bytes()))

            code = asyncio.run(
                drive(node, lambda: mkt.replay_done, timeout=150, on_start=lambda: mkt.venue.play(SPEED), every=sample)
            )
            wall_s = time.monotonic() - t0
            samples.append((1.0, rss_bytes()))
            ledger = mkt.venue.ledger()
            fired = {f"{r.endpoint} {r.action} #{i}": r.fired for i, r in enumerate(mkt.venue.server.api.faults.rules)}
            start_balances = mkt.venue.start_balances
            played = mkt.venue.server.replay.position
    finally:
        unconfigure_logging(handlers)
        for h, level in quiet.items():
            h.setLevel(level)
    assert code == EXIT_OK
    assert played == total, f"the replay did not finish: {played}/{total} events in {wall_s:.0f} s"

    sinks = oracle.Sinks(files=[log_file, log_file.with_suffix(".stream")], dbs=[journal_url(tmp_path)])
    sinks.dbs.append(risk_audit_url(tmp_path))
    inp = oracle.OracleInput(
        ledger=ledger,
        start_balances=start_balances,
        journal_url=journal_url(tmp_path),
        risk_audit=[(risk_audit_url(tmp_path), tmp_path / "state" / "risk-state" / "audit-head.json")],
    )
    violations = oracle.check(inp, sentinel, sinks)

    warm = next(rss for frac, rss in samples if frac >= WARMUP_FRACTION)
    end = samples[-1][1]
    growth = end - warm
    limit = max(warm * RSS_MARGIN[0], RSS_MARGIN[1])
    lines = log_file.read_text().splitlines()
    mode_changes = [str(json.loads(line).get("event", line))[:240] for line in lines if "risk mode" in line]
    summary = {
        "test": "soak_faults",
        "seed": SEED,
        "market_s": round(loops * recorded),
        "loops": loops,
        "speed": SPEED,
        "wall_s": round(wall_s, 1),
        "events": total,
        "orders": len(ledger.orders),
        "posts": sum(ledger.posts.values()),
        "fills": len(ledger.trades),
        "position_btc": str(ledger.position),
        "faults_fired": {k: v for k, v in fired.items() if v},
        "faults_idle": sorted(k for k, v in fired.items() if not v),
        "stream_gaps": node.stream_gaps,
        "resyncs": node.resyncs,
        "mode": node.mode(),
        "mode_changes": mode_changes[:5],
        "trades_seen_cap": TRADES_KEPT,
        "rss_warm_mib": round(warm / 2**20, 1),
        "rss_end_mib": round(end / 2**20, 1),
        "rss_growth_mib": round(growth / 2**20, 1),
        "rss_series_mib": [round(r / 2**20) for _, r in samples],
        "violations": violations,
    }
    print(json.dumps(summary))
    assert wall_s < 120, f"an hour of market took {wall_s:.0f} s (> 2 min)"
    assert not violations, "global oracle violated:\n  " + "\n  ".join(violations)
    assert len(ledger.orders) >= 20 and len(ledger.trades) >= 10, f"too little trading for a soak: {summary}"
    assert sum(1 for v in fired.values() if v) >= len(fired) // 2, f"most faults never fired: {summary}"
    assert growth <= limit, f"RSS grew {growth / 2**20:.1f} MiB after warm-up (limit {limit / 2**20:.1f} MiB)"
