"""H10: the three node defects the soak and parity runs found, each reproduced without a network.

1. Bars cut while the trading lane is busy: the bar-flush timer must use the time it fired on the
   loop, so trades queued behind a slow lane job are applied before their bar closes.
2. Memory: the record of received trades is opt-in and bounded; bars kept are bounded too.
3. False reconciliation PAUSE (B2 vs C4): while the user stream is in a gap the node gives no verdict,
   and compares again only after the REST resync applied the missed fills.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.live.bars import bars_from_trades
from bot4.live.config import parse_node_config
from bot4.live.node import ENGINE_EVENTS_KEPT, TradingNode
from bot4.model.enums import Liquidity, Side
from bot4.model.events import TradeTick
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.research.results import RunEvent
from bot4.strategies.base import Strategy

D = Decimal
MS = 1_000_000
S = 1_000 * MS
INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.00001", min_notional="5")
IID = INST.id
T0 = 1_700_000_000 * S
GRACE_MS = 100


class Idle(Strategy):
    """Trades nothing: these tests are about bars and reconciliation, not decisions."""

    name = "idle"


class ManualClock:
    """Wall time the test sets (the time the node reads when a timer fires); real monotonic time."""

    def __init__(self, now_ns: int) -> None:
        self.now = now_ns

    def now_ns(self) -> int:
        return self.now

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


def make_node(tmp_path: Path, clock: ManualClock | None = None, **over: Any) -> TradingNode:
    raw: dict[str, Any] = {
        "state_dir": str(tmp_path),
        "bar_interval": "1s",
        "bar_grace_ms": GRACE_MS,
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": "http://127.0.0.1:1"},
        "strategies": [{"name": "idle"}],
        **over,
    }
    node = TradingNode(parse_node_config(raw), "paper", clock=clock, strategy_classes={"idle": Idle})
    node._open_journal()
    node.instruments = {IID: INST}
    node._build()
    assert node.engine is not None
    node.engine.start()
    node._engine_started = True
    node._baseline()
    return node


def tick(ts: int, price: float) -> TradeTick:
    return TradeTick(IID, ts, price, 0.01, "BUY", str(ts))


def test_bar_flush_when_lane_busy_300ms_then_flush_uses_the_timer_time_and_no_trade_is_dropped(
    tmp_path: Path,
) -> None:
    """A reconcile-like job holds the lane 300 ms; the timer fires 50 ms before bar 1's end + grace.

    A trade of bar 1 reaches the loop after the timer fired (inside the grace period) and queues behind
    the flush. The flush must judge "is bar 1 over?" at the time the timer fired, not 300 ms later when
    the lane gets to it; otherwise bar 1 closes without that trade and the trade is dropped as late.
    """
    clock = ManualClock(T0)
    node = make_node(tmp_path, clock, keep_trades=100)
    trades = [tick(T0 + 100 * MS, 100.0), tick(T0 + 500 * MS, 101.0), tick(T0 + 900 * MS, 103.0)]
    late_in_grace = tick(T0 + 990 * MS, 99.0)  # bar 1's trade, arriving 40 ms into the grace period

    async def scenario() -> None:
        node.lane.start()
        post = node.lane.post
        for t in trades:
            post(node._on_trade, t)
        post(time.sleep, 0.3)  # the reconciliation's REST calls
        clock.now = T0 + S + (GRACE_MS - 50) * MS  # the timer fires: bar 1 is not over yet
        fired = asyncio.ensure_future(node._fast_timer())
        await asyncio.sleep(0)  # the timer's job is queued behind the slow one
        clock.now = T0 + S + 40 * MS
        post(node._on_trade, late_in_grace)
        clock.now = T0 + S + (GRACE_MS + 250) * MS  # the lane is still busy while time moves on
        await fired
        await node._fast_timer()  # the next firing, after the grace: bar 1 closes, complete
        await node.shutdown()

    asyncio.run(scenario())
    assert [a.late for a in node.aggregators.values()] == [0], "a trade of bar 1 was dropped as late"
    received = [*trades, late_in_grace]
    assert list(node.trades_seen) == received
    assert list(node.bars) == bars_from_trades(IID, received, S)
    bar = node.bars[0]
    assert (bar.open, bar.high, bar.low, bar.close) == (100.0, 103.0, 99.0, 99.0)
    assert node.bar_count == 1 and node.status()["bars"] == 1


def test_trades_seen_when_default_config_then_nothing_kept_and_bars_bounded(tmp_path: Path) -> None:
    """Production keeps no public trades (they grew ~38 MiB per soak hour) and only the latest bars."""
    node = make_node(tmp_path, keep_bars=3)
    assert node.trades_seen.maxlen == 0 and node.bars.maxlen == 3
    for i in range(10):
        node._on_trade(tick(T0 + i * S, 100.0 + i))
    assert len(node.trades_seen) == 0
    assert node.bar_count == 9 and len(node.bars) == 3 and node.bars[-1].ts_open == T0 + 8 * S
    kept = make_node(tmp_path / "b", keep_trades=4)
    for i in range(10):
        kept._on_trade(tick(T0 + i * S, 100.0))
    assert [t.ts_event for t in kept.trades_seen] == [T0 + i * S for i in range(6, 10)]
    asyncio.run(node.shutdown())
    asyncio.run(kept.shutdown())


def test_engine_events_when_a_long_run_denies_an_order_every_bar_then_only_the_latest_kept(tmp_path: Path) -> None:
    """A strategy that keeps trying while the node is paused adds a denial per bar, for hours."""
    node = make_node(tmp_path)
    assert node.engine is not None
    events = node.engine.events
    events.extend(RunEvent(T0 + i, "ORDER_DENIED", "idle", f"#{i}") for i in range(2 * ENGINE_EVENTS_KEPT + 1))
    node._slow_tick()
    assert len(events) == ENGINE_EVENTS_KEPT and events[-1].message == f"#{2 * ENGINE_EVENTS_KEPT}"
    asyncio.run(node.shutdown())


def missed_fill() -> Fill:
    return Fill("T-9", "b4-idle-1", "idle", IID, Side.BUY, D("0.001"), D("40000"), D("0.04"), "USDT",
                Liquidity.TAKER, T0)  # fmt: skip


def test_reconcile_when_user_stream_gap_while_an_order_fills_then_unknown_not_pause_c4_b2(tmp_path: Path) -> None:
    """The venue booked a fill the journal has not seen (its report was lost in the gap).

    Reconciles inside the gap give no verdict; the REST resync applies the fill, and the next checks
    agree: the node stays in NORMAL for the rest of the run.
    """
    node = make_node(tmp_path)
    venue = node.paper_venue
    assert venue is not None and node.gate is not None
    node._on_user_gap("disconnected (close code 1000)")
    venue.free["BTC"] = venue.free.get("BTC", D(0)) + D("0.001")  # the fill, at the venue only
    venue.free["USDT"] -= D("40.04")
    for _ in range(3):
        result = node.reconcile_now()
        assert result.status == "unknown" and "user stream" in result.reason
    assert node.mode() == "normal"
    node._on_fill(None, missed_fill())  # type: ignore[arg-type]  # the resync's backfill applies it
    node.gate.stream_gap = None  # the resync succeeded
    assert [node.reconcile_now().status for _ in range(3)] == ["ok", "ok", "ok"]
    assert node.mode() == "normal"
    asyncio.run(node.shutdown())


def test_reconcile_when_account_moves_without_a_gap_then_two_sightings_pause_b2(tmp_path: Path) -> None:
    """The two-sighting rule is kept, and a gap in between restarts the count rather than hiding a mismatch."""
    node = make_node(tmp_path)
    venue = node.paper_venue
    assert venue is not None and node.gate is not None
    venue.free["USDT"] -= D("500")  # a withdrawal behind the node's back
    assert node.reconcile_now().status == "ok"  # first sighting
    node.gate.stream_gap = "disconnected"
    assert node.reconcile_now().status == "unknown"
    node.gate.stream_gap = None
    assert node.reconcile_now().status == "ok" and node.mode() == "normal"  # sightings started over
    result = node.reconcile_now()
    assert result.status == "mismatch" and [(m.kind, m.subject) for m in result.mismatches] == [("balance", "USDT")]
    assert node.mode() == "pause"
    asyncio.run(node.shutdown())
