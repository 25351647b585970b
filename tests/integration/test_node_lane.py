"""The live node while the exchange hangs (reliability.md E4): the loop stays responsive, entries wait for a reconcile.

The local exchange server delays the first ``POST /api/v3/order`` for longer than ``venue_stall_s``
while its market data keeps flowing. The order manager's call is stuck on the trading lane; the
loop keeps reading the market feed, answers the control API and records an operator's mode change
at once; the watchdog blocks new entries within ``venue_stall_s`` + 1 s; after the call returns a
REST resync + reconcile runs before entries are allowed again; at the end the journal equals the
server's ledger.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot4.live.node import EXIT_OK, TradingNode
from bot4.live.secrets import generate_token
from bot4.venues.sim.server import FaultPlan
from tests.integration.test_node import ENV, IID, RestOnce, ServerThread, config

STALL_S = 1.0
DELAY_MS = 3500


def test_live_node_when_order_post_hangs_then_feed_and_control_api_stay_live_and_reconcile_precedes_entries_e4(
    shared_data: Path, tmp_path: Path
) -> None:
    plan = FaultPlan.from_dict({"endpoints": {"POST /api/v3/order": [{"action": "delay", "ms": DELAY_MS, "count": 1}]}})
    control, read = generate_token(), generate_token()
    with ServerThread(shared_data, faults=plan) as srv:
        cfg = config(
            tmp_path, srv.url, live=True, rest=True, venue_stall_s=STALL_S, reconcile_interval_s=30,
            control={"enabled": True},
        )  # fmt: skip
        node = TradingNode(
            cfg, "live", env={**ENV, "BOT4_CONTROL_TOKEN": control, "BOT4_READ_TOKEN": read},
            strategy_classes={"rest_once": RestOnce}, stale_after_s=5.0, user_silence_s=5,
        )  # fmt: skip
        seen: dict[str, Any] = {}

        async def scenario() -> int:
            task = asyncio.create_task(node.run())
            await asyncio.wait_for(node.started.wait(), 10)
            assert node.stall is not None and node.gate is not None and node.reconciler is not None
            srv.play(5)
            base = f"http://127.0.0.1:{node.control.port}"
            loop = asyncio.get_running_loop()
            end = loop.time() + 20
            async with aiohttp.ClientSession() as s:
                while not node.stall.events and loop.time() < end:
                    await asyncio.sleep(0.02)
                assert node.stall.events, "the delayed order never stalled the lane"
                ev = node.stall.events[0]
                seen["msgs_at_detect"] = node.feed.stats.messages
                seen["checks_at_detect"] = node.reconciler.checks
                seen["blocked"] = node.gate.venue_stall
                stuck = node.lane.busy()
                # the control API answers while the lane is stuck
                t0 = time.monotonic()
                async with s.get(f"{base}/status", headers={"Authorization": f"Bearer {read}"}) as r:
                    seen["status"] = (r.status, await r.json(), time.monotonic() - t0)
                t0 = time.monotonic()
                body = {"mode": "pause", "reason": "E4 drill", "confirm": False}
                async with s.post(
                    f"{base}/control/mode", json=body, headers={"Authorization": f"Bearer {control}"}
                ) as r:
                    seen["pause"] = (r.status, time.monotonic() - t0, node.mode())
                seen["still_stuck"] = stuck is not None and node.lane.busy() == stuck
                mode_file = cfg.state_path("live") / "risk" / "control_mode.json"
                seen["mode_file"] = json.loads(mode_file.read_text())["mode"]
                while ev.returned_ns is None and loop.time() < end:
                    await asyncio.sleep(0.02)
                seen["msgs_at_return"] = node.feed.stats.messages
                while node.gate.venue_stall is not None and loop.time() < end:
                    await asyncio.sleep(0.02)
                seen["checks_at_clear"] = node.reconciler.checks
                seen["risk_mode_after"] = node.mode()  # the risk engine applied it (no pending record left)
                seen["pending_after"] = node.pending_mode
                body = {"mode": "normal", "reason": "E4 drill over", "confirm": True}
                async with s.post(
                    f"{base}/control/mode", json=body, headers={"Authorization": f"Bearer {control}"}
                ) as r:
                    seen["resume"] = r.status
            end = loop.time() + 10  # trading resumes after the operator's resume; then stop like SIGTERM
            while loop.time() < end and len(node.engine.portfolio.fills if node.engine else []) < 2:
                await asyncio.sleep(0.05)
            node.request_stop("test")
            return await asyncio.wait_for(task, 15)

        code = asyncio.run(scenario())
        ledger = srv.ledger()
    assert code == EXIT_OK
    assert node.stall is not None
    ev = node.stall.events[0]
    # entries blocked within venue_stall_s + 1 s of the stuck call's start, with an alert
    assert (ev.detected_ns - ev.call_started_ns) / 1e9 <= STALL_S + 1.0
    assert "running for" in seen["blocked"]
    # the loop kept reading market data during the stall
    assert seen["msgs_at_return"] - seen["msgs_at_detect"] > 0, seen
    # the control API answered during the stall; the mode was recorded at once, without waiting for the lane
    code_s, status, latency = seen["status"]
    assert code_s == 200 and latency < 1.0 and status["lane"]["busy"] is not None
    assert status["lane"]["venue_stall"] is not None
    assert seen["pause"][0] == 200 and seen["pause"][1] < 1.0 and seen["pause"][2] == "pause"
    assert seen["still_stuck"] and seen["mode_file"] == "PAUSE"
    # after the call returned: still blocked until a REST reconcile, which ran before entries were allowed
    # (read from the watch's own timestamps; polling the gate from the test races the heal under load)
    assert seen["checks_at_clear"] > seen["checks_at_detect"] and node.stall_heals == 1
    assert ev.healed_ns is not None and ev.returned_ns is not None and ev.healed_ns >= ev.returned_ns
    assert seen["risk_mode_after"] == "pause" and seen["pending_after"] is None and seen["resume"] == 200
    # the journal equals the server's ledger: orders, their states and the fills
    assert node.oms is not None
    same = {"EXPIRED_IN_MATCH": "EXPIRED"}  # self-trade prevention: the order manager's EXPIRED
    server_orders = {
        o["clientOrderId"]: same.get(o["status"], o["status"]) for o in ledger["orders"] if o["account"] == "alice"
    }
    assert server_orders and server_orders == {cid: r.status.value for cid, r in node.oms.orders.items()}
    executed = {o["clientOrderId"]: Decimal(o["executedQty"]) for o in ledger["orders"] if o["account"] == "alice"}
    assert executed == {cid: r.filled_qty for cid, r in node.oms.orders.items()}
    trades = [t for t in ledger["trades"] if t["account"] == "alice"]
    btc = sum(Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in trades)
    assert node.oms.position(IID).quantity == btc
    assert node.engine is not None and len(node.engine.portfolio.fills) == len(trades) >= 2
    print(
        f"E4 figures: blocked after {(ev.detected_ns - ev.call_started_ns) / 1e9:.2f} s, "
        f"feed messages during the stall {seen['msgs_at_return'] - seen['msgs_at_detect']}, "
        f"status latency {latency * 1000:.0f} ms, mode latency {seen['pause'][1] * 1000:.0f} ms, "
        f"healed {(ev.healed_ns - ev.returned_ns) / 1e6:.0f} ms after the call returned; "
        f"{len(server_orders)} orders, {len(trades)} fills"
    )


def test_paper_node_when_exchange_is_not_binance_then_generic_ccxt_feed_drives_bars_and_live_is_refused(
    shared_data: Path, tmp_path: Path
) -> None:
    """binanceus speaks Binance's protocol, so the local server can stand in for a "non-binance" venue."""
    from bot4.model.errors import ConfigError
    from bot4.venues.streams.ccxt_market import CcxtMarketFeed
    from tests.integration.test_node import drive

    venue = {"exchange": "binanceus", "name": "BINANCEUS", "symbols": ["BTC/USDT"]}
    with ServerThread(shared_data) as srv:
        cfg = config(tmp_path, srv.url, venue={**venue, "url": srv.url})
        node = TradingNode(cfg, "paper", env=ENV, stale_after_s=5.0)
        code = asyncio.run(drive(node, lambda: len(node.bars) >= 3, timeout=15, on_start=lambda: srv.play(5)))
    assert code == EXIT_OK
    assert isinstance(node.feed, CcxtMarketFeed) and node.feed.stats.messages > 0
    assert len(node.bars) >= 3 and node.bars[0].instrument_id == "BINANCEUS:BTC/USDT"
    live = config(tmp_path / "live", "http://127.0.0.1:1", live=True, venue={**venue, "url": "http://127.0.0.1:1"})
    with pytest.raises(ConfigError, match=r"binanceus.*user-data stream.*Paper mode works"):
        TradingNode(live, "live", env=ENV)
