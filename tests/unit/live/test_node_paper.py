"""The node's own logic without a network: paper fills, shutdown (cancel/keep), restart, gates, ids, lock."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.engine.clock import LiveClock
from bot4.execution.bar_client import BarClient
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.live.config import parse_node_config
from bot4.live.node import EXIT_LOCKED, NodeExit, TradingNode
from bot4.model.events import Bar, TradeTick
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.strategies.base import Strategy
from bot4.venues.sim.bar_venue import BarVenue

D = Decimal
S = 1_000_000_000
INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.00001", min_notional="5")
IID = INST.id
T0 = 1_700_000_000 * S


class BuyThenRest(Strategy):
    """Bar 1: market buy; bar 2: a resting limit buy 2 % below the close."""

    name = "buy_then_rest"

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n == 1:
            self.ctx.submit(IID, "BUY", D("0.001"))
        elif self.n == 2:
            price = INST.make_price(D(str(bar.close)) * D("0.98"))
            self.ctx.submit(IID, "BUY", D("0.001"), type="LIMIT", price=price)


def make_node(tmp_path: Path, **over: Any) -> TradingNode:
    raw: dict[str, Any] = {
        "state_dir": str(tmp_path),
        "bar_interval": "1s",
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": "http://127.0.0.1:1"},
        "strategies": [{"name": "buy_then_rest"}],
    }
    raw.update(over)
    node = TradingNode(parse_node_config(raw), "paper", strategy_classes={"buy_then_rest": BuyThenRest})
    node._open_journal()
    node.instruments = {IID: INST}
    node._build()
    assert node.engine is not None
    node.engine.start()
    node._engine_started = True
    node.started.set()
    return node


def trade(node: TradingNode, ts: int, price: float) -> None:
    node._on_trade(TradeTick(IID, ts, price, 0.01, "BUY", str(ts)))


def run_bars(node: TradingNode, prices: list[float], start: int = T0) -> None:
    """One trade per second; each trade closes the previous second's bar."""
    for i, p in enumerate(prices):
        trade(node, start + i * S, p)


