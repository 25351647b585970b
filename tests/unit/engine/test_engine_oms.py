"""The engine trades through the order manager: intents journaled first, fills booked once, the
order manager's status shown to strategies, and no trading while recovery has failed."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from bot4.data.book import Scale
from bot4.engine.clock import SimClock
from bot4.engine.engine import TradingEngine
from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import PassThroughRisk
from bot4.execution.bar_client import BarClient
from bot4.execution.errors import UnknownOutcomeError
from bot4.execution.matching_client import MatchingClient
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import ExecReport, OrderSnapshot
from bot4.model import Bar, Instrument, Order, OrderDenied, OrderEvent, OrderFilled, OrderStatus, TradeTick
from bot4.model.fill import Fill
from bot4.strategies.base import Strategy, StrategyConfig
from bot4.venues.sim.bar_venue import BarVenue
from bot4.venues.sim.matching import MatchingVenue

INST = Instrument.spot(
    "SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1", maker_fee="0.001", taker_fee="0.002"
)
IID = INST.id
D = Decimal
BAR_NS = 60_000_000_000


class BuyOnce(Strategy):
    """Sends one order on its first bar (or at start) and logs what it is told."""

    log: ClassVar[list[str]] = []
    order: ClassVar[dict[str, object]] = {"side": "BUY", "quantity": "1"}
    at_start: ClassVar[bool] = False

    def on_start(self) -> None:
        self.sent = False
        if BuyOnce.at_start:
            self._send()

    def on_bar(self, bar: Bar) -> None:
        if not self.sent:
            self._send()

    def _send(self) -> None:
        self.sent = True
        BuyOnce.log.append("sent " + self.ctx.submit(IID, **BuyOnce.order))  # type: ignore[arg-type]

    def on_order_update(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            BuyOnce.log.append(f"OrderFilled cum={event.cum_quantity} leaves={event.leaves_quantity}")
        elif isinstance(event, OrderDenied):
            BuyOnce.log.append(f"OrderDenied: {event.reason}")
        else:
            BuyOnce.log.append(type(event).__name__)

    def on_fill(self, fill: Fill) -> None:
        BuyOnce.log.append(f"fill {fill.quantity}@{fill.price}")


def _engine(clock: SimClock, usdt: str = "100000") -> TradingEngine:
    BuyOnce.log.clear()
    BuyOnce.order = {"side": "BUY", "quantity": "1"}
    BuyOnce.at_start = False
    eng = TradingEngine(clock, {IID: INST}, Portfolio({IID: INST}, {"USDT": D(usdt)}), PassThroughRisk())
    eng.add_strategy(BuyOnce, StrategyConfig(), "s", (IID,))
    return eng


def _bar_rig(
    client: BarClient, journal: MemoryJournal, usdt: str = "100000"
) -> tuple[TradingEngine, SimClock, BarVenue, list[object]]:
    """Engine -> order manager -> bar client -> bar venue; the venue's events are also copied to a list."""
    clock = SimClock(0)
    eng = _engine(clock, usdt)
    seen: list[object] = []

    def sink(event: object) -> None:
        seen.append(event)
        eng.on_venue_event(event)

    venue = BarVenue("SIM", {IID: INST}, {"USDT": D(usdt)}, clock, sink)
    client.bind(venue)
    oms = OrderManager(client, journal, clock, OmsConfig(caller_ids=True))
    eng.add_venue("SIM", venue, free_balance=venue.free_balance, oms=oms)
    return eng, clock, venue, seen


