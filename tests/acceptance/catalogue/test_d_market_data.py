"""Catalogue D (market-data integrity), P0 D1-D3 through the live node's market feed and order gate.

The feed-level behaviour (resync procedure, rejected levels, staleness clock) is tested against the
server in tests/integration/test_streams.py (H2); here the same faults hit a running node, and what is
checked is the trading consequence: while the book is invalid or stale no new entry reaches the
exchange, and after the automatic recovery the node's book equals the exchange's and trading resumes.
A slow depth snapshot (``delay`` on ``GET /api/v3/depth``) holds the resync open long enough to try an
order inside the invalid window.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bot4.live.node import EXIT_OK, TradingNode
from tests.acceptance.catalogue.conftest import Scenario
from tests.acceptance.catalogue.noderig import IID, NodeRig, until
from tests.acceptance.catalogue.server import SYMBOL


def unhealthy(node: TradingNode) -> bool:
    return node.gate is not None and IID in node.gate.unhealthy


def healthy(node: TradingNode) -> bool:
    return node.gate is not None and IID not in node.gate.unhealthy and node.feed.book(IID) is not None


async def entry_denied_while_unhealthy(cat: Scenario, rig: NodeRig, node: TradingNode) -> None:
    posts = sum(cat.venue.ledger().posts.values())
    denied = len(rig.hands.denials)
    await rig.buy("0.001")
    assert len(rig.hands.denials) == denied + 1, "an entry went out while the book was invalid"
    assert "MARKET_DATA_UNHEALTHY" in rig.hands.denials[-1].reason
    assert sum(cat.venue.ledger().posts.values()) == posts


async def book_equals_exchange(cat: Scenario, node: TradingNode) -> None:
    """The node's book equals the exchange's own, level by level in exact prices and sizes."""
    ex = cat.venue.server.exchange
    ours, theirs = node.feed.scales[IID], ex.scales[SYMBOL]

    def exact(levels: list[tuple[int, int]], sc: Any) -> list[tuple[Decimal, Decimal]]:
        return [(sc.price(p), sc.size(q)) for p, q in levels]

    seen: list[object] = []
    for _ in range(100):  # the replay keeps moving the market: compare until a quiet moment
        book = node.feed.book(IID)
        want = cat.venue.call(
            lambda: (exact(ex.books[SYMBOL].bid_levels(), theirs), exact(ex.books[SYMBOL].ask_levels(), theirs))
        )
        mine = None if book is None else (exact(book.bid_levels(), ours), exact(book.ask_levels(), ours))
        if mine == want:
            return
        seen.append((mine, want))
        await asyncio.sleep(0.02)
    raise AssertionError(f"the resynced book never matched the exchange's (last: {seen[-1:]})")


@pytest.mark.parametrize("fault", ["skip_update_id", "old_snapshot"])
def test_d1_depth_gap_or_old_snapshot_then_book_invalid_at_once_no_entry_priced_and_resynced_equal_to_exchange(
    cat: Scenario, rig: NodeRig, fault: str
) -> None:
    """D1: a diff-stream gap (or a snapshot older than the buffered diffs) invalidates the book at once."""

    async def script(node: TradingNode) -> None:
        await rig.market(node, speed=1.0)
        resyncs = node.feed.stats.resyncs
        cat.venue.fault("GET /api/v3/depth", "delay", ms=1500, count=1)  # keeps the resync open for a while
        if fault == "old_snapshot":
            old = cat.venue.call(lambda: cat.venue.server.exchange.depth(SYMBOL, 1000))
            old["lastUpdateId"] = 0
            cat.venue.fault("GET /api/v3/depth", "status", code=200, body=old, count=1)
        cat.venue.fault("ws:depth", "skip_update_id", count=1)
        await until(lambda: unhealthy(node), 5, "the book to be invalidated")
        await entry_denied_while_unhealthy(cat, rig, node)
        await until(lambda: healthy(node), 10, "the resync")
        assert node.feed.stats.resyncs > resyncs
        await book_equals_exchange(cat, node)
        cid = await rig.buy("0.001")
        await until(lambda: cid in cat.venue.ledger().orders, 3, "trading again")

    assert rig.run(rig.node(), script) == EXIT_OK


@pytest.mark.parametrize(
    "level",
    [("b", "abc", "1"), ("b", "1000", "-1"), ("a", "NaN", "1"), ("b", "99999999", "1")],
    ids=["price_abc", "qty_negative", "price_nan", "crossed_bid_above_ask"],
)
def test_d2_invalid_or_crossed_level_then_update_rejected_counted_logged_resynced_and_orders_denied_meanwhile(
    cat: Scenario, rig: NodeRig, level: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """D2: the bad update is rejected and counted, a resync runs, and no order goes out while the book is invalid."""
    side, price, qty = level

    async def script(node: TradingNode) -> None:
        await rig.market(node, speed=1.0)
        rejected = node.feed.stats.rejected_messages
        cat.venue.fault("GET /api/v3/depth", "delay", ms=1500, count=1)
        cat.venue.fault("ws:depth", "inject_level", side=side, price=price, qty=qty, count=1)
        await until(lambda: unhealthy(node), 5, "the bad level to be rejected")
        assert node.feed.stats.rejected_messages == rejected + 1
        await entry_denied_while_unhealthy(cat, rig, node)
        await until(lambda: healthy(node), 10, "the resync")

    assert rig.run(rig.node(), script) == EXIT_OK
    assert any("unhealthy" in r.getMessage() for r in caplog.records)


def test_d3_feed_silent_then_stale_within_x_entries_blocked_and_healthy_again_on_fresh_data(
    cat: Scenario, rig: NodeRig
) -> None:
    """D3: socket open, no market messages for > 3 s -> stale within 3 s (+1 s slack); automatic recovery."""
    took: list[float] = []

    async def script(node: TradingNode) -> None:
        await rig.market(node, speed=1.0)
        cat.venue.fault("ws:depth", "silent_stream", duration_ms=5000)
        cat.venue.fault("ws:trade", "silent_stream", duration_ms=5000)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await until(lambda: unhealthy(node), 6, "the staleness clock")
        took.append(loop.time() - t0)
        await entry_denied_while_unhealthy(cat, rig, node)
        await until(lambda: healthy(node), 10, "fresh data")
        cid = await rig.buy("0.001")
        await until(lambda: cid in cat.venue.ledger().orders, 3, "trading again")

    assert rig.run(rig.node(), script) == EXIT_OK
    assert took and 2.5 <= took[0] <= 4.5, took
