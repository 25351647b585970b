"""Order entry and taking for the matching venue: validation, balances, sweeping the book, STP, OCO.

Rules (the venue's documented behaviour):

* Validation order, first failure wins: unknown symbol ``-1121``; duplicate open client id ``-2010``;
  symbol filters ``-1013``; reduce-only ``-2022``; post-only that would take ``-2010``; a stop whose
  trigger is already reached ``-2010`` (Binance's "would trigger immediately"); balance ``-2010``.
* A MARKET order walks the book level by level (one fill per level, at the level's price) and the
  consumed size is taken out of the book, so liquidity is never used twice. What the book cannot
  fill expires. A MARKET BUY by ``quote_quantity`` spends at most that amount including the fee.
* LIMIT takes whatever crosses up to its price, then GTC rests, IOC expires the rest, FOK fills in
  full or expires untouched. A resting order's queue position is the visible size at its price.
* Self-trade prevention (per account): an incoming order that would trade against one of our own
  resting orders on the other side in price-time priority (after the better-priced outside liquidity
  and the queue in front of that order at its price) expires (``cancel_newest``), cancels those
  makers (``cancel_oldest``), or both (``cancel_both``), before it touches the market.
* Reduce-only must shrink the net position (initially the base balance) and not flip it.
* OCO: a LIMIT leg and a STOP leg share one quantity; a fill or trigger of one cancels the other,
  and canceling either cancels both. Buy OCO: limit < reference < stop; sell OCO: limit > reference >
  stop, where the reference is the last trade (else the mid).
* Balances: buys lock ``limit * qty * (1 + highest fee rate)`` of quote, sells lock base; fills draw
  the lock; market buys are checked against the free quote by a dry run of the sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal

from bot4.model.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from bot4.model.events import OrderAccepted, OrderCanceled, OrderExpired, OrderFilled
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.model.ports import Clock, EventSink
from bot4.venues.sim.matching import codes
from bot4.venues.sim.matching.codes import CancelRejected, OrderTriggered, Rejection, VenueOrderRejected
from bot4.venues.sim.matching.ledger import Ledger
from bot4.venues.sim.matching.state import STP_NAMES, ZERO, Market, StpMode, Working

ONE = Decimal(1)
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


class MatchingCore:
    """State and order-entry logic; ``MatchingVenue`` adds the market-data drivers."""

    def __init__(
        self,
        name: str,
        markets: dict[str, Market],
        balances: dict[str, Decimal],
        clock: Clock,
        sink: EventSink,
        stp: StpMode,
        bars_mode: bool,
    ) -> None:
        if stp not in STP_NAMES:
            raise ValueError(f"stp: must be one of {sorted(STP_NAMES)} (got {stp!r})")
        self.name = name
        self._markets = markets
        self.ledger = Ledger(balances)
        self._clock = clock
        self._sink = sink
        self.stp: StpMode = stp
        self._bars = bars_mode
        self._by_id: dict[str, Working] = {}
        self.status: dict[str, OrderStatus] = {}
        self.positions: dict[str, Decimal] = {iid: self.ledger.total(m.inst.base) for iid, m in markets.items()}
        self.trades: list[Fill] = []
        self._trade_seq = 0
        self._order_seq = 0
        self._batch: list[object] = []
        # CancelRejected / OrderTriggered / FundingPaid are not model events: a sink that only knows the
        # model's (the engine today) can turn them off; request methods still return them.
        self.emit_extras = True

    # -- requests ----------------------------------------------------------------------------------

    def place(self, order: Order) -> list[object]:
        """Submit ``order`` and return the events it caused (they also go to the sink)."""
        self._batch = []
        self._submit(order)
        return self._batch

    def cancel_order(self, client_order_id: str) -> list[object]:
        """Cancel and return the events (``OrderCanceled``, or ``CancelRejected`` -2011)."""
        self._batch = []
        self._cancel(client_order_id, "canceled")
        return self._batch

    # The ``Venue`` port: same as above, outcome only through the sink.
    def submit(self, order: Order) -> None:
        self.place(order)

    def cancel(self, client_order_id: str) -> None:
        self.cancel_order(client_order_id)

    def cancel_replace(self, client_order_id: str, new_order: Order) -> list[object]:
        """Binance ``cancelReplace`` with STOP_ON_FAILURE: no new order unless the cancel succeeded."""
        self._batch = []
        if not self._cancel(client_order_id, "canceled by cancel-replace"):
            self._reject(
                new_order,
                Rejection(
                    codes.CANCEL_REPLACE_FAILED, codes.MSG_CANCEL_REPLACE_FAILED, f"cancel of {client_order_id} failed"
                ),
            )
            return self._batch
        start = len(self._batch)
        self._submit(new_order)
        for i, ev in enumerate(self._batch[start:], start):
            if isinstance(ev, VenueOrderRejected):
                self._batch[i] = VenueOrderRejected(
                    ev.client_order_id,
                    ev.strategy_id,
                    ev.instrument_id,
                    ev.ts_event,
                    f"{codes.MSG_CANCEL_REPLACE_PARTIAL} new order: {ev.reason}",
                    codes.CANCEL_REPLACE_PARTIAL,
                )
        return self._batch

    def submit_oco(self, limit_leg: Order, stop_leg: Order) -> list[object]:
        self._batch = []
        rej = self._oco_problem(limit_leg, stop_leg)
        if rej is not None:
            self._reject(limit_leg, rej)
            self._reject(stop_leg, rej)
            return self._batch
        if self._submit(limit_leg, oco=stop_leg.client_order_id) is None:
            self._reject(stop_leg, Rejection(codes.NEW_ORDER_REJECTED, "OCO: the limit leg was rejected"))
            return self._batch
        limit = self._by_id.get(limit_leg.client_order_id)
        if limit is None or limit.cum:  # the limit leg traded on arrival: the stop leg is void (OCO rule)
            self._reject(stop_leg, Rejection(codes.NEW_ORDER_REJECTED, "OCO: the limit leg traded on arrival"))
            if limit is not None:
                limit.oco = None
            return self._batch
        if self._submit(stop_leg, oco=limit_leg.client_order_id, shared_lock=True) is None:
            self._cancel(limit_leg.client_order_id, "OCO: the stop leg was rejected")
        return self._batch

    # -- queries -----------------------------------------------------------------------------------

    def open_orders(self) -> list[Order]:
        return [w.order for w in self._by_id.values()]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Currency -> (free, locked)."""
        ccys = set(self.ledger.free) | set(self.ledger.locked)
        return {c: (self.ledger.free.get(c, ZERO), self.ledger.locked.get(c, ZERO)) for c in sorted(ccys)}

    def my_trades(self, instrument_id: str | None = None) -> list[Fill]:
        return [f for f in self.trades if instrument_id is None or f.instrument_id == instrument_id]

    def working(self, client_order_id: str) -> Working | None:
        return self._by_id.get(client_order_id)

    # the same conveniences the engine uses on ``BarVenue``, so either venue plugs into it
    @property
    def has_working(self) -> bool:
        return bool(self._by_id)

    def is_working(self, client_order_id: str) -> bool:
        return client_order_id in self._by_id

    def free_balance(self, currency: str) -> Decimal:
        return self.ledger.available(currency)

    # -- entry -------------------------------------------------------------------------------------

    def _submit(self, order: Order, oco: str | None = None, shared_lock: bool = False) -> Working | None:
        m = self._markets.get(order.instrument_id)
        if m is None:
            self._reject(
                order,
                Rejection(
                    codes.INVALID_SYMBOL,
                    codes.MSG_INVALID_SYMBOL,
                    f"{order.instrument_id} is not listed on {self.name}",
                ),
            )
            return None
        if order.client_order_id in self._by_id:
            self._reject(  # the open order with that id is not touched: its status stays what it is
                order,
                Rejection(
                    codes.NEW_ORDER_REJECTED, codes.MSG_DUPLICATE, f"client order id {order.client_order_id} is open"
                ),
                record_status=False,
            )
            return None
        rej = m.rules.check(order, self._reference(m))
        if rej is None:
            rej = self._reduce_only_problem(m, order)
        if rej is not None:
            self._reject(order, rej)
            return None
        sc = m.scale
        is_buy = order.side is Side.BUY
        price = None if order.price is None else sc.ticks(order.price)
        trigger = None if order.trigger_price is None else sc.ticks(order.trigger_price)
        if order.post_only and price is not None and not self._bars and self._crosses(m, is_buy, price):
            self._reject(order, Rejection(codes.NEW_ORDER_REJECTED, codes.MSG_WOULD_TAKE))
            return None
        if trigger is not None and self._stop_reached(m, is_buy, trigger, None):
            self._reject(order, Rejection(codes.NEW_ORDER_REJECTED, codes.MSG_WOULD_TRIGGER))
            return None
        leaves = 0 if order.quantity is None else sc.lots(order.quantity)
        self._order_seq += 1
        w = Working(order, self._order_seq, self._clock.now_ns(), is_buy, price, trigger, leaves, oco=oco)
        if not shared_lock:
            rej = self._lock(m, w)
            if rej is not None:
                self._reject(order, rej)
                return None
        m.working[order.client_order_id] = w
        self._by_id[order.client_order_id] = w
        self.status[order.client_order_id] = OrderStatus.ACCEPTED
        self._emit(OrderAccepted(order.client_order_id, order.strategy_id, order.instrument_id, w.ts_accepted))
        if trigger is None and not self._bars:
            self._execute(m, w)
        return w

    def _lock(self, m: Market, w: Working) -> Rejection | None:
        """Lock what ``w`` could spend now; for a market buy, dry-run the sweep against free quote."""
        inst, o = m.inst, w.order
        if not w.is_buy:
            amount, ccy = m.scale.size(w.leaves), inst.base
        elif w.price is not None or w.trigger is not None:
            px = m.scale.price(w.price if w.price is not None else w.trigger)  # type: ignore[arg-type]
            amount, ccy = m.scale.size(w.leaves) * px * (ONE + max(m.fees.max_rate(), ZERO)), inst.quote
        else:
            if self._bars:
                return None  # priced at the bar; checked against the balance at fill time
            need = o.quote_quantity if o.quote_quantity is not None else self._sweep_cost(m, w)
            if need > self.ledger.available(inst.quote):
                return Rejection(
                    codes.NEW_ORDER_REJECTED,
                    codes.MSG_INSUFFICIENT_BALANCE,
                    f"need {need} {inst.quote}, free {self.ledger.available(inst.quote)} {inst.quote}",
                )
            return None
        if not self.ledger.lock(ccy, amount):
            return Rejection(
                codes.NEW_ORDER_REJECTED,
                codes.MSG_INSUFFICIENT_BALANCE,
                f"need {amount} {ccy}, free {self.ledger.available(ccy)} {ccy}",
            )
        w.locked = amount
        return None

    def _reduce_only_problem(self, m: Market, o: Order) -> Rejection | None:
        if not o.reduce_only:
            return None
        pos = self.positions.get(o.instrument_id, ZERO)
        qty = o.quantity or ZERO
        ok = (pos < 0 and qty <= -pos) if o.side is Side.BUY else (pos > 0 and qty <= pos)
        if ok:
            return None
        return Rejection(
            codes.REDUCE_ONLY_REJECTED,
            codes.MSG_REDUCE_ONLY,
            f"{o.side.value} {qty} would not reduce the position {pos}",
        )

    def _oco_problem(self, limit_leg: Order, stop_leg: Order) -> Rejection | None:
        def bad(detail: str) -> Rejection:
            return Rejection(codes.NEW_ORDER_REJECTED, codes.MSG_OCO_PRICES, detail)

        if limit_leg.type is not OrderType.LIMIT or stop_leg.type not in _STOPS:
            return bad("an OCO is one LIMIT leg and one STOP_MARKET/STOP_LIMIT leg")
        if (limit_leg.side, limit_leg.quantity, limit_leg.instrument_id) != (
            stop_leg.side,
            stop_leg.quantity,
            stop_leg.instrument_id,
        ):
            return bad("both legs need the same instrument, side and quantity")
        m = self._markets.get(limit_leg.instrument_id)
        ref = None if m is None else self._reference(m)
        if ref is None:
            return bad("no reference price yet (no trade and no two-sided book)")
        lim, stop = limit_leg.price, stop_leg.trigger_price
        assert lim is not None and stop is not None
        ok = lim < ref < stop if limit_leg.side is Side.BUY else lim > ref > stop
        return None if ok else bad(f"{limit_leg.side.value}: limit {lim}, reference {ref}, stop {stop}")

    # -- taking ------------------------------------------------------------------------------------

    def _execute(self, m: Market, w: Working) -> None:
        """Take what crosses now; then rest (GTC limit) or expire the remainder."""
        o = w.order
        if not self._self_trade_check(m, w):
            return
        plan = self._sweep(m, w)
        if o.quote_quantity is not None and w.leaves == 0:
            w.leaves = sum(lots for _, lots in plan)
            if not plan:
                self._expire(m, w, "market order: no liquidity affordable with quote_quantity")
                return
        if o.time_in_force is TimeInForce.FOK and sum(lots for _, lots in plan) < w.leaves:
            self._expire(m, w, "FOK: the book cannot fill the whole quantity")
            return
        for price, lots in plan:
            self._consume(m, not w.is_buy, price, lots)
            self._fill(m, w, price, lots, Liquidity.TAKER)
            if o.client_order_id not in self._by_id:
                return
        if w.price is None or o.time_in_force is not TimeInForce.GTC:
            self._expire(m, w, "IOC/FOK/market remainder not immediately fillable")
            return
        self._rest(m, w)

    def _sweep(self, m: Market, w: Working) -> list[tuple[int, int]]:
        """The (price, lots) a taker would get now, without changing anything."""
        o, sc = w.order, m.scale
        left = w.leaves
        budget = o.quote_quantity
        rate = m.fees.rates(self._clock.now_ns())[1]
        plan: list[tuple[int, int]] = []
        for price, avail in m.book.iter_levels(not w.is_buy):
            if w.price is not None and (price > w.price if w.is_buy else price < w.price):
                break
            if budget is not None:
                unit = sc.price(price) * sc.lot * (ONE + rate)
                take = min(avail, int((budget / unit).to_integral_value(ROUND_DOWN)))
                budget -= unit * take
            else:
                take = min(avail, left)
                left -= take
            if take > 0:
                plan.append((price, take))
            if (budget is None and left == 0) or (budget is not None and take < avail):
                break
        return plan

    def _sweep_cost(self, m: Market, w: Working) -> Decimal:
        rate = max(m.fees.rates(self._clock.now_ns())[1], ZERO)
        return sum((m.scale.price(p) * m.scale.size(q) * (ONE + rate) for p, q in self._sweep(m, w)), ZERO)

    def _consume(self, m: Market, is_bid: bool, price: int, lots: int) -> None:
        """Remove liquidity we took: from the L3 queue front, or from the L2 level."""
        if m.l3 is None:
            m.book.reduce(is_bid, price, lots)
            return
        for oid, size in m.l3.queue(is_bid, price):
            if lots <= 0:
                break
            take = min(size, lots)
            m.l3.update(oid, is_bid, price, size - take)
            lots -= take

    def _crosses(self, m: Market, is_buy: bool, price: int) -> bool:
        best = m.book.best_ask() if is_buy else m.book.best_bid()
        own = any(
            x.is_buy != is_buy
            and x.resting
            and x.price is not None
            and (x.price <= price if is_buy else x.price >= price)
            for x in m.working.values()
        )
        return own or (best is not None and (best[0] <= price if is_buy else best[0] >= price))

    def _self_trade_check(self, m: Market, w: Working) -> bool:
        """Apply STP against our own resting orders; False when the incoming order is gone."""
        makers = [
            x
            for x in m.working.values()
            if x.resting
            and x.is_buy != w.is_buy
            and x.price is not None
            and (w.price is None or (x.price <= w.price if w.is_buy else x.price >= w.price))
            and self._reaches(m, w, x)
        ]
        if not makers:
            return True
        why = f"self-trade prevention ({STP_NAMES[self.stp]})"
        if self.stp in ("cancel_oldest", "cancel_both"):
            for x in makers:
                self._cancel(x.order.client_order_id, why)
        if self.stp in ("cancel_newest", "cancel_both"):
            self._expire(m, w, why)
            return False
        return True

    def _reaches(self, m: Market, w: Working, x: Working) -> bool:
        """Would ``w`` trade against our resting ``x`` in price-time priority?

        Outside liquidity at better prices, and the queue in front of ``x`` at its own price, trade
        first; only what the incoming order has left after those reaches ``x``.
        """
        assert x.price is not None
        sc = m.scale
        before: list[tuple[int, int]] = []
        for price, avail in m.book.iter_levels(not w.is_buy):
            if price < x.price if w.is_buy else price > x.price:
                before.append((price, avail))
            else:
                break
        ahead = min(x.ahead, m.book.size_at(x.is_buy, x.price))
        if ahead > 0:
            before.append((x.price, ahead))
        budget = w.order.quote_quantity
        if budget is None:
            return w.leaves > sum(lots for _, lots in before)
        rate = m.fees.rates(self._clock.now_ns())[1]
        for price, lots in before:
            budget -= sc.price(price) * sc.size(lots) * (ONE + rate)
            if budget <= ZERO:
                return False
        return budget >= sc.price(x.price) * sc.lot * (ONE + rate)

    def _rest(self, m: Market, w: Working) -> None:
        assert w.price is not None
        w.resting = True
        w.level_seen = w.ahead = m.book.size_at(w.is_buy, w.price)
        if m.l3 is not None:
            w.ahead_ids = frozenset(oid for oid, _ in m.l3.queue(w.is_buy, w.price))

    # -- outcomes ----------------------------------------------------------------------------------

    def _fill(self, m: Market, w: Working, price: int, lots: int, liquidity: Liquidity) -> None:
        o, inst, sc = w.order, m.inst, m.scale
        now = self._clock.now_ns()
        qty, px = sc.size(lots), sc.price(price)
        maker, taker = m.fees.rates(now)
        rate = maker if liquidity is Liquidity.MAKER else taker
        notional = qty * px
        fee = notional * rate
        led = self.ledger
        if w.is_buy:
            cost = notional + fee
            from_lock = min(cost, w.locked)
            led.spend_locked(inst.quote, from_lock)
            w.locked -= from_lock
            led.spend(inst.quote, cost - from_lock)
            led.credit(inst.base, qty)
        else:
            from_lock = min(qty, w.locked)
            led.spend_locked(inst.base, from_lock)
            w.locked -= from_lock
            led.spend(inst.base, qty - from_lock)
            led.credit(inst.quote, notional - fee)
        m.fees.record(now, notional)
        self.positions[o.instrument_id] = self.positions.get(o.instrument_id, ZERO) + (qty if w.is_buy else -qty)
        self._trade_seq += 1
        fill = Fill(
            f"{self.name}-{self._trade_seq}",
            o.client_order_id,
            o.strategy_id,
            o.instrument_id,
            o.side,
            qty,
            px,
            fee,
            inst.quote,
            liquidity,
            now,
        )
        self.trades.append(fill)
        w.cum += lots
        w.leaves -= lots
        done = w.leaves == 0
        self.status[o.client_order_id] = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        self._emit(
            OrderFilled(o.client_order_id, o.strategy_id, o.instrument_id, now, fill, sc.size(w.cum), sc.size(w.leaves))
        )
        if done:
            self._remove(m, w)
        self._cancel_partner(w, "OCO: the other leg traded")

    def _cancel(self, client_order_id: str, reason: str) -> bool:
        w = self._by_id.get(client_order_id)
        if w is None:
            self._emit(
                CancelRejected(
                    client_order_id,
                    "",
                    "",
                    self._clock.now_ns(),
                    codes.CANCEL_REJECTED,
                    f"{codes.MSG_UNKNOWN_ORDER} ({client_order_id} is not open)",
                )
            )
            return False
        o = w.order
        m = self._markets[o.instrument_id]
        self._remove(m, w)
        self.status[client_order_id] = OrderStatus.CANCELED
        self._emit(OrderCanceled(o.client_order_id, o.strategy_id, o.instrument_id, self._clock.now_ns(), reason))
        self._cancel_partner(w, "OCO: the other leg was canceled")
        return True

    def _cancel_partner(self, w: Working, reason: str) -> None:
        if w.oco is not None and w.oco in self._by_id:
            partner = w.oco
            w.oco = None
            self._by_id[partner].oco = None
            self._cancel(partner, reason)

    def _expire(self, m: Market, w: Working, reason: str) -> None:
        o = w.order
        self._remove(m, w)
        self.status[o.client_order_id] = OrderStatus.EXPIRED
        self._emit(OrderExpired(o.client_order_id, o.strategy_id, o.instrument_id, self._clock.now_ns(), reason))
        self._cancel_partner(w, "OCO: the other leg expired")

    def _trigger(self, m: Market, w: Working) -> None:
        """A stop fired: cancel its OCO partner, re-lock for what it now is, and let it work."""
        o = w.order
        assert o.trigger_price is not None
        self._emit(
            OrderTriggered(o.client_order_id, o.strategy_id, o.instrument_id, self._clock.now_ns(), o.trigger_price)
        )
        self._cancel_partner(w, "OCO: the other leg triggered")
        w.trigger = None
        if w.locked:
            self.ledger.release(m.inst.base if not w.is_buy else m.inst.quote, w.locked)
            w.locked = ZERO
        rej = self._lock(m, w)
        if rej is not None:
            self._expire(m, w, f"on trigger: {rej.reason}")
            return
        if not self._bars:
            self._execute(m, w)

    def _remove(self, m: Market, w: Working) -> None:
        o = w.order
        if self._by_id.pop(o.client_order_id, None) is None:
            return
        del m.working[o.client_order_id]
        w.resting = False
        if w.locked:
            self.ledger.release(m.inst.base if not w.is_buy else m.inst.quote, w.locked)
            w.locked = ZERO

    def _reject(self, order: Order, rej: Rejection, record_status: bool = True) -> None:
        if record_status:
            self.status[order.client_order_id] = OrderStatus.REJECTED
        self._emit(
            VenueOrderRejected(
                order.client_order_id,
                order.strategy_id,
                order.instrument_id,
                self._clock.now_ns(),
                rej.reason,
                rej.code,
            )
        )

    def _emit(self, event: object) -> None:
        self._batch.append(event)
        if self.emit_extras or not isinstance(event, (CancelRejected, OrderTriggered)):
            self._sink(event)

    # -- prices ------------------------------------------------------------------------------------

    def _reference(self, m: Market) -> Decimal | None:
        """Last trade, else the mid of a two-sided book (rounded to the tick), else None."""
        if m.last_trade is not None:
            return m.scale.price(m.last_trade)
        bb, ba = m.book.best_bid(), m.book.best_ask()
        if bb is None or ba is None:
            return None
        return m.scale.price((bb[0] + ba[0]) // 2)

    def _stop_reached(self, m: Market, is_buy: bool, trigger: int, trade: int | None) -> bool:
        """Trigger on the trade price when one is given, else on the touch a stop would execute at."""
        if trade is None:
            touch = m.book.best_ask() if is_buy else m.book.best_bid()
            ref = touch[0] if touch is not None else m.last_trade
        else:
            ref = trade
        return ref is not None and (ref >= trigger if is_buy else ref <= trigger)

    def _stops(self, m: Market) -> Iterator[Working]:
        return (w for w in list(m.working.values()) if w.trigger is not None)
