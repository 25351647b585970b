"""A simulated spot venue that fills orders from OHLCV bars.

Fill rules (documented because results must be checkable against other tools):

* An order can only trade on a bar that *opens* at or after the moment the order was submitted, so no
  fill uses a price the strategy could not have seen. Orders submitted on a bar's close trade from the
  next bar.
* MARKET: fills in full at the bar's open, moved against the order by ``slippage_bps`` and rounded
  to the tick against the order (buys up, sells down). Taker fee.
* LIMIT: on its first bar, if the open already crosses the limit the order takes at the open (taker);
  a post-only order is rejected instead, as Binance rejects a LIMIT_MAKER that would take. Otherwise it
  rests and fills at its limit price (maker) on the first bar whose range reaches it. IOC/FOK orders
  that do not fill at the open of their first bar expire (bars carry no depth, so FOK == IOC here).
* STOP_MARKET: triggers when the bar trades through the trigger; fills at the open if the bar gapped
  through it, else at the trigger, plus slippage (taker).
* STOP_LIMIT: on trigger at the open it behaves like a LIMIT arriving at the open; triggered inside a
  bar it rests as a LIMIT from the next bar on (the order of prices inside a bar is unknown, so no
  same-bar fill is assumed).
* Fees: ``rate * notional`` in the quote currency, exact. Balances are the venue's own ledger: buys
  lock quote, sells lock base (spot: no shorting), and an order the account cannot pay for is rejected.
  A reduce-only SELL is one that cannot exceed the base held (true of every spot sell); a reduce-only
  BUY is rejected, since a spot account is never short.
* Bars carry no depth, so every fill is complete; partial fills come from the order-book simulator.

Events go to the sink; an order manager's client (``bot4.execution.bar_client``) reads the rest of what
it needs by query: an order's status by client id (``status``, ``order``) and our trades (``my_trades``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot4.model.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from bot4.model.events import (
    Bar,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ONE, ZERO, round_to_increment, to_decimal
from bot4.model.orders import Order
from bot4.model.ports import Clock, EventSink

BPS = Decimal(10_000)


@dataclass(slots=True)
class _Working:
    order: Order
    ts_submit: int
    locked: Decimal  # amount locked in the quote (buys) or base (sells) currency
    triggered: bool = False
    resting_since_bar: bool = False  # has seen at least one eligible bar without trading


class BarVenue:
    """Fills orders from bars; one instance per simulated venue."""

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        balances: dict[str, Decimal],
        clock: Clock,
        sink: EventSink,
        slippage_bps: Decimal = ZERO,
    ) -> None:
        self.name = name
        self._instruments = instruments
        self._clock = clock
        self._sink = sink
        self._slip = to_decimal(slippage_bps, "slippage_bps") / BPS
        if self._slip < 0 or self._slip >= 1:
            raise ValueError(f"slippage_bps must be in [0, 10000), got {slippage_bps}")
        self.free: dict[str, Decimal] = dict(balances)
        self.locked: dict[str, Decimal] = {c: ZERO for c in balances}
        self._working: dict[str, list[_Working]] = {iid: [] for iid in instruments}
        self._by_id: dict[str, _Working] = {}
        self._trade_seq = 0
        self.status: dict[str, OrderStatus] = {}
        self._orders: dict[str, Order] = {}
        self._fills: dict[str, list[Fill]] = {iid: [] for iid in instruments}
        self.has_working = False

    # -- Venue interface ----------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        now = self._clock.now_ns()
        self._orders.setdefault(order.client_order_id, order)
        inst = self._instruments.get(order.instrument_id)
        if inst is None:
            self._reject(order, now, f"unknown instrument {order.instrument_id} on venue {self.name}")
            return
        if order.reduce_only and order.side is Side.BUY:
            self._reject(order, now, "reduce-only BUY would increase the position (a spot account holds no shorts)")
            return
        if order.client_order_id in self._by_id:
            self._reject(order, now, f"duplicate client order id {order.client_order_id} among open orders")
            return
        locked = self._lock_for(order, inst)
        if locked is None:
            return
        w = _Working(order, now, locked)
        self._working[order.instrument_id].append(w)
        self._by_id[order.client_order_id] = w
        self.has_working = True
        self.status[order.client_order_id] = OrderStatus.ACCEPTED
        self._sink(OrderAccepted(order.client_order_id, order.strategy_id, order.instrument_id, now))

    def cancel(self, client_order_id: str) -> None:
        w = self._by_id.get(client_order_id)
        if w is None:
            return  # nothing working under that id: the order manager settles it by query (``status``)
        self._remove(w)
        o = w.order
        self.status[o.client_order_id] = OrderStatus.CANCELED
        self._sink(OrderCanceled(o.client_order_id, o.strategy_id, o.instrument_id, self._clock.now_ns(), "canceled"))

    def open_orders(self) -> list[Order]:
        return [w.order for ws in self._working.values() for w in ws]

    def free_balance(self, currency: str) -> Decimal:
        """What an order could spend in ``currency`` right now (not locked by working orders)."""
        return self.free.get(currency, ZERO)

    def is_working(self, client_order_id: str) -> bool:
        return client_order_id in self._by_id

    def order(self, client_order_id: str) -> Order | None:
        """The first order submitted under ``client_order_id`` (None if never seen)."""
        return self._orders.get(client_order_id)

    def my_trades(self, instrument_id: str) -> list[Fill]:
        """Every fill of this account on ``instrument_id``, in trade order."""
        return list(self._fills.get(instrument_id, ()))

    # -- matching -----------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        working = self._working.get(bar.instrument_id)
        if not working:
            return
        inst = self._instruments[bar.instrument_id]
        for w in list(working):
            if w.ts_submit > bar.ts_open:
                continue  # submitted after this bar opened: it may only trade on later bars
            self._match(w, bar, inst)
            if w.order.client_order_id in self._by_id:
                w.resting_since_bar = True

    def _match(self, w: _Working, bar: Bar, inst: Instrument) -> None:
        o = w.order
        buy = o.side is Side.BUY
        first = not w.resting_since_bar
        if o.type is OrderType.MARKET:
            self._fill(w, inst, self._slipped(bar.open, buy, inst), Liquidity.TAKER, bar.ts_open)
            return
        if o.type is OrderType.STOP_MARKET or (o.type is OrderType.STOP_LIMIT and not w.triggered):
            trig = float(o.trigger_price)  # type: ignore[arg-type]
            gapped = bar.open >= trig if buy else bar.open <= trig
            touched = bar.high >= trig if buy else bar.low <= trig
            if not (gapped or touched):
                return
            if o.type is OrderType.STOP_MARKET:
                base = to_decimal(bar.open, "open") if gapped else o.trigger_price
                assert base is not None
                self._fill(w, inst, self._slip_price(base, buy, inst), Liquidity.TAKER, bar.ts_open)
                return
            w.triggered = True
            if not gapped:
                return  # triggered inside the bar: rests as a limit from the next bar on
            first = True
        limit = o.price
        assert limit is not None
        open_ = to_decimal(bar.open, "open")
        if first and (open_ <= limit if buy else open_ >= limit):
            if o.post_only:
                self._expire_or_reject(w, "post-only order would take liquidity", rejected=True)
                return
            self._fill(w, inst, self._slip_price(open_, buy, inst), Liquidity.TAKER, bar.ts_open)
            return
        if o.time_in_force is not TimeInForce.GTC:
            self._expire_or_reject(w, f"{o.time_in_force.value} order not filled on arrival", rejected=False)
            return
        reached = bar.low <= float(limit) if buy else bar.high >= float(limit)
        if reached:
            self._fill(w, inst, limit, Liquidity.MAKER, bar.ts_open)

    def _slipped(self, price: float, buy: bool, inst: Instrument) -> Decimal:
        return self._slip_price(to_decimal(price, "open"), buy, inst)

    def _slip_price(self, price: Decimal, buy: bool, inst: Instrument) -> Decimal:
        """Move a taker price against the order by the slippage and onto the tick, rounding against it."""
        moved = (price * (ONE + self._slip) if buy else price * (ONE - self._slip)) if self._slip else price
        return round_to_increment(moved, inst.tick_size, "ceiling" if buy else "floor")

    def _fill(self, w: _Working, inst: Instrument, price: Decimal, liquidity: Liquidity, ts: int) -> None:
        o = w.order
        rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
        now = self._clock.now_ns()
        if o.quote_quantity is not None:
            qty = round_to_increment(o.quote_quantity / (price * (ONE + rate)), inst.step_size, "down")
            if qty < inst.min_quantity or qty <= 0:
                self._remove(w)
                self._reject(
                    o,
                    now,
                    f"quote_quantity {o.quote_quantity} buys less than the minimum quantity "
                    f"{inst.min_quantity} at {price}",
                )
                return
        else:
            assert o.quantity is not None
            qty = o.quantity
        notional = qty * price
        fee = notional * rate
        if notional < inst.min_notional:
            self._remove(w)
            self._reject(o, now, f"notional {notional} is below the minimum {inst.min_notional} {inst.quote}")
            return
        self._remove(w)  # releases the lock before the balance check
        if o.side is Side.BUY:
            need = notional + fee
            if need > self.free.get(inst.quote, ZERO):
                self._reject(
                    o, now, f"insufficient balance: need {need} {inst.quote}, free {self.free.get(inst.quote, ZERO)}"
                )
                return
            self.free[inst.quote] -= need
            self.free[inst.base] = self.free.get(inst.base, ZERO) + qty
        else:
            have = self.free.get(inst.base, ZERO)
            if qty > have:
                self._reject(o, now, f"insufficient balance: need {qty} {inst.base}, free {have}")
                return
            self.free[inst.base] = have - qty
            self.free[inst.quote] = self.free.get(inst.quote, ZERO) + notional - fee
        self._trade_seq += 1
        fill = Fill(
            trade_id=f"{self.name}-{self._trade_seq}",
            client_order_id=o.client_order_id,
            strategy_id=o.strategy_id,
            instrument_id=o.instrument_id,
            side=o.side,
            quantity=qty,
            price=price,
            fee=fee,
            fee_currency=inst.quote,
            liquidity=liquidity,
            ts_event=ts,
        )
        self.status[o.client_order_id] = OrderStatus.FILLED
        self._fills[o.instrument_id].append(fill)
        self._sink(OrderFilled(o.client_order_id, o.strategy_id, o.instrument_id, now, fill, qty, ZERO))

    # -- balances and bookkeeping ----------------------------------------------------------------------

    def _lock_for(self, order: Order, inst: Instrument) -> Decimal | None:
        """Lock what a resting order could spend; reject now if the account cannot cover it."""
        now = self._clock.now_ns()
        if order.side is Side.SELL:
            assert order.quantity is not None
            have = self.free.get(inst.base, ZERO)
            if order.quantity > have:
                self._reject(order, now, f"insufficient balance: need {order.quantity} {inst.base}, free {have}")
                return None
            self.free[inst.base] = have - order.quantity
            self.locked[inst.base] = self.locked.get(inst.base, ZERO) + order.quantity
            return order.quantity
        price = order.price if order.price is not None else order.trigger_price
        if price is None or order.quantity is None:
            return ZERO  # market buys are checked against the balance at fill time
        fee_rate = max(inst.maker_fee, inst.taker_fee, ZERO)
        need = order.quantity * price * (ONE + fee_rate)
        have = self.free.get(inst.quote, ZERO)
        if need > have:
            self._reject(order, now, f"insufficient balance: need {need} {inst.quote}, free {have}")
            return None
        self.free[inst.quote] = have - need
        self.locked[inst.quote] = self.locked.get(inst.quote, ZERO) + need
        return need

    def _remove(self, w: _Working) -> None:
        o = w.order
        if self._by_id.pop(o.client_order_id, None) is None:
            return
        self._working[o.instrument_id].remove(w)
        self.has_working = bool(self._by_id)
        if w.locked:
            inst = self._instruments[o.instrument_id]
            ccy = inst.base if o.side is Side.SELL else inst.quote
            self.locked[ccy] -= w.locked
            self.free[ccy] = self.free.get(ccy, ZERO) + w.locked

    def _reject(self, order: Order, now: int, reason: str) -> None:
        self.status[order.client_order_id] = OrderStatus.REJECTED
        self._sink(OrderRejected(order.client_order_id, order.strategy_id, order.instrument_id, now, reason))

    def _expire_or_reject(self, w: _Working, reason: str, *, rejected: bool) -> None:
        self._remove(w)
        o = w.order
        now = self._clock.now_ns()
        if rejected:
            self._reject(o, now, reason)
        else:
            self.status[o.client_order_id] = OrderStatus.EXPIRED
            self._sink(OrderExpired(o.client_order_id, o.strategy_id, o.instrument_id, now, reason))
