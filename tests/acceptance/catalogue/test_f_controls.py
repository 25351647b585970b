"""Catalogue F (risk engine, kill switch, control modes), P0 F1-F4 through the live node.

The backtest-level F1-F4 scenarios are in tests/acceptance/test_risk_scenarios.py; here the operator
acts through the node's authenticated control API and the orders really reach the local exchange, so
"cancelled and flat within 5 s" is measured on the exchange's ledger.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from decimal import Decimal

import pytest

from bot4.live.node import EXIT_OK, TradingNode
from tests.acceptance.catalogue.conftest import Scenario
from tests.acceptance.catalogue.noderig import NodeRig, call_api, until

ZERO = Decimal(0)
INST_ID = "BINANCE:BTC/USDT"


def open_orders(cat: Scenario) -> list[str]:
    return [c for c, rows in cat.venue.ledger().orders.items() if rows[-1][0] in ("NEW", "PARTIALLY_FILLED")]


async def build_book(cat: Scenario, rig: NodeRig, n_orders: int = 20) -> None:
    """A position (one market buy) and ``n_orders`` resting buys far under the market."""
    hands = rig.hands
    assert rig.last is not None
    await rig.market(rig.last)
    bid, _ = cat.venue.top()
    await rig.buy("0.003")
    for i in range(n_orders):
        await rig.buy("0.0002", type="LIMIT", price=bid - 1000 - i)
    await until(lambda: len(open_orders(cat)) == n_orders and cat.venue.ledger().position > 0, 5,
                f"the book ({[d.reason for d in hands.denials][:3]})")  # fmt: skip


def hold_lock(url: str, seconds: float, held: threading.Event) -> None:
    """Another connection takes the journal's write lock (waiting for it if the node is mid-write) and keeps it."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(seconds)
    conn.rollback()
    conn.close()


@pytest.mark.parametrize("degraded", ["none", "user_stream_down", "db_locked"])
def test_f3_emergency_when_set_through_control_api_then_cancelled_and_flat_within_5s_and_mode_survives_restart(
    cat: Scenario, rig: NodeRig, degraded: str
) -> None:
    """F3: 20 open orders and a position -> Emergency -> none open and flat on the fake within 5 s; also degraded."""
    took: list[float] = []

    async def script(node: TradingNode) -> None:
        await build_book(cat, rig)
        blocker = None
        if degraded == "user_stream_down":
            cat.venue.fault("POST /api/v3/userDataStream", "status", code=503, duration_ms=60_000)
            assert cat.venue.drop_user_streams() >= 1
            await until(lambda: node.gate is not None and node.gate.stream_gap is not None, 3, "the stream gap")
        elif degraded == "db_locked":  # another connection holds the journal for 8 s (B4's lock, during a kill)
            held = threading.Event()
            blocker = threading.Thread(target=hold_lock, args=(cat.db_url(), 8.0, held), daemon=True)
            blocker.start()
            assert await asyncio.to_thread(held.wait, 5), "could not take the journal lock"
        t0 = time.monotonic()
        status, text = await call_api(node, "POST", "/control/mode", rig.control_token,
                                      {"mode": "emergency", "reason": "F3 drill", "confirm": False})  # fmt: skip
        assert status == 200, text
        await until(
            lambda: not open_orders(cat) and cat.venue.ledger().position == 0,
            12,
            lambda: f"cancelled and flat (left: {len(open_orders(cat))} open, position {cat.venue.ledger().position})",
        )
        took.append(time.monotonic() - t0)
        if blocker is not None:
            await asyncio.to_thread(blocker.join)
        await rig.buy("0.001")
        assert rig.hands.denials and node.mode() == "emergency"

    code = rig.run(rig.node(), script)
    assert code == EXIT_OK and took and took[0] < 5.0, f"the kill took {took[0]:.2f} s"
    led = cat.venue.ledger()
    posts = sum(led.posts.values())
    again = rig.node()  # restart: still in Emergency, sends nothing
    code = rig.run(again, lambda node: asyncio.sleep(0.5))
    assert code == EXIT_OK and again.mode() == "emergency"
    assert sum(cat.venue.ledger().posts.values()) == posts