def test_paper_when_strategy_buys_on_a_bar_then_filled_at_next_bars_open_and_journaled(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    run_bars(node, [40_000.0, 40_100.0, 40_200.0])  # bars 1 and 2 close; bar 3 is open
    assert node.oms is not None and node.engine is not None
    recs = sorted(node.oms.orders.values(), key=lambda r: r.intent_seq)
    assert [r.client_order_id for r in recs] == ["b4-buy_then_rest-1", "b4-buy_then_rest-2"]
    assert recs[0].status is OmsStatus.FILLED and recs[0].avg_price == D("40100")  # bar 2's open
    assert recs[1].status is OmsStatus.ACCEPTED
    assert node.engine.portfolio.position("buy_then_rest", IID) == D("0.001")
    asyncio.run(node.shutdown())


def test_shutdown_when_cancel_then_working_orders_cancelled_and_journal_released(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    run_bars(node, [40_000.0, 40_100.0, 40_200.0])
    asyncio.run(node.shutdown())
    assert node.oms is not None
    assert node.oms.orders["b4-buy_then_rest-2"].status is OmsStatus.CANCELED
    again = make_node(tmp_path)  # the single-writer lock was released by the clean stop
    assert again.oms is not None and again.oms.working() == []
    assert again.oms.orders["b4-buy_then_rest-2"].status is OmsStatus.CANCELED
    asyncio.run(again.shutdown())


def test_restart_when_orders_kept_then_paper_state_restored_without_resending(tmp_path: Path) -> None:
    node = make_node(tmp_path, shutdown="keep")
    run_bars(node, [40_000.0, 40_100.0, 40_200.0])
    asyncio.run(node.shutdown())
    assert node.oms is not None and node.oms.orders["b4-buy_then_rest-2"].status is OmsStatus.ACCEPTED
    again = make_node(tmp_path, shutdown="keep")
    assert again.oms is not None and again.engine is not None and again.paper_venue is not None
    assert again.oms.halted_reason is None  # recovery found venue and journal in agreement
    assert again.paper_venue.is_working("b4-buy_then_rest-2")
    assert again.engine.portfolio.position("buy_then_rest", IID) == D("0.001")
    assert again.paper_venue.free["BTC"] == D("0.001")
    # the restored resting order fills on a bar that reaches its price; no second copy was sent
    limit = again.oms.orders["b4-buy_then_rest-2"].order.price
    assert limit is not None
    run_bars(again, [float(limit) - 50, float(limit) - 60, float(limit) - 70], T0 + 10 * S)
    assert again.oms.orders["b4-buy_then_rest-2"].status is OmsStatus.FILLED
    new_ids = sorted(again.oms.orders)
    assert "b4-buy_then_rest-3" in new_ids and len(new_ids) == 4  # ids continue after the journal's
    fills = [f.trade_id for f in again.paper_venue.my_trades(IID)]
    assert len(fills) == len(set(fills))  # trade numbering continued after the journaled fills
    asyncio.run(again.shutdown())


def test_gate_when_user_stream_gap_or_feed_unhealthy_then_new_orders_denied_c4_d3(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    assert node.gate is not None and node.engine is not None
    node.gate.stream_gap = "disconnected"
    run_bars(node, [40_000.0, 40_100.0])
    events = [e for e in node.engine.events if e.kind == "ORDER_DENIED"]
    assert events and "STREAM_RECONCILING" in events[0].message
    node.gate.stream_gap = None
    node._on_feed_state(IID, False, "book invalid: sequence gap")
    order = Order.create(INST, client_order_id="x-1", strategy_id="s", side="BUY", quantity="0.001", ts_init=0)
    assert "MARKET_DATA_UNHEALTHY" in (node.gate.check(order) or "")
    exit_order = Order.create(
        INST, client_order_id="x-2", strategy_id="s", side="SELL", quantity="0.001", ts_init=0, reduce_only=True
    )
    assert "MARKET_DATA_UNHEALTHY" not in (node.gate.check(exit_order) or "")
    node._on_feed_state(IID, True, "")
    assert node.gate.unhealthy == {}
    asyncio.run(node.shutdown())


def test_lock_when_second_node_opens_same_journal_then_exit_3_before_connecting_b6(tmp_path: Path) -> None:
    first = make_node(tmp_path)
    second = TradingNode(first.config, "paper", strategy_classes={"buy_then_rest": BuyThenRest})
    with pytest.raises(NodeExit) as info:
        second._open_journal()
    assert info.value.code == EXIT_LOCKED and second.client is None
    asyncio.run(first.shutdown())


def test_recovery_when_journal_lost_then_our_node_ids_adopted_as_ours_and_others_external() -> None:
    clock = LiveClock()
    client = BarClient("BINANCE")
    venue = BarVenue("BINANCE", {IID: INST}, {"USDT": D(100_000)}, clock, client.sink)
    client.bind(venue)
    for cid in ("b4-ema_cross-3", "risk-2", "manual-1"):
        venue.submit(Order.create(INST, client_order_id=cid, strategy_id="x", side="BUY", type="LIMIT",
                                  quantity="0.001", price="30000", ts_init=0))  # fmt: skip
    oms = OrderManager(
        client, MemoryJournal(), clock, OmsConfig(id_prefix="b4-", caller_ids=True, also_ours=("risk-",))
    )
    report = recover(oms, [IID])
    roles = {cid: oms.orders[cid].role for cid in ("b4-ema_cross-3", "risk-2", "manual-1")}
    assert roles == {"b4-ema_cross-3": "ADOPTED", "risk-2": "ADOPTED", "manual-1": "EXTERNAL"}
    assert report.regressed and oms.halted_reason is not None  # journal behind the venue: paused (B5)
