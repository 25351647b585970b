"""Catalogue C (event-stream integrity), P0: C1-C3 through the user stream + REST against the local exchange.

C1-C3: the user stream is read off the server's WebSocket (``userfeed``) and handed to the order manager
on the test's thread; faults come from the server's ``ws:user`` plan. C4/C5 run the live node (its own
``UserStream``, gate and REST resync); the stream-level signals are also tested in
tests/integration/test_streams.py (H2).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot4.execution.records import OrderRecord
from bot4.execution.states import RANK, OmsStatus
from bot4.live.node import EXIT_OK, TradingNode
from bot4.persistence.journal import SqlJournal
from tests.acceptance.catalogue.conftest import INST, KINDS, Scenario, settle
from tests.acceptance.catalogue.noderig import NodeRig, until
from tests.acceptance.catalogue.userfeed import UserFeed


def rest_at_bid(cat: Scenario, qty: str) -> tuple[OrderRecord, Decimal]:
    return cat.manager.new_order(
        INST, strategy_id="s", side="BUY", type="LIMIT", quantity=qty, price=cat.venue.top()[0], time_in_force="GTC"
    ), Decimal(qty)


def trade_until_filled(cat: Scenario, cid: str) -> None:
    for _ in range(300):
        cat.venue.step(1)
        if cat.venue.ledger().orders[cid][0][0] == "FILLED":
            return
    raise AssertionError(f"{cid} did not fill in the recorded data")


def history(cat: Scenario) -> list[tuple[OmsStatus, Decimal]]:
    seen: list[tuple[OmsStatus, Decimal]] = []
    cat.manager.on_status(lambda rec, st, _r: seen.append((st, rec.reported_cum)))
    return seen


def setup(cat: Scenario) -> UserFeed:
    feed = cat.user_feed()
    cat.oms()
    return feed


@KINDS
def test_c1_fill_when_delivered_three_times_on_stream_and_again_by_rest_then_applied_once(cat: Scenario) -> None:
    """C1: duplicate_event(3) on the TRADE report and the same trade in /myTrades: one fill, one position change."""
    feed = setup(cat)
    oms = cat.manager
    cat.venue.fault("ws:user", "duplicate_event", n=3, when={"x": "TRADE"})
    rec, qty = rest_at_bid(cat, "0.001")
    trade_until_filled(cat, rec.client_order_id)
    feed.pump(oms, timeout=1.0)
    trades = [m for m in feed.raw if m.get("e") == "executionReport" and m["x"] == "TRADE"]
    assert len(trades) == 3 and len({(m["t"], m["I"]) for m in trades}) == 1  # the same trade three times
    assert oms.backfill(INST.id) == 0  # REST lists it too: already applied
    assert rec.status is OmsStatus.FILLED and rec.filled_qty == qty == oms.position(INST.id).quantity
    assert isinstance(oms.journal, SqlJournal)
    dropped = [a for a in oms.journal.audit() if a[0] == "DUPLICATE_FILL_DROPPED"]
    assert len(dropped) == 3  # two stream copies and the REST copy, each recorded


@KINDS
def test_c2_reports_when_reordered_and_stale_rest_snapshot_arrives_late_then_no_regression(cat: Scenario) -> None:
    """C2: FILLED before NEW/PARTIAL on the stream, then a NEW snapshot from REST: terminal absorbs, cum never falls."""
    feed = setup(cat)
    oms = cat.manager
    seen = history(cat)
    # hold the first TRADE report and the next three user events (its balance update, the FILLED report and
    # its balance update), then send them in reverse: FILLED reaches us before PARTIALLY_FILLED
    cat.venue.fault("ws:user", "reorder_events", n=4, when={"x": "TRADE"}, count=1)
    rec, qty = rest_at_bid(cat, "0.05")
    stale = oms.venue.query_order(rec.client_order_id, INST.id)  # a REST answer taken while the order was NEW
    assert stale is not None and stale.status is OmsStatus.ACCEPTED
    trade_until_filled(cat, rec.client_order_id)
    feed.pump(oms, until=lambda: len([m for m in feed.raw if m.get("e") == "executionReport"]) >= 3, timeout=2.0)
    order = [m["X"] for m in feed.raw if m.get("e") == "executionReport"]
    assert order == ["NEW", "FILLED", "PARTIALLY_FILLED"]  # the stream really was reordered
    oms.apply_snapshot(rec, stale)  # the slow REST answer lands after the stream's FILLED
    settle(oms)
    assert rec.status is OmsStatus.FILLED and rec.filled_qty == qty == cat.venue.ledger().executed("ca-1")
    ranks = [RANK[s] for s, _ in seen]
    cums = [c for _, c in seen]
    assert ranks == sorted(ranks) and cums == sorted(cums), seen


@KINDS
def test_c3_fill_when_one_partial_report_lost_then_cum_jump_reveals_gap_and_backfill_completes(cat: Scenario) -> None:
    """C3: the first partial's report is dropped; the next report's z exposes the gap; myTrades fills it once."""
    feed = setup(cat)
    oms = cat.manager
    cat.venue.fault("ws:user", "drop_event", when={"x": "TRADE"}, count=1)
    rec, qty = rest_at_bid(cat, "0.05")
    trade_until_filled(cat, rec.client_order_id)
    led = cat.venue.ledger()
    assert len(led.trades) >= 2  # really partial
    feed.pump(oms, until=lambda: rec.reported_cum == qty, timeout=2.0)
    assert rec.has_gap and rec.filled_qty < qty  # the jump in z is seen before the backfill
    settle(oms)
    assert rec.filled_qty == qty and rec.status is OmsStatus.FILLED and not rec.has_gap
    fee = sum((f for _, _, _, f in led.trades), Decimal(0))
    assert abs(oms.ledger.fees[(oms.venue.name, "USDT")] - fee) <= Decimal("1e-8") * len(led.trades)
    assert ("BTC" not in {c for _, c in oms.ledger.fees}) or oms.ledger.fees[(oms.venue.name, "BTC")] == 0


def gap_denied(rig: NodeRig) -> bool:
    return any("STREAM_RECONCILING" in d.reason for d in rig.hands.denials)


def test_c4_user_stream_when_dropped_while_order_fills_then_orders_denied_rest_resync_recovers_fill_first(
    cat: Scenario, rig: NodeRig
) -> None:
    """C4: during the gap new orders are denied; the fill made in the gap comes back by REST before trading resumes."""
    resumed_after: list[int] = []

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        cat.venue.pause()  # the market moves by hand from here: the fill must land inside the gap
        bid, ask = cat.venue.top()
        both = [await rig.buy("0.001", type="LIMIT", price=bid), await rig.sell("0.001", type="LIMIT", price=ask)]

        def status(c: str) -> str:
            return cat.venue.ledger().orders.get(c, [("", 0)])[0][0]

        await until(lambda: all(status(c) == "NEW" for c in both), 3, "the resting orders")
        cat.venue.fault("POST /api/v3/userDataStream", "status", code=503, duration_ms=3000)
        assert cat.venue.drop_user_streams() == 1
        await until(lambda: node.gate is not None and node.gate.stream_gap is not None, 2, "the gap signal")
        await rig.buy("0.001")
        assert gap_denied(rig)  # nothing new while our view of our own orders may be stale
        for _ in range(1500):  # whichever side the market comes to first fills inside the gap
            cat.venue.step(1)
            if any(status(c) == "FILLED" for c in both):
                break
            await asyncio.sleep(0.001)
        [cid] = [c for c in both if status(c) == "FILLED"]
        assert await rig.read(lambda: node.oms.get(cid).filled_qty) == 0  # type: ignore[union-attr]  # not seen yet
        resyncs = node.resyncs
        cat.venue.play(1.0)
        await until(lambda: node.gate is not None and node.gate.stream_gap is None, 15, "reconnect and resync")
        assert node.resyncs == resyncs + 1
        assert await rig.read(lambda: node.oms.get(cid).filled_qty) == Decimal("0.001")  # type: ignore[union-attr]
        resumed_after.append(node.resyncs)
        after = await rig.buy("0.001")
        await until(
            lambda: after in cat.venue.ledger().orders,
            3,
            f"trading again ({rig.hands.denials[-1:]}, {rig.mismatches()})",
        )

    assert rig.run(rig.node(), script) == EXIT_OK and resumed_after


@pytest.mark.parametrize("fault", ["silent_stream", "listen_key_expired", "event_stream_terminated"])
def test_c5_user_stream_when_silent_expired_or_terminated_then_gap_within_t_resubscribe_and_resync(
    cat: Scenario, rig: NodeRig, fault: str
) -> None:
    """C5: detected within T (3 s here); entries paused until the re-subscription and the REST resync."""
    seen: list[float] = []

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        bid, _ = cat.venue.top()
        cid = await rig.buy("0.001", type="LIMIT", price=bid - 300)  # a working order: silence is suspicious
        await until(lambda: cat.venue.ledger().orders.get(cid, [("", 0)])[0][0] == "NEW", 3, "the working order")
        if fault == "silent_stream":
            cat.venue.fault("ws:user", "silent_stream", duration_ms=6000)
        else:
            cat.venue.fault("ws:user", fault, count=1)
        # a manual order: the event that triggers the fault, and an unseen change a REST probe can find
        manual = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
        cat.venue.place_raw(cat.venue.account, {**manual, "price": str(bid + 2000), "newClientOrderId": "manual-c5"})
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await until(lambda: node.gate is not None and node.gate.stream_gap is not None, 4.5, "the gap")
        seen.append(loop.time() - t0)
        await rig.buy("0.001")
        assert gap_denied(rig)
        await until(lambda: node.gate is not None and node.gate.stream_gap is None, 12, "resubscribe and resync")
        assert await rig.read(lambda: node.oms.get("manual-c5").role) == "EXTERNAL"  # type: ignore[union-attr]

    assert rig.run(rig.node(), script) == EXIT_OK
    assert seen and seen[0] <= 4.5


def test_c4_user_stream_when_server_announces_shutdown_then_overlapping_reconnect_no_gap_no_lost_event(
    cat: Scenario, rig: NodeRig
) -> None:
    """C4 (planned close): ``serverShutdown`` -> a new connection before the old closes; no gap, no lost report."""

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        gaps = node.stream_gaps
        bid, _ = cat.venue.top()
        cat.venue.fault("ws:user", "server_shutdown", close_after_ms=500, count=1)
        first = await rig.buy("0.001", type="LIMIT", price=bid - 400)  # its NEW report triggers the shutdown
        await asyncio.sleep(1.0)  # the old connection is gone by now
        assert node.user.stats.rotations == 1  # a planned, overlapping reconnect
        reports = node.user.stats.reports
        second = await rig.buy("0.001")  # its reports can only travel on the new connection
        await until(lambda: second in cat.venue.ledger().orders, 3, "the order after the rotation")
        await until(lambda: node.user.stats.reports >= reports + 2, 3, "its NEW and TRADE reports on the stream")
        assert node.stream_gaps == gaps and node.gate is not None and node.gate.stream_gap is None
        assert await rig.read(lambda: node.oms.get(first).status.value) == "ACCEPTED"  # type: ignore[union-attr]

    assert rig.run(rig.node(), script) == EXIT_OK
