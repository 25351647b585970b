"""The event-driven core shared by backtest, paper and live: strategies -> risk -> venue -> portfolio.

Market data comes in through ``on_bar`` (and later ticks/quotes); orders go out through the risk hook
to the venue; venue events come back through ``on_venue_event`` and are applied to the portfolio and
routed to the strategy that owns the order. A strategy that raises is stopped and reported; the run
goes on for the others. Nothing here knows whether it is a backtest.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import RiskHook
from bot4.indicators.base import Indicator
from bot4.model.enums import OrderStatus
from bot4.model.errors import DomainError
from bot4.model.events import (
    Bar,
    CancelRejected,
    FundingPaid,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    StrategyError,
    TradeTick,
)
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO, to_decimal
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID, Clock, Venue
from bot4.research.results import RunEvent
from bot4.strategies.base import Strategy, StrategyConfig

_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.REJECTED,
            OrderStatus.FILLED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.ACCEPTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PENDING_CANCEL: frozenset(
        {OrderStatus.CANCELED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.EXPIRED}
    ),
}


def _safe_id(text: str) -> str:
    """Keep client order ids within what exchanges accept ([A-Za-z0-9_-])."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in text)


class _Runtime:
    """One strategy instance and what the engine tracks for it."""

    __slots__ = ("active", "ctx", "sid", "strategy", "subs")

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.active = True
        self.strategy: Strategy
        self.ctx: _Context
        self.subs: dict[str, _Subscription] = {}


class _Subscription:
    """What the engine does for one strategy on each bar of one instrument, prepared once."""

    __slots__ = ("cold", "on_bar", "on_close", "rt", "whole_bar")

    def __init__(self, rt: _Runtime) -> None:
        self.rt = rt
        self.on_close: list[Callable[[float], float]] = []  # indicators fed the close
        self.whole_bar: list[Callable[..., float]] = []  # indicators fed open, high, low, close, volume
        self.cold: list[Indicator] = []  # registered indicators not warmed up yet
        self.on_bar: Callable[[Bar], None] = rt.strategy.on_bar


class _Context:
    """A strategy's view of the engine (implements ``StrategyContext``)."""

    def __init__(self, engine: TradingEngine, rt: _Runtime, instrument_ids: tuple[str, ...]) -> None:
        self._engine = engine
        self._rt = rt
        self._instrument_ids = instrument_ids
        self._seq = 0
        self._prefix = _safe_id(rt.sid)

    @property
    def strategy_id(self) -> str:
        return self._rt.sid

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        return self._instrument_ids

    def now_ns(self) -> int:
        return self._engine.clock.now_ns()

    def instrument(self, instrument_id: str) -> Instrument:
        inst = self._engine.instruments.get(instrument_id)
        if inst is None:
            raise KeyError(f"unknown instrument {instrument_id!r}; known: {sorted(self._engine.instruments)}")
        return inst

    def register_indicator(self, instrument_id: str, indicator: Any) -> Any:
        self.instrument(instrument_id)
        sub = self._rt.subs.get(instrument_id)
        if sub is None:
            raise KeyError(f"strategy {self._rt.sid} does not trade {instrument_id}; it trades {self._instrument_ids}")
        if tuple(indicator.inputs) == ("close",):
            sub.on_close.append(indicator.update)
        else:
            sub.whole_bar.append(indicator.update_bar)
        if not indicator.ready:
            sub.cold.append(indicator)
        return indicator

    def submit(
        self,
        instrument_id: str,
        side: str,
        quantity: object = None,
        *,
        type: str = "MARKET",
        price: object = None,
        trigger_price: object = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        quote_quantity: object = None,
    ) -> str:
        self._seq += 1
        cid = f"{self._prefix}-{self._seq}"
        self._engine.submit_from_strategy(
            self._rt,
            cid,
            instrument_id,
            dict(
                side=side,
                type=type,
                quantity=quantity,
                price=price,
                trigger_price=trigger_price,
                time_in_force=time_in_force,
                post_only=post_only,
                reduce_only=reduce_only,
                quote_quantity=quote_quantity,
            ),
        )
        return cid

    def cancel(self, client_order_id: str) -> None:
        self._engine.cancel_from_strategy(self._rt, client_order_id)

    def position(self, instrument_id: str) -> Decimal:
        return self._engine.portfolio.position(self._rt.sid, instrument_id)

    def balance(self, currency: str) -> Decimal:
        return self._engine.portfolio.balance(currency)

    def free_balance(self, currency: str) -> Decimal:
        return self._engine.free_balance(currency)

    def open_orders(self, instrument_id: str | None = None) -> tuple[Order, ...]:
        return tuple(
            o
            for o in self._engine.open_orders_of(self._rt.sid)
            if instrument_id is None or o.instrument_id == instrument_id
        )


