"""The engine's contracts: refusals are events, a raising strategy stops alone, warm-up, several
strategies and instruments, determinism."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from bot4.engine.config import BacktestConfig, DataFeedConfig, StrategyEntry
from bot4.engine.kernel import build_backtest
from bot4.engine.risk_hook import PassThroughRisk, RiskHook
from bot4.indicators.overlap import SMA
from bot4.model import Bar, Order, OrderDenied, OrderEvent, OrderFilled
from bot4.model.fill import Fill
from bot4.strategies.base import Strategy, StrategyConfig
from tests.builders import make_feed

RISING = [(100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i) for i in range(20)]


class Recorder(Strategy):
    """Buys once on the first bar it sees and records every callback."""

    name = "recorder"
    seen: ClassVar[dict[str, list[str]]] = {}

    class Config(StrategyConfig):
        qty: str = "1"
        boom_at: int = Field(-1, description="raise in on_bar at this bar count")

    def on_start(self) -> None:
        self.log = Recorder.seen.setdefault(self.ctx.strategy_id, [])
        self.n = 0
        self.bought: set[str] = set()

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        self.log.append(f"bar {bar.close}")
        assert isinstance(self.config, Recorder.Config)
        if self.n == self.config.boom_at:
            raise ZeroDivisionError("boom")
        if bar.instrument_id not in self.bought:
            self.bought.add(bar.instrument_id)
            self.ctx.submit(bar.instrument_id, "BUY", self.config.qty)

    def on_order_update(self, event: OrderEvent) -> None:
        self.log.append(type(event).__name__ + (f": {event.reason}" if isinstance(event, OrderDenied) else ""))

    def on_fill(self, fill: Fill) -> None:
        self.log.append(f"fill {fill.quantity}@{fill.price}")

    def on_stop(self) -> None:
        self.log.append("stop")


def _run(entries: list[StrategyEntry], feeds: list[object] | None = None, risk: RiskHook | None = None):  # type: ignore[no-untyped-def]
    Recorder.seen.clear()
    feeds = feeds or [make_feed(RISING)]
    cfg = BacktestConfig(data=[DataFeedConfig(symbol="BTC/USDT")], strategies=entries, cash=Decimal(100_000))
    runner = build_backtest(cfg, feeds=feeds, risk=risk, strategy_classes={"recorder": Recorder})  # type: ignore[arg-type]
    return runner.run()


def test_run_when_a_strategy_raises_then_it_alone_is_stopped_and_reported() -> None:
    result = _run(
        [StrategyEntry(name="recorder", id="bad", params={"boom_at": 3}), StrategyEntry(name="recorder", id="good")]
    )
    bad, good = Recorder.seen["bad"], Recorder.seen["good"]
    assert bad[-1] == "stop" and sum(x.startswith("bar") for x in bad) == 3
    assert sum(x.startswith("bar") for x in good) == len(RISING) and good[-1] == "stop"
    errors = [e for e in result.events if e.kind == "STRATEGY_ERROR"]
    assert len(errors) == 1 and errors[0].source == "bad"
    assert "ZeroDivisionError: boom" in errors[0].message and "on_bar" in errors[0].message


def test_submit_when_order_invalid_then_denied_event_with_reason_and_nothing_sent() -> None:
    result = _run([StrategyEntry(name="recorder", params={"qty": "0.0001"})])  # below the 0.001 step
    log = Recorder.seen["recorder"]
    assert any(x.startswith("OrderDenied: invalid order: quantity: is not a multiple of the step size") for x in log)
    assert result.fills == ()
    assert [e.kind for e in result.events] == ["ORDER_DENIED"]


def test_submit_when_risk_hook_denies_then_strategy_sees_reason_and_venue_nothing() -> None:
    class DenyAll(PassThroughRisk):
        def check(self, order: Order) -> str | None:
            return f"max order notional exceeded for {order.client_order_id}"

    result = _run([StrategyEntry(name="recorder")], risk=DenyAll())
    assert "OrderDenied: max order notional exceeded for recorder-1" in Recorder.seen["recorder"]
    assert result.fills == ()


def test_fill_when_order_fills_then_strategy_sees_accept_fill_and_position() -> None:
    result = _run([StrategyEntry(name="recorder")])
    log = Recorder.seen["recorder"]
    assert log[:3] == ["bar 100.5", "OrderAccepted", "OrderFilled"]
    assert log[3] == "fill 1@101.00"  # the next bar's open, on the 0.01 tick
    assert result.open_positions == {"SIM:BTC/USDT": Decimal(1)}
    assert result.final_equity == Decimal(100_000) - Decimal(101) - Decimal("0.202") + Decimal("119.5")


class WarmUp(Strategy):
    name = "warm"
    calls: ClassVar[list[float]] = []

    def on_start(self) -> None:
        self.sma = self.ctx.register_indicator(self.ctx.instrument_ids[0], SMA(5))

    def on_bar(self, bar: Bar) -> None:
        WarmUp.calls.append(self.sma.value)


def test_on_bar_when_indicator_registered_then_first_call_only_after_warm_up() -> None:
    WarmUp.calls.clear()
    cfg = BacktestConfig(data=[DataFeedConfig()], strategies=[StrategyEntry(name="warm")])
    build_backtest(cfg, feeds=[make_feed(RISING)], strategy_classes={"warm": WarmUp}).run()  # type: ignore[arg-type]
    assert len(WarmUp.calls) == len(RISING) - 4
    assert WarmUp.calls[0] == sum(c for *_, c in RISING[:5]) / 5


def test_run_when_several_strategies_and_instruments_then_each_trades_its_own() -> None:
    eth = make_feed([(10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i) for i in range(20)], symbol="ETH/USDT")
    result = _run(
        [
            StrategyEntry(name="recorder", id="a", instruments=["BTC/USDT"]),
            StrategyEntry(name="recorder", id="b", instruments=["ETH/USDT", "BTC/USDT"]),
        ],
        feeds=[make_feed(RISING), eth],
    )
    by = {(f.strategy_id, f.instrument_id) for f in result.fills}
    assert by == {("a", "SIM:BTC/USDT"), ("b", "SIM:ETH/USDT"), ("b", "SIM:BTC/USDT")}
    assert len(result.equity) == len(RISING)


def test_run_when_repeated_then_identical_trades_equity_and_events() -> None:
    entries = [StrategyEntry(name="ema_cross", params={"fast": 3, "slow": 7})]
    wave = [(100 + 10 * ((i // 6) % 2) + i % 3, 112.0 + i % 3, 98.0, 100 + 10 * ((i // 6) % 2)) for i in range(120)]
    a = _run(entries, feeds=[make_feed(wave)])
    b = _run(entries, feeds=[make_feed(wave)])
    assert a.trades and a.trades == b.trades and a.fills == b.fills
    assert a.equity.tobytes() == b.equity.tobytes() and a.final_equity == b.final_equity
    assert a.events == b.events


def test_filled_event_when_terminal_then_late_events_ignored_and_recorded() -> None:
    from bot4.engine.clock import SimClock
    from bot4.engine.engine import TradingEngine
    from bot4.engine.kernel import backtest_oms
    from bot4.engine.portfolio import Portfolio
    from bot4.engine.risk_hook import PassThroughRisk
    from bot4.model import OrderCanceled, OrderStatus
    from bot4.venues.sim.bar_venue import BarVenue
    from tests.builders import make_instrument

    inst = make_instrument()
    clock = SimClock(0)
    eng = TradingEngine(clock, {inst.id: inst}, Portfolio({inst.id: inst}, {"USDT": Decimal(1000)}), PassThroughRisk())
    rt_strategy = eng.add_strategy(Recorder, Recorder.Config(), "r", (inst.id,))
    assert rt_strategy is not None
    # r-1 reaches FILLED the real way (through the order manager), then the venue sends a late cancel
    venue = BarVenue(inst.venue, {inst.id: inst}, {"USDT": Decimal(1000)}, clock, eng.on_venue_event)
    eng.add_venue(inst.venue, venue, oms=backtest_oms(venue, clock))
    eng.start()
    for i, (o, h, lo, c) in enumerate(RISING[:2]):
        clock.advance_to((i + 1) * 60)
        eng.on_bar(Bar(inst.id, i * 60, (i + 1) * 60, o, h, lo, c, 1.0))
    assert eng.order_status("r-1") is OrderStatus.FILLED
    eng.on_venue_event(OrderCanceled("r-1", "r", inst.id, 5, "late"))
    assert eng.events[-1].kind == "LATE_EVENT_IGNORED"
    assert not isinstance(eng.events[-1], OrderFilled)


def test_on_trade_and_quote_when_strategy_raises_then_stopped_and_others_still_called() -> None:
    from bot4.engine.clock import SimClock
    from bot4.engine.engine import TradingEngine
    from bot4.engine.portfolio import Portfolio
    from bot4.model import QuoteTick, TradeTick
    from tests.builders import make_instrument

    seen: list[str] = []

    class Ticks(Strategy):
        def on_trade(self, tick: TradeTick) -> None:
            seen.append(f"{self.ctx.strategy_id} trade {tick.price}")
            if self.ctx.strategy_id == "bad":
                raise RuntimeError("bad tick handler")

        def on_quote(self, quote: QuoteTick) -> None:
            seen.append(f"{self.ctx.strategy_id} quote {quote.bid}/{quote.ask}")

    inst = make_instrument()
    eng = TradingEngine(SimClock(0), {inst.id: inst}, Portfolio({inst.id: inst}, {}), PassThroughRisk())
    eng.add_strategy(Ticks, StrategyConfig(), "bad", (inst.id,))
    eng.add_strategy(Ticks, StrategyConfig(), "good", (inst.id,))
    eng.on_trade(TradeTick(inst.id, 1, 100.0, 0.5, "BUY", "t1"))
    eng.on_quote(QuoteTick(inst.id, 2, 99.5, 1.0, 100.5, 2.0))
    assert seen == ["bad trade 100.0", "good trade 100.0", "good quote 99.5/100.5"]
    assert [e.kind for e in eng.events] == ["STRATEGY_ERROR"]


def test_cancel_all_and_flatten_all_when_called_then_no_orders_and_flat_after_next_bar() -> None:
    class Busy(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if not self.ctx.open_orders() and self.ctx.position(bar.instrument_id) == 0:
                self.ctx.submit(bar.instrument_id, "BUY", "2")
                for px in ("50", "51", "52"):
                    self.ctx.submit(bar.instrument_id, "BUY", "1", type="LIMIT", price=px)

    class Killer(PassThroughRisk):
        wants_market_data = True

        def bind(self, control) -> None:  # type: ignore[no-untyped-def]
            self.control = control
            self.bars = 0

        def on_bar(self, bar: Bar) -> None:
            self.bars += 1
            if self.bars == 3:
                self.cancelled = self.control.cancel_all("test")
                self.flattened = self.control.flatten_all("test")

        def check(self, order: Order) -> str | None:
            return None if self.bars < 3 or order.reduce_only else "emergency: only reduce-only orders"

    risk = Killer()
    cfg = BacktestConfig(data=[DataFeedConfig()], strategies=[StrategyEntry(name="busy")], cash=Decimal(100_000))
    result = build_backtest(cfg, feeds=[make_feed(RISING[:5])], risk=risk, strategy_classes={"busy": Busy}).run()  # type: ignore[arg-type]
    assert risk.cancelled == 3 and risk.flattened == 1
    assert result.open_positions == {}
    assert [f.side for f in result.fills] == ["BUY", "SELL"]  # the strategy's re-entry is denied
    assert result.fills[1].client_order_id == "risk-1" and result.fills[1].strategy_id == "busy"
    kinds = [e.kind for e in result.events]
    assert kinds.count("CANCEL_ALL") == 3 and "FLATTEN" in kinds and "ORDER_DENIED" in kinds