def _bars(eng: TradingEngine, clock: SimClock, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        clock.advance_to((i + 1) * BAR_NS)
        px = 100.0 + i
        eng.on_bar(Bar(IID, i * BAR_NS, (i + 1) * BAR_NS, px, px + 1, px - 1, px + 0.5, 10.0))


def test_submit_when_strategy_sends_order_then_intent_is_journaled_before_the_venue_sees_it() -> None:
    journal = MemoryJournal()
    journaled_at_send: list[bool] = []

    class Spy(BarClient):
        def submit(self, order: Order) -> list[ExecReport]:
            journaled_at_send.append(order.client_order_id in journal.orders)
            return super().submit(order)

    eng, clock, _venue, _ = _bar_rig(Spy("SIM"), journal)
    eng.start()
    _bars(eng, clock, 2)
    assert journaled_at_send == [True]
    assert journal.orders["s-1"].status.value == "FILLED"
    assert eng.order_status("s-1") is OrderStatus.FILLED
    assert BuyOnce.log == ["OrderAccepted", "sent s-1", "OrderFilled cum=1 leaves=0", "fill 1@101.0"]


def test_venue_event_when_the_same_fill_arrives_twice_then_portfolio_books_it_once() -> None:
    eng, clock, _venue, seen = _bar_rig(BarClient("SIM"), MemoryJournal())
    eng.start()
    _bars(eng, clock, 2)
    fills = [e for e in seen if isinstance(e, OrderFilled)]
    assert len(fills) == 1
    eng.on_venue_event(fills[0])  # the venue (or a reconnecting stream) repeats it
    _bars(eng, clock, 1, first=2)
    assert len(eng.portfolio.fills) == 1
    assert eng.portfolio.position("s", IID) == D(1)
    assert [x for x in BuyOnce.log if x.startswith("fill")] == ["fill 1@101.0"]
    assert eng.oms["SIM"].get("s-1").filled_qty == D(1)


def test_partial_fill_when_matching_venue_fills_in_two_trades_then_strategy_sees_partial_then_filled() -> None:
    clock = SimClock(1_000)
    eng = _engine(clock)
    BuyOnce.order = {"side": "BUY", "quantity": "2", "type": "LIMIT", "price": "100"}
    BuyOnce.at_start = True
    client = MatchingClient("SIM")
    venue = MatchingVenue("SIM", {IID: INST}, {"USDT": D(100_000), "BTC": D(0)}, clock, eng.on_venue_event)
    client.bind(venue)
    scale = Scale(INST.tick_size, INST.step_size)
    venue.load_book(IID, [(scale.ticks("99"), scale.lots("5"))], [(scale.ticks("101"), scale.lots("5"))])
    eng.add_venue("SIM", venue, oms=OrderManager(client, MemoryJournal(), clock, OmsConfig(caller_ids=True)))
    eng.start()
    assert eng.order_status("s-1") is OrderStatus.ACCEPTED

    venue.on_trade(TradeTick(IID, clock.now_ns(), 100.0, 1.0, "SELL", "t1"))
    assert eng.order_status("s-1") is OrderStatus.PARTIALLY_FILLED
    assert [o.client_order_id for o in eng.open_orders_of("s")] == ["s-1"]
    venue.on_trade(TradeTick(IID, clock.now_ns(), 100.0, 1.0, "SELL", "t2"))
    assert eng.order_status("s-1") is OrderStatus.FILLED
    assert BuyOnce.log == [
        "OrderAccepted",
        "sent s-1",
        "OrderFilled cum=1.000 leaves=1.000",
        "fill 1.000@100.0",
        "OrderFilled cum=2.000 leaves=0",
        "fill 1.000@100.0",
    ]
    assert eng.open_orders_of("s") == []
    assert eng.portfolio.position("s", IID) == D(2)


def test_start_when_recovery_fails_then_orders_are_denied_with_the_reason_and_nothing_is_sent() -> None:
    class Unreachable(BarClient):
        def open_orders(self) -> list[OrderSnapshot]:
            raise UnknownOutcomeError("GET /openOrders timed out")

    eng, clock, venue, _ = _bar_rig(Unreachable("SIM"), MemoryJournal())
    eng.start()
    _bars(eng, clock, 2)
    failed = [e for e in eng.events if e.kind == "RECOVERY_FAILED"]
    assert len(failed) == 1 and "GET /openOrders timed out" in failed[0].message
    denied = [x for x in BuyOnce.log if x.startswith("OrderDenied")]
    assert len(denied) == 1 and "venue not reconciled" in denied[0]
    assert [e.kind for e in eng.events].count("ORDER_DENIED") == 1
    assert venue.status == {} and eng.portfolio.fills == []


def test_bar_when_a_contingent_stop_is_crossed_then_the_engine_drives_it_and_books_the_exit() -> None:
    from bot4.execution.contingent import ContingentManager

    eng, clock, _venue, _ = _bar_rig(BarClient("SIM"), MemoryJournal())
    eng.start()
    cm = ContingentManager(eng.oms["SIM"])
    eng.add_contingent(cm)
    cm.bracket(INST, "BUY", "1", stop_loss="99")  # market entry, local stop
    _bars(eng, clock, 1)  # the entry fills at 100.0; the close (100.5) is above the stop
    assert eng.portfolio.position("contingent", IID) == D(1) and cm.notes == []
    clock.advance_to(2 * BAR_NS)
    eng.on_bar(Bar(IID, BAR_NS, 2 * BAR_NS, 100.0, 100.0, 97.5, 98.0, 10.0))
    assert cm.notes and "stop 99 hit" in cm.notes[0]
    clock.advance_to(3 * BAR_NS)
    eng.on_bar(Bar(IID, 2 * BAR_NS, 3 * BAR_NS, 98.0, 98.5, 97.0, 97.5, 10.0))
    assert eng.portfolio.position("contingent", IID) == D(0)
    assert [e.kind for e in eng.events] == ["UNOWNED_FILL", "UNOWNED_FILL"]


def test_cancel_when_the_venue_answer_is_lost_then_the_clock_loop_polls_and_the_strategy_sees_canceled() -> None:
    class LostCancelAnswer(BarClient):
        def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
            super().cancel(client_order_id, instrument_id)  # the venue cancels; its answer never arrives
            raise UnknownOutcomeError("POST /order DELETE timed out")

    eng, clock, _venue, _ = _bar_rig(LostCancelAnswer("SIM"), MemoryJournal())
    BuyOnce.order = {"side": "BUY", "quantity": "1", "type": "LIMIT", "price": "50"}
    eng.start()
    _bars(eng, clock, 1)
    eng.strategies[0].ctx.cancel("s-1")
    assert eng.order_status("s-1") is OrderStatus.PENDING_CANCEL
    assert "OrderCanceled" not in BuyOnce.log
    _bars(eng, clock, 1, first=1)  # a minute later: past the in-flight timeout, the bar loop polls
    assert eng.order_status("s-1") is OrderStatus.CANCELED
    assert BuyOnce.log[-1] == "OrderCanceled" and eng.open_orders() == []


def test_fill_when_bar_venue_refuses_an_accepted_order_then_strategy_sees_order_rejected_with_reason() -> None:
    eng, clock, _venue, _ = _bar_rig(BarClient("SIM"), MemoryJournal(), usdt="50")
    eng.start()
    _bars(eng, clock, 2)  # the market buy is accepted, then refused at the next open (100 > 50 USDT)
    assert BuyOnce.log == ["OrderAccepted", "sent s-1", "OrderRejected"]
    rejected = [e for e in eng.events if e.kind == "ORDER_REJECTED"]
    assert len(rejected) == 1 and rejected[0].message.startswith("s-1 SIM:BTC/USDT: insufficient balance")
    assert eng.order_status("s-1") is OrderStatus.REJECTED and eng.portfolio.fills == []