class TradingEngine:
    """Wires strategies, the risk hook, venues and the portfolio together."""

    def __init__(
        self,
        clock: Clock,
        instruments: dict[str, Instrument],
        portfolio: Portfolio,
        risk: RiskHook,
    ) -> None:
        self.clock = clock
        self.instruments = instruments
        self.portfolio = portfolio
        self.risk = risk
        self.venues: dict[str, Venue] = {}
        self._venue_of: dict[str, Venue] = {}
        self._runtimes: list[_Runtime] = []
        self._subs: dict[str, list[_Subscription]] = {iid: [] for iid in instruments}
        self._owner: dict[str, _Runtime] = {}
        self.orders: dict[str, Order] = {}
        self.status: dict[str, OrderStatus] = {}
        self.events: list[RunEvent] = []
        self.strategy_errors: list[StrategyError] = []
        self._free_balance: Callable[[str], Decimal] | None = None
        self._last_close: dict[str, float] = {}
        self._risk_sees_bars = bool(getattr(risk, "wants_market_data", False))
        self._system_seq = 0
        self._system = _Runtime(SYSTEM_STRATEGY_ID)
        self._system.strategy = Strategy(StrategyConfig(), None)  # type: ignore[arg-type]
        self._system.ctx = _Context(self, self._system, tuple(instruments))
        risk.bind(self)

    # -- composition ---------------------------------------------------------------------------------

    def add_venue(self, name: str, venue: Venue, free_balance: Callable[[str], Decimal] | None = None) -> None:
        self.venues[name] = venue
        for iid, inst in self.instruments.items():
            if inst.venue == name:
                self._venue_of[iid] = venue
        if free_balance is not None:
            self._free_balance = free_balance

    def add_strategy(
        self, cls: type[Strategy], config: StrategyConfig, strategy_id: str, instrument_ids: tuple[str, ...]
    ) -> Strategy:
        if any(rt.sid == strategy_id for rt in self._runtimes):
            raise ValueError(f"strategy id {strategy_id!r} is used twice; give each strategy its own id")
        for iid in instrument_ids:
            if iid not in self.instruments:
                raise ValueError(
                    f"strategy {strategy_id}: unknown instrument {iid!r}; known: {sorted(self.instruments)}"
                )
        rt = _Runtime(strategy_id)
        rt.ctx = _Context(self, rt, instrument_ids)
        rt.strategy = cls(config, rt.ctx)
        self._runtimes.append(rt)
        for iid in instrument_ids:
            sub = rt.subs[iid] = _Subscription(rt)
            self._subs[iid].append(sub)
        return rt.strategy

    @property
    def strategies(self) -> list[Strategy]:
        return [rt.strategy for rt in self._runtimes]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        for rt in self._runtimes:
            self._call(rt, "on_start", rt.strategy.on_start)

    def stop(self) -> None:
        for rt in self._runtimes:
            if rt.active:
                self._call(rt, "on_stop", rt.strategy.on_stop)

    # -- market data ---------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """A bar closed: match working orders first, then update indicators, then strategies."""
        iid = bar[0]
        venue = self._venue_of[iid]
        if venue.has_working:  # type: ignore[attr-defined]
            venue.on_bar(bar)  # type: ignore[attr-defined]
        if self._risk_sees_bars:
            self._last_close[iid] = bar[6]
            self.risk.on_bar(bar)
        for sub in self._subs[iid]:
            if not sub.rt.active:
                continue
            close = bar[6]
            for upd in sub.on_close:
                upd(close)
            for upd_bar in sub.whole_bar:
                upd_bar(bar[3], bar[4], bar[5], close, bar[7])
            cold = sub.cold
            if cold:
                cold[:] = [ind for ind in cold if not ind.ready]
                if cold:
                    continue
            try:
                sub.on_bar(bar)
            except Exception as exc:
                self._stop_strategy(sub.rt, "on_bar", exc)

    def on_trade(self, tick: TradeTick) -> None:
        """A public trade printed: strategies trading the instrument see it (no indicator feeding)."""
        for sub in self._subs[tick.instrument_id]:
            if sub.rt.active:
                try:
                    sub.rt.strategy.on_trade(tick)
                except Exception as exc:
                    self._stop_strategy(sub.rt, "on_trade", exc)

    def on_quote(self, quote: QuoteTick) -> None:
        """The top of book changed: the risk engine and the strategies trading the instrument see it."""
        self.risk.on_quote(quote)
        for sub in self._subs[quote.instrument_id]:
            if sub.rt.active:
                try:
                    sub.rt.strategy.on_quote(quote)
                except Exception as exc:
                    self._stop_strategy(sub.rt, "on_quote", exc)

    # -- orders from strategies -----------------------------------------------------------------------

    def submit_from_strategy(self, rt: _Runtime, cid: str, instrument_id: str, fields: dict[str, Any]) -> None:
        self._send(rt, cid, instrument_id, fields, system=False)

    def _send(self, rt: _Runtime, cid: str, instrument_id: str, fields: dict[str, Any], *, system: bool) -> None:
        """Validate, risk-check and send one order; every refusal becomes an OrderDenied event."""
        now = self.clock.now_ns()
        if not rt.active and not system:
            self._deny(rt, cid, instrument_id, now, "strategy is stopped")
            return
        inst = self.instruments.get(instrument_id)
        if inst is None:
            self._deny(rt, cid, instrument_id, now, f"unknown instrument {instrument_id!r}")
            return
        try:
            order = Order.create(inst, client_order_id=cid, strategy_id=rt.sid, ts_init=now, **fields)
        except DomainError as exc:
            self._deny(rt, cid, instrument_id, now, f"invalid order: {exc}")
            return
        reason = self.risk.check(order)
        if reason is not None:
            self._deny(rt, cid, instrument_id, now, reason)
            return
        self.orders[cid] = order
        self.status[cid] = OrderStatus.SUBMITTED
        self._owner[cid] = rt
        self._venue_of[instrument_id].submit(order)

    def cancel_from_strategy(self, rt: _Runtime, cid: str) -> None:
        order = self.orders.get(cid)
        if order is None or self._owner.get(cid) is not rt:
            self._record(self.clock.now_ns(), "CANCEL_REJECTED", rt.sid, f"no order {cid} of this strategy")
            return
        if self.status[cid].is_terminal:
            return
        self._venue_of[order.instrument_id].cancel(cid)

    def _deny(self, rt: _Runtime, cid: str, iid: str, now: int, reason: str) -> None:
        self.status[cid] = OrderStatus.DENIED
        self._record(now, "ORDER_DENIED", rt.sid, f"{cid} {iid}: {reason}")
        self._notify(rt, OrderDenied(cid, rt.sid, iid, now, reason))

    # -- venue events -------------------------------------------------------------------------------

    def on_venue_event(self, event: object) -> None:
        if isinstance(event, FundingPaid):
            self.portfolio.apply_funding(event, self.clock.now_ns())
            self._record(
                event.ts_event, "FUNDING", "venue", f"{event.instrument_id} paid {event.amount} {event.currency}"
            )
            return
        if not isinstance(event, OrderEvent):
            raise TypeError(f"unexpected venue event {event!r}")
        cid = event.client_order_id
        rt = self._owner.get(cid)
        if rt is None:
            self._record(event.ts_event, "UNKNOWN_ORDER_EVENT", "venue", repr(event))
            return
        self.risk.on_order_event(event)
        new = _status_of(event)
        old = self.status.get(cid, OrderStatus.SUBMITTED)
        if new is None:  # informational (a stop triggered, a cancel refused): no state change
            if isinstance(event, CancelRejected):
                self._record(event.ts_event, "CANCEL_REJECTED", rt.sid, f"{cid}: {event.reason} ({event.code})")
            self._notify(rt, event)
            return
        if old.is_terminal:
            self._record(event.ts_event, "LATE_EVENT_IGNORED", rt.sid, f"{cid} is {old.value}: {type(event).__name__}")
            return
        if new is not old and new not in _TRANSITIONS.get(old, frozenset()):
            self._record(event.ts_event, "ILLEGAL_TRANSITION", rt.sid, f"{cid}: {old.value} -> {new.value}")
            return
        self.status[cid] = new
        if isinstance(event, OrderFilled):
            self.portfolio.apply_fill(event.fill, self.clock.now_ns())
            self.risk.on_fill(event.fill)
        elif isinstance(event, OrderRejected):
            self._record(event.ts_event, "ORDER_REJECTED", rt.sid, f"{cid} {event.instrument_id}: {event.reason}")
        self._notify(rt, event)
        if isinstance(event, OrderFilled) and rt.active:
            try:
                rt.strategy.on_fill(event.fill)
            except Exception as exc:
                self._stop_strategy(rt, "on_fill", exc)

    # -- ExecutionControl: what the risk engine may do ---------------------------------------------------

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def cancel_all(self, reason: str) -> int:
        sent = 0
        for cid, order in list(self.orders.items()):
            if self.status[cid].is_open:
                self._record(self.clock.now_ns(), "CANCEL_ALL", "risk", f"{cid}: {reason}")
                self._venue_of[order.instrument_id].cancel(cid)
                sent += 1
        return sent

    def flatten_all(self, reason: str) -> int:
        """Close every strategy's position with a reduce-only market order booked to that strategy.

        Sent even for stopped strategies: flattening must not depend on the strategy being healthy.
        """
        runtimes = {rt.sid: rt for rt in self._runtimes}
        sent = 0
        for sid, iid, qty in self.portfolio.strategy_positions():
            rt = runtimes.get(sid, self._system)
            side = "SELL" if qty > 0 else "BUY"
            self._system_seq += 1
            cid = f"{SYSTEM_STRATEGY_ID}-{self._system_seq}"
            self._record(self.clock.now_ns(), "FLATTEN", "risk", f"{cid} {sid} {iid} {side} {abs(qty)}: {reason}")
            fields = {"side": side, "quantity": abs(qty), "reduce_only": True}
            self._send(rt, cid, iid, fields, system=True)
            sent += 1
        return sent

    def reduce_positions(self, fraction: Decimal | float, reason: str) -> int:
        """Close ``fraction`` of every strategy's position (rounded down to the step) with reduce-only orders."""
        frac = to_decimal(fraction, "fraction")
        if not 0 < frac <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        runtimes = {rt.sid: rt for rt in self._runtimes}
        sent = 0
        for sid, iid, qty in self.portfolio.strategy_positions():
            part = self.instruments[iid].make_quantity(abs(qty) * frac)
            if part <= 0:
                continue
            side = "SELL" if qty > 0 else "BUY"
            self._system_seq += 1
            cid = f"{SYSTEM_STRATEGY_ID}-{self._system_seq}"
            self._record(self.clock.now_ns(), "REDUCE", "risk", f"{cid} {sid} {iid} {side} {part}: {reason}")
            self._send(
                runtimes.get(sid, self._system),
                cid,
                iid,
                {"side": side, "quantity": part, "reduce_only": True},
                system=True,
            )
            sent += 1
        return sent

    def net_positions(self) -> dict[str, Decimal]:
        return self.portfolio.open_positions()

    def cash(self) -> dict[str, Decimal]:
        return dict(self.portfolio.cash)

    def open_orders(self) -> list[Order]:
        return [o for cid, o in self.orders.items() if self.status[cid].is_open]

    def last_price(self, instrument_id: str) -> float | None:
        return self._last_close.get(instrument_id)

    def open_orders_of(self, sid: str) -> list[Order]:
        return [o for cid, o in self.orders.items() if o.strategy_id == sid and self.status[cid].is_open]

    def free_balance(self, currency: str) -> Decimal:
        if self._free_balance is None:
            return self.portfolio.cash.get(currency, ZERO)
        return self._free_balance(currency)

    # -- helpers -------------------------------------------------------------------------------------

    def _notify(self, rt: _Runtime, event: OrderEvent) -> None:
        if rt.active:
            try:
                rt.strategy.on_order_update(event)
            except Exception as exc:
                self._stop_strategy(rt, "on_order_update", exc)

    def _call(self, rt: _Runtime, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            self._stop_strategy(rt, name, exc)

    def _stop_strategy(self, rt: _Runtime, callback: str, exc: BaseException) -> None:
        """Stop a strategy that raised: record why, cancel its working orders, call its on_stop once."""
        if not rt.active:
            return
        rt.active = False
        now = self.clock.now_ns()
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
        text = f"{type(exc).__name__}: {exc}{at}"
        self.strategy_errors.append(StrategyError(rt.sid, now, callback, text))
        self._record(now, "STRATEGY_ERROR", rt.sid, f"stopped after {callback} raised {text}")
        for order in self.open_orders_of(rt.sid):
            self._venue_of[order.instrument_id].cancel(order.client_order_id)
        if callback != "on_stop":
            try:
                rt.strategy.on_stop()
            except Exception as stop_exc:
                self._record(
                    now, "STRATEGY_ERROR", rt.sid, f"on_stop also raised {type(stop_exc).__name__}: {stop_exc}"
                )

    def _record(self, ts: int, kind: str, source: str, message: str) -> None:
        self.events.append(RunEvent(ts, kind, source, message))


def _status_of(event: OrderEvent) -> OrderStatus | None:
    if isinstance(event, OrderFilled):
        return OrderStatus.FILLED if event.leaves_quantity == 0 else OrderStatus.PARTIALLY_FILLED
    if isinstance(event, OrderAccepted):
        return OrderStatus.ACCEPTED
    if isinstance(event, OrderRejected):
        return OrderStatus.REJECTED
    if isinstance(event, OrderCanceled):
        return OrderStatus.CANCELED
    if isinstance(event, OrderExpired):
        return OrderStatus.EXPIRED
    return None
