"""Catalogue E (rate limits, clock, connectivity), P0 E1-E3 with the order manager on bot4's ccxt client.

The client-level gate and time-sync behaviour is in tests/integration/test_ccxt_client.py (H1); here
the same faults hit a trading order manager with a journal, and the oracle checks the aftermath. The
node-level E4 (network blackhole) is in ``test_node.py``. Request counts are measured on the server:
a ``delay(0)`` rule's ``fired`` counts requests that reached it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot4.engine.clock import LiveClock
from bot4.execution.errors import RetryableError
from bot4.execution.order_manager import OrderManager
from bot4.execution.states import OmsStatus
from bot4.live.node import EXIT_OK, TradingNode
from bot4.venues.sim.server import WeightLimiter
from tests.acceptance.catalogue.conftest import INST, Scenario, settle
from tests.acceptance.catalogue.noderig import NodeRig, until


class StepClock:
    """LiveClock with a movable wall-clock offset (skews and steps, E3); monotonic time is untouched."""

    def __init__(self, offset_ms: int) -> None:
        self._live = LiveClock()
        self.offset_ns = offset_ms * 1_000_000

    def now_ns(self) -> int:
        return self._live.now_ns() + self.offset_ns

    def monotonic_ns(self) -> int:
        return self._live.monotonic_ns()


def buy(oms: OrderManager, qty: str = "0.001") -> OmsStatus:
    return oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity=qty).status


def gate(oms: OrderManager):  # type: ignore[no-untyped-def]
    return oms.venue.gate  # type: ignore[attr-defined]


def test_e1_429_with_retry_after_then_zero_requests_in_window_then_settled_by_query(cat: Scenario) -> None:
    """E1: the 429 stops all traffic for Retry-After (no storm, no 418); the refused submit is settled afterwards."""
    oms = cat.oms(inflight_ms=200)
    seen = cat.venue.counter("*")
    limit = cat.venue.fault("*", "status", code=429, headers={"Retry-After": "3"}, count=1, duration_ms=3000)
    assert buy(oms) is OmsStatus.IN_FLIGHT  # refused with 429: never "rejected", never re-sent
    started = time.monotonic()
    while time.monotonic() - started < 2.7:
        oms.poll()  # overdue settle-queries are refused by the gate, not sent
        with pytest.raises(RetryableError, match="not sent, rate limited"):
            oms.venue.open_orders()
        time.sleep(0.1)
    assert seen.fired == limit.fired == 1  # nothing reached the server inside Retry-After
    time.sleep(max(0.0, 3.1 - (time.monotonic() - started)))
    settle(oms)
    assert oms.get("ca-1").status is OmsStatus.FAILED and cat.venue.ledger().orders == {}
    assert buy(oms) is OmsStatus.FILLED and limit.fired == 1 and not gate(oms).is_banned


@pytest.mark.parametrize("limiter", [WeightLimiter(capacity=600, window_s=60.0)])
def test_e1_weight_near_limit_then_reads_shed_before_any_429_and_cancels_still_go(
    cat: Scenario, limiter: WeightLimiter
) -> None:
    """E1: near the budget the client slows before the venue says 429: polling is shed first, cancels go first."""
    oms = cat.oms(cat.client(rate_limit_weight_1m=limiter.capacity))  # the venue's published budget
    client = oms.venue
    bid, _ = cat.venue.top()
    rec = oms.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity="0.001", price=bid - 500, time_in_force="GTC"
    )
    shed = 0
    for _ in range(40):  # myTrades weighs 20: 600/min is gone after ~25 reads
        try:
            client.my_trades(INST.id, 0)
        except RetryableError as exc:
            assert "shed" in str(exc)
            shed += 1
            break
    assert shed == 1 and 0.8 < gate(oms).pressure() <= 0.95
    assert gate(oms).blocked_until_ms == 0  # the venue never had to answer 429
    assert oms.cancel(rec.client_order_id) and rec.status is OmsStatus.CANCELED  # cancels are never shed


def test_e2_418_ban_then_all_traffic_stops_until_it_ends_then_resumes(cat: Scenario) -> None:
    """E2: after a 418 nothing is sent until the ban ends (a short ban here; the gate obeys any Retry-After)."""
    oms = cat.oms(inflight_ms=200)
    seen = cat.venue.counter("*")
    cat.venue.fault("GET /api/v3/openOrders", "status", code=418, headers={"Retry-After": "2"}, count=1)
    with pytest.raises(RetryableError, match="418"):
        oms.venue.open_orders()
    assert gate(oms).is_banned
    started = time.monotonic()
    assert buy(oms) is OmsStatus.IN_FLIGHT  # refused locally: nothing sent
    while time.monotonic() - started < 1.8:
        oms.poll()
        time.sleep(0.1)
    assert seen.fired == 1
    time.sleep(max(0.0, 2.1 - (time.monotonic() - started)))
    settle(oms)
    assert oms.get("ca-1").status is OmsStatus.FAILED and buy(oms) is OmsStatus.FILLED


@pytest.mark.parametrize("skew_ms", [2000, -2000])
def test_e3_clock_skewed_then_no_1021_and_step_back_5s_keeps_timeouts_on_time(cat: Scenario, skew_ms: int) -> None:
    """E3: the offset sync gives zero -1021; a -5 s wall step mid-run changes no deadline (monotonic timers)."""
    clock = StepClock(skew_ms)
    oms = cat.oms(cat.client(clock=clock, recv_window_ms=1000), inflight_ms=500)
    assert buy(oms) is OmsStatus.FILLED  # a -1021 would have left it in flight
    clock.offset_ns -= 5_000_000_000  # NTP steps the wall clock back 5 s
    assert buy(oms) is OmsStatus.FILLED
    assert oms.venue.timesync.syncs == 1  # type: ignore[attr-defined]  # never forced by a -1021
    cat.venue.fault("POST /api/v3/order", "drop_before_book", count=1)
    queries = cat.venue.counter("GET /api/v3/order")
    sent = time.monotonic()
    assert buy(oms) is OmsStatus.IN_FLIGHT
    first_query = None
    while time.monotonic() - sent < 3 and oms.get("ca-3").status is OmsStatus.IN_FLIGHT:
        oms.poll()
        if queries.fired and first_query is None:
            first_query = time.monotonic() - sent
        time.sleep(0.02)
    assert first_query is not None and 0.5 <= first_query <= 1.5  # fired on time: neither early nor never
    settle(oms)
    assert oms.get("ca-3").status is OmsStatus.FAILED


def test_e4_network_blackhole_when_venue_hangs_then_entries_blocked_calls_time_out_and_reconciled_before_resuming(
    cat: Scenario, rig: NodeRig
) -> None:
    """E4: every REST call hangs 5 s for 4 s; calls time out at 2 s; entries blocked; heal reconciles, then trades."""
    timed: list[float] = []

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        cat.venue.fault("*", "delay", ms=5000, duration_ms=4000)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        stuck = await rig.buy("0.001")  # hangs until the client's 2 s timeout: outcome unknown, not rejected
        timed.append(loop.time() - t0)
        await until(lambda: node.gate is not None and node.gate.venue_stall is not None, 2, "the stall alert")
        await rig.buy("0.001")
        assert "stall" in rig.hands.denials[-1].reason.lower() or "STALL" in rig.hands.denials[-1].reason
        await until(lambda: node.gate is not None and node.gate.venue_stall is None, 20, "heal and reconcile")
        assert node.stall_heals >= 1
        after = await rig.buy("0.001")
        await until(lambda: after in cat.venue.ledger().orders, 5, "trading again")
        for _ in range(100):  # the hung submit is settled by query: booked late (FILLED) or never (FAILED)
            state = await rig.read(lambda: node.oms.get(stuck).status.value)  # type: ignore[union-attr]
            if state in ("FILLED", "FAILED"):
                break
            await asyncio.sleep(0.1)
        assert state in ("FILLED", "FAILED"), state

    raw = rig.raw_config(venue_stall_s=1.0)
    assert rig.run(rig.node(rig.config_from(raw)), script, timeout=40) == EXIT_OK
    assert timed and 1.5 <= timed[0] <= 3.5, timed  # the configured 2 s timeout, not the 5 s hang
    led = cat.venue.ledger()
    assert all(len(rows) == 1 for rows in led.orders.values()) and set(led.posts.values()) == {1}


def test_e1_node_when_429_then_entries_denied_until_retry_after_passes_mode_unchanged(
    cat: Scenario, rig: NodeRig
) -> None:
    """E1 (node): a 429 on the periodic reconciliation's read blocks new orders (not the mode) for Retry-After."""

    def limited(node: TradingNode) -> str | None:
        gate = node.gate
        return gate.venue_limited() if gate is not None and gate.venue_limited is not None else None

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        seen = cat.venue.counter("*")
        cat.venue.fault("GET /api/v3/openOrders", "status", code=429, headers={"Retry-After": "2"}, count=1)
        await until(lambda: limited(node) is not None, 3, "the 429")
        await rig.buy("0.001")
        assert rig.hands.denials and rig.hands.denials[-1].reason.startswith("VENUE_RATE_LIMITED")
        assert node.mode() == "normal" and node.gate is not None and node.gate.venue_ban is None
        assert seen.fired == 1  # the denied order never left; neither did anything else
        await until(lambda: limited(node) is None, 3, "Retry-After passed")
        after = await rig.buy("0.001")
        await until(lambda: after in cat.venue.ledger().orders, 3, "trading again")

    assert rig.run(rig.node(), script) == EXIT_OK


