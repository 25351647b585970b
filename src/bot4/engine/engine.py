"""The event-driven core shared by backtest, paper and live: strategies -> risk -> OMS -> venue -> portfolio.

Market data comes in through ``on_bar`` (and later ticks/quotes); orders go out through the risk hook
to each venue's ``OrderManager``, which journals the intent before the venue sees it, owns order status
and applies every fill exactly once. Venue events come in through ``on_venue_event`` and go to the order
manager's venue client; the engine listens to the order manager and rebuilds the model events for the
portfolio, the risk hook and the strategy that owns the order. A strategy that raises is stopped and
reported; the run goes on for the others. Nothing here knows whether it is a backtest.
"""

from __future__ import annotations

import traceback
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot4.engine.portfolio import Portfolio
from bot4.engine.risk_hook import RiskHook
from bot4.execution.bar_client import LATE_REJECT_PREFIX
from bot4.execution.contingent import ContingentManager
from bot4.execution.errors import TradingHalted
from bot4.execution.order_manager import OrderManager
from bot4.execution.records import OrderRecord
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus, to_order_status
from bot4.indicators.base import Indicator
from bot4.model.enums import OrderStatus, OrderType
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
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO, to_decimal
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID, Clock, Venue
from bot4.research.results import RunEvent
from bot4.strategies.base import Strategy, StrategyConfig


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
        # a live node prefixes strategy ids with its own (``b4-ema_cross-7``) so a restart knows them as ours;
        # the engine's own flattening ids stay ``risk-N`` (the risk engine recognises those)
        node = engine.id_prefix if rt.sid != SYSTEM_STRATEGY_ID else ""
        self._prefix = node + _safe_id(rt.sid)

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

    def _next(self) -> int:
        self._seq += 1
        return self._seq

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


DENIED_KEPT = 10_000  # denied client ids remembered for order_status; a long run must not grow with them
RejectListener = Callable[[Order, str], str | None]
_STATUS_EVENTS = (OrderAccepted, OrderCanceled, OrderExpired, OrderFilled, OrderRejected)
_UNSETTLED = frozenset({OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT, OmsStatus.PENDING_CANCEL})