def test_f4_modes_when_reduce_then_only_shrinking_orders_pause_survives_restart_and_wrong_roles_refused(
    cat: Scenario, rig: NodeRig
) -> None:
    """F4: Reduce denies increases and passes reductions; Pause survives a restart with no orders; 401/403; audited."""
    calls: list[tuple[str, int]] = []

    async def api(node: TradingNode, label: str, token: str | None, body: dict[str, object] | None = None) -> int:
        method, path = ("POST", "/control/mode") if body is not None else ("GET", "/status")
        status, text = await call_api(node, method, path, token, body)
        cat.sinks.texts[f"HTTP {label}"] = text
        calls.append((label, status))
        return status

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        hands = rig.hands
        await rig.buy("0.002")
        await until(lambda: cat.venue.ledger().position == Decimal("0.002"), 5, "the first buy")
        pause = {"mode": "pause", "reason": "F4", "confirm": False}
        assert await api(node, "no token", None, pause) == 401
        assert await api(node, "wrong token", "x" * 43, pause) == 401
        assert await api(node, "read token", rig.read_token, pause) == 403
        assert await api(node, "status", rig.read_token) == 200 and node.mode() == "normal"
        assert await api(node, "reduce", rig.control_token, {"mode": "reduce", "reason": "F4", "confirm": False}) == 200
        peak = cat.venue.ledger().position
        denied = len(hands.denials)
        await rig.buy("0.001")
        assert len(hands.denials) == denied + 1 and "REDUCE" in hands.denials[-1].reason.upper()
        await rig.sell("0.001", reduce_only=True)
        await until(lambda: cat.venue.ledger().position <= peak - Decimal("0.001"), 5, "the reducing sell")
        assert await api(node, "pause", rig.control_token, pause) == 200 and node.mode() == "pause"

    assert rig.run(rig.node(), script) == EXIT_OK
    assert [s for _, s in calls] == [401, 401, 403, 200, 200, 200]
    posts = sum(cat.venue.ledger().posts.values())

    async def after_restart(node: TradingNode) -> None:
        assert node.mode() == "pause"
        await asyncio.sleep(0.3)
        await rig.buy("0.001")
        assert rig.hands.denials

    again = rig.node()
    assert rig.run(again, after_restart) == EXIT_OK and again.mode() == "pause"
    assert sum(cat.venue.ledger().posts.values()) == posts  # nothing sent while paused
    with_audit = rig.audited_control()
    assert len(with_audit) >= len(calls) - 1, with_audit  # every attempt, failed ones too (GET /status may be exempt)
    assert any('"status": 401' in d or "401" in d for d in with_audit)


def test_f1_runaway_strategy_when_order_every_bar_then_rate_cap_holds_on_the_fake_and_breaker_trips_to_emergency(
    cat: Scenario, rig: NodeRig
) -> None:
    """F1: orders of the runaway strategy that reach the fake <= the cap; the breaker trips; alert and audit written."""
    limits = {"max_orders_per_window": 5, "order_window_ns": 60_000_000_000, "runaway_denials_to_trip": 3,
              "spread_events_to_trip": 1000}  # fmt: skip
    raw = rig.raw_config(strategies=[{"name": "hands"}, {"name": "every_bar"}])
    raw["risk"]["limits"] = limits
    from bot4.live.config import parse_node_config

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        await until(lambda: node.mode() == "emergency", 10, "the runaway breaker")

    assert rig.run(rig.node(parse_node_config(raw)), script) == EXIT_OK
    runaway = [c for c in cat.venue.ledger().posts if "every_bar" in c]
    assert 1 <= len(runaway) <= 5
    audit = rig.risk_audit()
    assert any(action == "breaker_trip" and actor == "breaker:runaway" for actor, action, _ in audit), audit[-5:]
    assert sum(1 for _a, action, _p in audit if action == "order_denied") >= 3


def test_f2_fat_finger_when_size_or_price_far_off_then_denied_pre_trade_and_nothing_reaches_the_fake(
    cat: Scenario, rig: NodeRig
) -> None:
    """F2: qty x1000 / notional over the cap, and a price 50 % off the reference, are denied; the fake sees nothing."""
    raw = rig.raw_config()
    raw["risk"]["limits"] = {**raw["risk"]["limits"], "max_order_notional": "1000", "price_band": 0.05}
    from bot4.live.config import parse_node_config

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        hands = rig.hands
        price = Decimal(str(await rig.read(lambda: node.engine.last_price(INST_ID))))  # type: ignore[union-attr]
        await rig.buy("1")  # ~39,000 USDT: over the 1,000 per-order cap
        await rig.buy("0.001", type="LIMIT", price=(price * Decimal("1.5")).quantize(Decimal("0.01")))
        await rig.sell("0.001", type="LIMIT", price=(price * Decimal("0.5")).quantize(Decimal("0.01")))
        assert len(hands.denials) == 3, [d.reason for d in hands.denials]

    assert rig.run(rig.node(parse_node_config(raw)), script) == EXIT_OK
    assert cat.venue.ledger().posts == {}
    reasons = [p for _a, action, p in rig.risk_audit() if action == "order_denied"]
    assert len(reasons) == 3 and "NOTIONAL" in reasons[0].upper()


def test_f2_bad_print_when_one_trade_prints_50pct_off_then_an_order_at_that_price_is_denied(
    cat: Scenario, rig: NodeRig
) -> None:
    """F2 (bad print): one public trade at +50 % must not become the reference an order is checked against."""
    raw = rig.raw_config()
    raw["risk"]["limits"] = {**raw["risk"]["limits"], "price_band": 0.05}
    from bot4.live.config import parse_node_config

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        cat.venue.pause()
        bid, ask = cat.venue.top()
        bad = ((bid + ask) / 2 * Decimal("1.5")).quantize(Decimal("0.01"))
        ex = cat.venue.server.exchange
        cat.venue.call(lambda: ex.on_trade("BTCUSDT", 999_000_001, float(bad), 0.0001, False))
        cat.venue.call(lambda: ex.on_trade("BTCUSDT", 999_000_002, float(bid), 0.0001, True))
        await asyncio.sleep(0.6)  # the bar holding the bad print closes
        await rig.buy("0.001", type="LIMIT", price=bad)
        assert rig.hands.denials and "PRICE" in rig.hands.denials[-1].reason.upper(), rig.hands.events[-3:]

    assert rig.run(rig.node(parse_node_config(raw)), script) == EXIT_OK
    assert cat.venue.ledger().posts == {}