def test_e2_node_when_ip_banned_then_pause_and_alert_and_nothing_sent_until_the_ban_ends(
    cat: Scenario, rig: NodeRig, caplog: pytest.LogCaptureFixture
) -> None:
    """E2 (node): a 418 on the periodic reconciliation's read -> Pause + ALERT + audit row, entries denied and
    zero requests during the ban; after it, a REST resync and reconcile before entries are allowed again."""
    healed: list[str] = []

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        seen = cat.venue.counter("*")
        cat.venue.fault("GET /api/v3/openOrders", "status", code=418, headers={"Retry-After": "3"}, count=1)
        await until(lambda: seen.fired >= 1, 3, "the banned request")
        banned_at = asyncio.get_running_loop().time()
        await until(lambda: node.gate is not None and node.gate.venue_ban is not None, 1, "the ban noticed")
        await until(lambda: node.mode() == "pause", 2, "pause")
        await rig.buy("0.001")
        assert rig.hands.denials and rig.hands.denials[-1].reason.startswith("VENUE_BANNED"), rig.hands.events[-1:]
        await asyncio.sleep(max(0.0, 2.7 - (asyncio.get_running_loop().time() - banned_at)))
        assert seen.fired == 1  # the gate held everything back: no probing during the ban
        assert node.gate is not None and node.gate.venue_ban is not None
        await until(lambda: node.gate is not None and node.gate.venue_ban is None, 6, "a reconcile after the ban")
        assert node.limits is not None and node.limits.bans == 1 and node.limits.heals == 1
        assert node.last_reconcile is not None and node.last_reconcile.status == "ok", node.last_reconcile
        healed.append(node.mode())

    assert rig.run(rig.node(), script) == EXIT_OK
    assert healed == ["pause"]  # the mode stays Pause until an operator resumes
    alerts = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "ALERT" in r.getMessage()]
    assert any("418" in m and "banned" in m for m in alerts), alerts
    assert any(action != "order_denied" and "venue banned" in payload for _a, action, payload in rig.risk_audit())
    assert any("418" in row for row in rig.audited("VENUE_BANNED"))