class TradingEngine:
    """Wires strategies, the risk hook, order managers, venues and the portfolio together."""

    def __init__(
        self,
        clock: Clock,
        instruments: dict[str, Instrument],
        portfolio: Portfolio,
        risk: RiskHook,
        *,
        id_prefix: str = "",
    ) -> None:
        self.clock = clock
        self.id_prefix = id_prefix  # put before every strategy's client order ids (live nodes: "<node>-")
        self.instruments = instruments
        self.portfolio = portfolio
        self.risk = risk
        self.venues: dict[str, Venue] = {}
        self.oms: dict[str, OrderManager] = {}  # venue name -> its order manager
        self._venue_of: dict[str, Venue] = {}
        self._oms_of: dict[str, OrderManager] = {}
        self._client_sink: dict[str, Callable[[object], None]] = {}
        self._contingents: list[ContingentManager] = []
        self._runtimes: list[_Runtime] = []
        self._subs: dict[str, list[_Subscription]] = {iid: [] for iid in instruments}
        self._owner: dict[str, _Runtime] = {}
        self.orders: dict[str, Order] = {}  # every order handed to an order manager, by client id
        self._denied: OrderedDict[str, None] = OrderedDict()  # the latest DENIED_KEPT denied ids
        self.reject_listener: RejectListener | None = None  # the node's filter-failure retry (G1)
        self._cum: dict[str, Decimal] = {}  # filled so far per order, as the fills reached the engine
        self._unsettled: set[str] = set()  # orders whose submit or cancel outcome is not known yet
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

    def add_venue(
        self,
        name: str,
        venue: Venue,
        free_balance: Callable[[str], Decimal] | None = None,
        *,
        oms: OrderManager,
    ) -> None:
        """Trade ``name``'s instruments through ``oms``; ``venue`` only gets market data from the engine.

        The venue's event sink must be ``on_venue_event``; the engine hands order events on to the
        order manager's venue client (its ``sink``), which must be bound to ``venue``.
        """
        client_sink = getattr(oms.venue, "sink", None)
        if not callable(client_sink):
            raise TypeError(f"venue {name}: the order manager's venue client has no sink(event) to take venue events")
        if oms.venue.name != name:
            raise ValueError(f"venue {name}: the order manager trades on venue {oms.venue.name!r}")
        self.venues[name] = venue
        if name not in self.oms:
            self.oms[name] = oms
            oms.on_status(self._on_oms_status)
            oms.on_fill(self._on_oms_fill)
        for iid, inst in self.instruments.items():
            if inst.venue == name:
                self._venue_of[iid] = venue
                self._oms_of[iid] = oms
                self._client_sink[iid] = client_sink
        if free_balance is not None:
            self._free_balance = free_balance

    def add_contingent(self, manager: ContingentManager) -> None:
        """Feed ``manager`` bar closes and timer ticks while it has contingent orders."""
        self._contingents.append(manager)

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
        """Reconcile every order manager with its venue, then start the strategies.

        A failed recovery leaves that order manager halted: strategies still run, and each order they
        send is denied with the reason (recorded as a run event here and on every denial).
        """
        for name, oms in self.oms.items():
            iids = sorted(iid for iid, o in self._oms_of.items() if o is oms)
            report = recover(oms, iids)
            if not report.ok:
                self._record(self.clock.now_ns(), "RECOVERY_FAILED", name, report.reason)
        self._resume_ids()
        for rt in self._runtimes:
            self._call(rt, "on_start", rt.strategy.on_start)

    def stop(self) -> None:
        for rt in self._runtimes:
            if rt.active:
                self._call(rt, "on_stop", rt.strategy.on_stop)

    def _resume_ids(self) -> None:
        """Continue each strategy's id sequence after the journal's, so a restart never reuses an id."""
        contexts = {rt.ctx._prefix: rt.ctx for rt in [*self._runtimes, self._system]}
        for oms in self.oms.values():
            for cid in oms.orders:
                prefix, _, tail = cid.rpartition("-")
                ctx = contexts.get(prefix)
                if ctx is not None and tail.isdigit():
                    ctx._seq = max(ctx._seq, int(tail))
        self._system_seq = max(self._system_seq, self._system.ctx._seq)

    # -- market data ---------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """A bar closed: match working orders first, then update indicators, then strategies."""
        iid = bar[0]
        venue = self._venue_of[iid]
        if venue.has_working:  # type: ignore[attr-defined]
            venue.on_bar(bar)  # type: ignore[attr-defined]
        if self._unsettled:
            self._poll()
        if self._contingents:
            self._drive_contingents(iid, bar[6])
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

    def _poll(self) -> None:
        """Let the order managers settle overdue submits and cancels (only while some are unsettled)."""
        for oms in self.oms.values():
            oms.poll()
        self._unsettled = {
            cid for cid in self._unsettled if self._oms_of[self.orders[cid].instrument_id].get(cid).status in _UNSETTLED
        }

    def _drive_contingents(self, iid: str, close: float) -> None:
        for cm in self._contingents:
            if cm.brackets or cm.trailing or cm.time_stops:
                cm.on_price(iid, close)
                cm.on_timer()

    # -- orders from strategies -----------------------------------------------------------------------

    def submit_from_strategy(self, rt: _Runtime, cid: str, instrument_id: str, fields: dict[str, Any]) -> None:
        self._send(rt, cid, instrument_id, fields, system=False)

    def _send(self, rt: _Runtime, cid: str, instrument_id: str, fields: dict[str, Any], *, system: bool) -> None:
        """Validate, risk-check and hand one order to the order manager; every refusal becomes OrderDenied."""
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
        oms = self._oms_of.get(instrument_id)
        if oms is None:
            self._deny(rt, cid, instrument_id, now, f"no venue trades {instrument_id}")
            return
        self._owner[cid] = rt  # before submit: the order manager reports back before it returns
        self.orders[cid] = order
        try:
            rec = oms.submit(order)
        except (TradingHalted, ValueError) as exc:
            del self._owner[cid], self.orders[cid]
            self._deny(rt, cid, instrument_id, now, str(exc))
            return
        if rec.status in _UNSETTLED:
            self._unsettled.add(cid)

    def next_id_for(self, client_order_id: str) -> str | None:
        """A fresh client order id of the strategy that owns ``client_order_id`` (None: not a strategy's order).

        Taken before ``resubmit_as`` so the caller knows the new id before the order manager reports on it
        (a venue refusal arrives inside the submit call).
        """
        rt = self._owner.get(client_order_id)
        if rt is None or client_order_id not in self.orders:
            return None
        if rt is self._system:
            return self._next_system_id()
        return f"{rt.ctx._prefix}-{rt.ctx._next()}"

    def resubmit_as(
        self,
        client_order_id: str,
        new_client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        reference_price: Decimal | None = None,
        reason: str = "resubmitted",
    ) -> bool:
        """Send a refused order again under a fresh id of the same strategy, so its fills reach that strategy.

        For a retry after the venue's filters changed (G1): the caller re-rounds quantity and prices to
        the new instrument. The copy goes through the same checks as a new order (validation, risk, node
        gates); a market order whose notional at ``reference_price`` is below the minimum is refused
        here. ``new_client_order_id`` comes from ``next_id_for``. Returns False if the original is unknown
        or not a strategy's order (nothing done), else True (denied or sent: the strategy is told either way).
        """
        old = self.orders.get(client_order_id)
        rt = self._owner.get(client_order_id)
        if old is None or rt is None:
            return False
        cid = new_client_order_id
        qty = old.quantity if quantity is None else quantity
        fields: dict[str, Any] = dict(
            side=old.side.value,
            type=old.type.value,
            quantity=qty,
            price=old.price if price is None else price,
            trigger_price=old.trigger_price if trigger_price is None else trigger_price,
            time_in_force=old.time_in_force.value,
            post_only=old.post_only,
            reduce_only=old.reduce_only,
            quote_quantity=old.quote_quantity,
        )
        now = self.clock.now_ns()
        self._record(now, "ORDER_RESUBMITTED", rt.sid, f"{client_order_id} as {cid}: {reason}")
        inst = self.instruments.get(old.instrument_id)
        if inst is not None and qty is not None and reference_price is not None and old.type is OrderType.MARKET:
            notional = qty * reference_price
            if notional < inst.min_notional or qty <= ZERO:
                why = (
                    f"invalid order: notional {notional} at {reference_price} is below the minimum {inst.min_notional}"
                )
                self._deny(rt, cid, old.instrument_id, now, why)
                return True
        self._send(rt, cid, old.instrument_id, fields, system=rt is self._system)
        return True

    def cancel_from_strategy(self, rt: _Runtime, cid: str) -> None:
        order = self.orders.get(cid)
        if order is None or self._owner.get(cid) is not rt:
            self._record(self.clock.now_ns(), "CANCEL_REJECTED", rt.sid, f"no order {cid} of this strategy")
            return
        self._cancel(order)

    def _cancel(self, order: Order) -> bool:
        cid = order.client_order_id
        oms = self._oms_of[order.instrument_id]
        sent = oms.cancel(cid)
        if sent and oms.get(cid).status in _UNSETTLED:
            self._unsettled.add(cid)
        return sent

    def _deny(self, rt: _Runtime, cid: str, iid: str, now: int, reason: str) -> None:
        self._denied[cid] = None
        if len(self._denied) > DENIED_KEPT:
            self._denied.popitem(last=False)
        self._record(now, "ORDER_DENIED", rt.sid, f"{cid} {iid}: {reason}")
        self._notify(rt, OrderDenied(cid, rt.sid, iid, now, reason))

    def order_status(self, client_order_id: str) -> OrderStatus:
        """The model status of one order: DENIED if the engine refused it, else the order manager's."""
        if client_order_id in self._denied:
            return OrderStatus.DENIED
        order = self.orders.get(client_order_id)
        if order is None:
            raise KeyError(
                f"client_order_id: no order {client_order_id!r} in this engine "
                f"(denied orders are remembered for the latest {DENIED_KEPT} only)"
            )
        rec = self._oms_of[order.instrument_id].get(client_order_id)
        if rec.status is OmsStatus.EXPIRED and rec.reason.startswith(LATE_REJECT_PREFIX):
            return OrderStatus.REJECTED  # what the strategy was told
        return to_order_status(rec.status)

    # -- venue events -------------------------------------------------------------------------------

    def on_venue_event(self, event: object) -> None:
        """The venues' sink: funding is booked here; order events go on to the order manager's client."""
        if isinstance(event, FundingPaid):
            self.portfolio.apply_funding(event, self.clock.now_ns())
            self._record(
                event.ts_event, "FUNDING", "venue", f"{event.instrument_id} paid {event.amount} {event.currency}"
            )
            return
        if not isinstance(event, OrderEvent):
            raise TypeError(f"unexpected venue event {event!r}")
        cid = event.client_order_id
        sink = self._client_sink.get(event.instrument_id)
        rt = self._owner.get(cid)
        if sink is None:
            self._record(event.ts_event, "UNKNOWN_ORDER_EVENT", "venue", repr(event))
            return
        if rt is None:  # not a strategy's order: the order manager knows it (a contingent) or looks it up
            if cid not in self._oms_of[event.instrument_id].orders:
                self._record(event.ts_event, "UNKNOWN_ORDER_EVENT", "venue", repr(event))
        elif not isinstance(event, _STATUS_EVENTS):  # informational (a stop triggered, a cancel refused)
            self.risk.on_order_event(event)
            if isinstance(event, CancelRejected):
                self._record(event.ts_event, "CANCEL_REJECTED", rt.sid, f"{cid}: {event.reason} ({event.code})")
            self._notify(rt, event)
        elif not isinstance(event, OrderFilled):
            rec = self._oms_of[event.instrument_id].orders.get(cid)
            if rec is not None and rec.status.is_terminal:  # the order manager absorbs it; say so in the run
                self._record(
                    event.ts_event, "LATE_EVENT_IGNORED", rt.sid, f"{cid} is {rec.status.value}: {type(event).__name__}"
                )
        sink(event)

    def _on_oms_status(self, rec: OrderRecord, status: OmsStatus, reason: str) -> None:
        """Rebuild the model event of one status change (fills come through ``_on_oms_fill``)."""
        cid = rec.client_order_id
        if status not in _UNSETTLED:
            self._unsettled.discard(cid)
        order = rec.order
        now = self.clock.now_ns()
        event: OrderEvent
        if status is OmsStatus.ACCEPTED:
            event = OrderAccepted(cid, order.strategy_id, order.instrument_id, now)
        elif status is OmsStatus.CANCELED:
            event = OrderCanceled(cid, order.strategy_id, order.instrument_id, now, reason)
        elif status is OmsStatus.REJECTED or (status is OmsStatus.EXPIRED and reason.startswith(LATE_REJECT_PREFIX)):
            reason = reason.removeprefix(LATE_REJECT_PREFIX)
            event = OrderRejected(cid, order.strategy_id, order.instrument_id, now, reason)
        elif status in (OmsStatus.EXPIRED, OmsStatus.FAILED):
            event = OrderExpired(cid, order.strategy_id, order.instrument_id, now, reason)
        else:
            return  # in flight, pending cancel, or a fill's status (the fill itself was reported)
        rt = self._owner.get(cid)
        self.risk.on_order_event(event)
        if rt is None:
            return  # not a strategy's order (a contingent exit, an adopted one): no one to tell
        if isinstance(event, OrderRejected):
            if status is OmsStatus.REJECTED and self.reject_listener is not None:
                note = self.reject_listener(order, reason)  # may plan a retry (G1); says so in the reason
                if note:
                    event = OrderRejected(cid, order.strategy_id, order.instrument_id, now, f"{reason}; {note}")
            self._record(now, "ORDER_REJECTED", rt.sid, f"{cid} {order.instrument_id}: {event.reason}")
        self._notify(rt, event)

    def _on_oms_fill(self, rec: OrderRecord, fill: Fill) -> None:
        """A new fill (the order manager drops duplicates): book it once, then tell risk and the owner."""
        cid = rec.client_order_id
        cum = self._cum.get(cid, ZERO) + fill.quantity
        qty = rec.quantity
        leaves = qty - cum if qty > cum else ZERO
        if leaves:
            self._cum[cid] = cum
        else:
            self._cum.pop(cid, None)
        now = self.clock.now_ns()
        event = OrderFilled(cid, fill.strategy_id, fill.instrument_id, now, fill, cum, leaves)
        self.risk.on_order_event(event)
        self.portfolio.apply_fill(fill, now)
        self.risk.on_fill(fill)
        rt = self._owner.get(cid)
        if rt is None:  # booked all the same: the account traded
            self._record(now, "UNOWNED_FILL", rec.role, f"{cid} {fill.side} {fill.quantity}@{fill.price}")
            return
        self._notify(rt, event)
        if rt.active:
            try:
                rt.strategy.on_fill(fill)
            except Exception as exc:
                self._stop_strategy(rt, "on_fill", exc)

    # -- ExecutionControl: what the risk engine may do ---------------------------------------------------

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def cancel_all(self, reason: str) -> int:
        sent = 0
        for order in self.open_orders():
            if self._cancel(order):
                self._record(self.clock.now_ns(), "CANCEL_ALL", "risk", f"{order.client_order_id}: {reason}")
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
            cid = self._next_system_id()
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
            cid = self._next_system_id()
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
        """Working orders as the order managers see them (in flight and pending cancel included)."""
        return [rec.order for oms in self.oms.values() for rec in oms.working()]

    def last_price(self, instrument_id: str) -> float | None:
        return self._last_close.get(instrument_id)

    def open_orders_of(self, sid: str) -> list[Order]:
        return [o for o in self.open_orders() if o.strategy_id == sid]

    def free_balance(self, currency: str) -> Decimal:
        if self._free_balance is None:
            return self.portfolio.cash.get(currency, ZERO)
        return self._free_balance(currency)

    # -- helpers -------------------------------------------------------------------------------------

    def _next_system_id(self) -> str:
        self._system_seq += 1
        self._system.ctx._seq = self._system_seq
        return f"{SYSTEM_STRATEGY_ID}-{self._system_seq}"

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
            self._cancel(order)
        if callback != "on_stop":
            try:
                rt.strategy.on_stop()
            except Exception as stop_exc:
                self._record(
                    now, "STRATEGY_ERROR", rt.sid, f"on_stop also raised {type(stop_exc).__name__}: {stop_exc}"
                )

    def _record(self, ts: int, kind: str, source: str, message: str) -> None:
        self.events.append(RunEvent(ts, kind, source, message))
