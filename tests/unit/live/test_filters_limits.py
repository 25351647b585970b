"""G1 filter-failure retry and E1/E2 venue limits at the node, on the engine's real order path (no server).

The venue client is the backtest's ``BarClient`` with a refusal scripted in front of it, standing in for a
venue whose filters changed; the request gate is the real ``RequestGate`` on a hand-moved clock.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot4.engine import engine as engine_mod
from bot4.engine.clock import SimClock
from bot4.engine.engine import TradingEngine
from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import PassThroughRisk
from bot4.execution.bar_client import BarClient
from bot4.execution.errors import RejectedError
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import ExecReport
from bot4.live.filters import FilterRetry
from bot4.live.gates import NodeGate
from bot4.live.limits import VenueLimitGuard
from bot4.model import Bar, Instrument, Order, OrderDenied, OrderEvent, OrderRejected, OrderStatus
from bot4.model.fill import Fill
from bot4.strategies.base import Strategy, StrategyConfig
from bot4.venues.ccxt.gate import RequestGate
from bot4.venues.sim.bar_venue import BarVenue

OLD = Instrument.spot("SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1")
NEW = replace(OLD, step_size=Decimal("0.01"), tick_size=Decimal("1"), min_notional=Decimal("5"))
IID = OLD.id
BAR_NS = 60_000_000_000


class Hands(Strategy):
    events: list[OrderEvent]
    fills: list[Fill]

    def on_start(self) -> None:
        self.events, self.fills = [], []

    def on_order_update(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


class ChangedFilters(BarClient):
    """The venue after a filter change: refuses ``refusals`` orders with -1013; serves the new instrument."""

    def __init__(self, refusals: int) -> None:
        super().__init__("SIM")
        self.refusals = refusals
        self.sent: list[Order] = []
        self.loads = 0

    def submit(self, order: Order) -> list[ExecReport]:
        self.sent.append(order)
        if self.refusals > 0:
            self.refusals -= 1
            raise RejectedError(-1013, "Filter failure: LOT_SIZE")
        return super().submit(order)

    def load_instruments(self) -> dict[str, Instrument]:
        self.loads += 1
        return {IID: NEW}


class Mono:
    def __init__(self) -> None:
        self.t = 0

    def now_ns(self) -> int:
        return 1_700_000_000_000_000_000 + self.t

    def monotonic_ns(self) -> int:
        return self.t


def rig(refusals: int, min_refresh_s: float = 60.0) -> tuple[TradingEngine, Hands, ChangedFilters, FilterRetry, Mono]:
    clock = SimClock(0)
    instruments = {IID: OLD}
    eng = TradingEngine(clock, instruments, Portfolio(instruments, {"USDT": Decimal(100_000)}), PassThroughRisk())
    hands = eng.add_strategy(Hands, StrategyConfig(), "s", (IID,))
    client = ChangedFilters(refusals)
    venue = BarVenue("SIM", instruments, {"USDT": Decimal(100_000)}, clock, eng.on_venue_event)
    client.bind(venue)
    oms = OrderManager(client, MemoryJournal(), clock, OmsConfig(caller_ids=True))
    eng.add_venue("SIM", venue, free_balance=venue.free_balance, oms=oms)
    mono = Mono()
    alerts: list[str] = []
    retry = FilterRetry(eng, client, instruments, mono.monotonic_ns, lambda *a: alerts.append(a[2]), min_refresh_s)
    retry.alerts = alerts  # type: ignore[attr-defined]
    eng.reject_listener = retry.on_reject
    eng.start()
    clock.advance_to(BAR_NS)
    eng.on_bar(Bar(IID, 0, BAR_NS, 100.0, 101.0, 99.0, 100.0, 10.0))
    return eng, hands, client, retry, mono  # type: ignore[return-value]


def bar(eng: TradingEngine, i: int) -> None:
    assert isinstance(eng.clock, SimClock)
    eng.clock.advance_to((i + 1) * BAR_NS)
    eng.on_bar(Bar(IID, i * BAR_NS, (i + 1) * BAR_NS, 100.0, 101.0, 99.0, 100.0, 10.0))


def test_filter_failure_when_refused_once_then_refreshed_rerounded_down_and_retried_once_for_the_same_strategy() -> (
    None
):
    eng, hands, client, retry, _ = rig(refusals=1)
    cid = hands.ctx.submit(IID, "BUY", Decimal("0.129"), type="LIMIT", price=Decimal("100.9"))
    rejected = [e for e in hands.events if isinstance(e, OrderRejected)]
    assert rejected and "-1013" in rejected[0].reason and "retries once" in rejected[0].reason
    assert client.loads == 0  # nothing inside the order manager's callback
    retry.drain()
    assert client.loads == 1 and eng.instruments[IID] is NEW
    again = client.sent[-1]
    assert again.client_order_id == "s-2" and again.strategy_id == "s" and again.client_order_id != cid
    assert again.quantity == Decimal("0.12") and again.price == Decimal("100")  # step down; a buy's price down
    bar(eng, 1)
    assert eng.order_status("s-2") is OrderStatus.FILLED and [f.quantity for f in hands.fills] == [Decimal("0.12")]
    assert any(e.kind == "ORDER_RESUBMITTED" for e in eng.events)


def test_filter_failure_when_retry_refused_again_then_alert_and_never_a_third_send() -> None:
    _eng, hands, client, retry, mono = rig(refusals=5)
    hands.ctx.submit(IID, "SELL", Decimal("0.2"))
    retry.drain()
    retry.drain()
    assert len(client.sent) == 2 and retry.retries == 1 and retry.gave_up == 1
    assert any("not retried" in a for a in retry.alerts)  # type: ignore[attr-defined]
    hands.ctx.submit(IID, "SELL", Decimal("0.2"))  # a new intent: its own single retry, no refresh within 60 s
    mono.t += 10 * 10**9
    retry.drain()
    retry.drain()
    assert len(client.sent) == 4 and client.loads == 1 and retry.gave_up == 2


def test_filter_failure_when_rerounded_market_order_below_min_notional_then_refused_locally() -> None:
    eng, hands, client, retry, _ = rig(refusals=1)
    eng._last_close[IID] = 100.0  # the reference price a risk engine that sees bars leaves here
    hands.ctx.submit(IID, "BUY", Decimal("0.049"))  # 0.04 after re-rounding: 4 USDT < 5
    retry.drain()
    assert len(client.sent) == 1
    denied = [e for e in hands.events if isinstance(e, OrderDenied)]
    assert denied and "below the minimum" in denied[0].reason and denied[0].client_order_id == "s-2"


def test_filter_failure_when_other_reject_code_then_no_retry() -> None:
    _eng, _hands, client, retry, _ = rig(refusals=0)
    assert retry.on_reject(Order.create(OLD, client_order_id="x", strategy_id="s", side="BUY", quantity="1"),
                           "-2010: insufficient balance") is None  # fmt: skip
    retry.drain()
    assert client.loads == 0


def test_denied_ids_when_more_than_kept_then_bounded_and_old_ids_raise_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "DENIED_KEPT", 3)
    eng, hands, *_ = rig(refusals=0)
    ids = [hands.ctx.submit(IID, "BUY", Decimal("-1")) for _ in range(5)]
    assert len(eng._denied) == 3 and eng.order_status(ids[-1]) is OrderStatus.DENIED
    with pytest.raises(KeyError, match="latest 3 only"):
        eng.order_status(ids[0])


def test_venue_limits_when_429_then_entries_denied_until_retry_after_and_no_pause() -> None:
    mono = Mono()
    gate = RequestGate(mono, 6000)
    node_gate = NodeGate(PassThroughRisk())
    paused: list[str] = []
    guard = VenueLimitGuard(
        gate, node_gate, monotonic_ns=mono.monotonic_ns, alert=lambda *a: None, pause=paused.append, heal=lambda: True
    )
    order = Order.create(OLD, client_order_id="b4-s-1", strategy_id="s", side="BUY", quantity="1")
    gate.observe(429, {"Retry-After": "2"})
    guard.tick()
    reason = node_gate.check(order)
    assert reason is not None and reason.startswith("VENUE_RATE_LIMITED") and not paused
    mono.t += 2_000_000_001
    guard.tick()
    assert node_gate.check(order) is None


def test_venue_limits_when_418_then_pause_alert_once_and_entries_wait_for_a_reconcile_after_the_ban() -> None:
    mono = Mono()
    gate = RequestGate(mono, 6000)
    node_gate = NodeGate(PassThroughRisk())
    paused: list[str] = []
    alerts: list[tuple[str, str, str]] = []
    heals = [False, True]
    guard = VenueLimitGuard(
        gate, node_gate, monotonic_ns=mono.monotonic_ns, alert=lambda *a: alerts.append(a), pause=paused.append,
        heal=lambda: heals.pop(0),
    )  # fmt: skip
    order = Order.create(OLD, client_order_id="b4-s-1", strategy_id="s", side="SELL", quantity="1", reduce_only=True)
    gate.observe(418, {"Retry-After": "120"})
    guard.tick()
    guard.tick()
    assert len(paused) == 1 and [a[0] for a in alerts] == ["VENUE_BANNED"] and guard.bans == 1
    assert (node_gate.check(order) or "").startswith("VENUE_BANNED")  # reduce-only too: nothing could leave
    mono.t += 120 * 10**9 + 1
    guard.tick()  # the first reconcile does not answer: still blocked
    assert node_gate.venue_ban is not None
    mono.t += 500_000_000
    guard.tick()  # one attempt per second at most
    assert node_gate.venue_ban is not None and heals == [True]
    mono.t += 600_000_000
    guard.tick()
    assert node_gate.venue_ban is None and guard.heals == 1 and node_gate.check(order) is None


def test_gate_resize_when_venue_publishes_smaller_budget_then_sheds_earlier() -> None:
    mono = Mono()
    gate = RequestGate(mono, 6000)
    gate.resize(600, 50)
    gate.observe(200, {"X-MBX-USED-WEIGHT-1M": "500"})
    with pytest.raises(Exception, match="of 600/min"):
        gate.admit("read", "GET /x")
    with pytest.raises(ValueError, match="capacity_weight_1m"):
        gate.resize(0)