def test_e2_node_when_ip_banned_and_user_stream_dropped_then_no_listen_key_call_until_the_ban_ends(
    cat: Scenario, rig: NodeRig
) -> None:
    """E2 (node): the user stream's own REST (listenKey POST) waits for the ban too: a stream dropped during
    the ban reconnects only after it, and zero requests of any kind reach the server meanwhile."""

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        await until(lambda: node.user is not None and node.user.healthy, 5, "user stream up")
        seen = cat.venue.counter("*")
        cat.venue.fault("GET /api/v3/openOrders", "status", code=418, headers={"Retry-After": "3"}, count=1)
        await until(lambda: seen.fired >= 1, 3, "the banned request")
        banned_at = asyncio.get_running_loop().time()
        await until(lambda: node.gate is not None and node.gate.venue_ban is not None, 1, "the ban noticed")
        assert await asyncio.to_thread(cat.venue.drop_user_streams) >= 1
        await until(lambda: not node.user.healthy, 2, "the user stream gap")
        await asyncio.sleep(max(0.0, 2.7 - (asyncio.get_running_loop().time() - banned_at)))
        assert seen.fired == 1  # no listenKey POST, no snapshot, no read: nothing probed the banning venue
        assert not node.user.healthy
        await until(lambda: node.user.healthy, 8, "the user stream back after the ban")
        assert seen.fired > 1

    assert rig.run(rig.node(), script, timeout=40) == EXIT_OK
