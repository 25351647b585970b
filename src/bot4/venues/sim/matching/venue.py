"""The matching-engine venue: ``MatchingCore``'s order entry driven by books, quotes, trades or bars.

Market-data rules (documented so results can be checked):

* Books (L2 snapshots/deltas, L3 order updates, or quotes as a one-level book) are the external
  liquidity our orders take from. After every book change each resting order's queue position is
  refreshed: on L3 it is exactly the size of the orders that were in front of it and are still
  there; on L2, a level that shrank without a trade is assumed to lose size evenly across its queue
  (``ahead`` shrinks in proportion, rounded up), and ``ahead`` never exceeds the level. A trade
  already taken off the queue is not counted again when the depth update showing it arrives; a
  depth update that arrives *before* its trade is counted as cancels first (slightly optimistic). If the
  opposite side then crosses a resting order's price, that order fills as maker at its own price
  for the crossing size ("book-through").
* A public trade at a resting order's price first eats the queue ahead of it and then fills it; a
  trade through its price fills it directly. Trades are shared out in price-then-time priority,
  never filling more than the trade's size. The aggressor side decides which side can fill.
* Stops trigger on a trade at/through the trigger, or on a book whose touch (ask for buys, bid for
  sells) reaches it.
* Bars (``driver="bars"``): orders trade from the first bar that opens at/after acceptance. Market
  and triggered stop-market orders fill at the open (or the trigger, when the bar did not gap) moved
  by ``SqrtImpact``; each bar fills at most ``max_participation * volume``, the rest waits for later
  bars. Limits that cross at the open take there (never worse than the limit); resting limits fill
  at their price when the bar's range reaches it; IOC/FOK expire after their first bar.
* Randomness: none is used today; ``rng`` is a seeded ``random.Random`` for latency/queue hooks, so
  the same inputs and seed always give the same fills.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

from bot4.data.book.l2 import L2Book, Level
from bot4.data.book.l3 import L3Book
from bot4.data.book.scale import Scale
from bot4.model.enums import Liquidity, TimeInForce
from bot4.model.events import Bar, QuoteTick, TradeTick
from bot4.model.instrument import Instrument
from bot4.model.ports import Clock, EventSink
from bot4.venues.sim.matching.codes import MSG_WOULD_TAKE, FundingPaid
from bot4.venues.sim.matching.core import ONE, MatchingCore
from bot4.venues.sim.matching.fees import FeeSchedule
from bot4.venues.sim.matching.funding import funding_payment
from bot4.venues.sim.matching.impact import SqrtImpact
from bot4.venues.sim.matching.rules import SymbolRules
from bot4.venues.sim.matching.state import Market, StpMode, Working


class MatchingVenue(MatchingCore):
    """A simulated exchange for one account; implements the ``Venue`` port plus Binance-style extras."""

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        balances: dict[str, Decimal],
        clock: Clock,
        sink: EventSink,
        *,
        rules: dict[str, SymbolRules] | None = None,
        fees: dict[str, FeeSchedule] | None = None,
        stp: StpMode = "cancel_newest",
        driver: Literal["book", "bars"] = "book",
        impact: SqrtImpact | None = None,
        seed: int = 0,
        emit_extras: bool = True,
    ) -> None:
        if driver not in ("book", "bars"):
            raise ValueError(f"driver: must be 'book' or 'bars' (got {driver!r})")
        rules = rules or {}
        fees = fees or {}
        markets = {
            iid: Market(
                inst,
                Scale(inst.tick_size, inst.step_size),
                rules.get(iid) or SymbolRules.from_instrument(inst),
                fees.get(iid) or FeeSchedule.flat(inst),
                L2Book(),
            )
            for iid, inst in instruments.items()
        }
        super().__init__(name, markets, balances, clock, sink, stp, driver == "bars")
        self.impact = impact or SqrtImpact()
        self.rng = random.Random(seed)
        self.emit_extras = emit_extras

    def market(self, instrument_id: str) -> Market:
        m = self._markets.get(instrument_id)
        if m is None:
            raise KeyError(f"{instrument_id} is not listed on venue {self.name}")
        return m

    # -- books -------------------------------------------------------------------------------------

    def load_book(self, instrument_id: str, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the external L2 book (prices in ticks, sizes in lots of the instrument)."""
        self._batch = []  # feed-driven events go to the sink only
        m = self.market(instrument_id)
        m.book.load_snapshot(bids, asks)
        self._after_book(m)

    def apply_deltas(self, instrument_id: str, deltas: Iterable[tuple[bool, int, int]]) -> None:
        self._batch = []  # feed-driven events go to the sink only
        m = self.market(instrument_id)
        m.book.apply_message(deltas)
        self._after_book(m)

    def attach_l3(self, instrument_id: str, book: L3Book) -> None:
        """Drive this instrument from an L3 book (already loaded with its snapshot)."""
        m = self.market(instrument_id)
        m.l3, m.book = book, book.l2

    def on_l3(self, instrument_id: str, order_id: int, is_bid: bool, price: int, size: int) -> None:
        self._batch = []  # feed-driven events go to the sink only
        m = self.market(instrument_id)
        if m.l3 is None:
            raise ValueError(f"{instrument_id}: on_l3 needs attach_l3 first")
        m.l3.update(order_id, is_bid, price, size)
        self._after_book(m)

    def on_quote(self, quote: QuoteTick) -> None:
        """Top of book only: the book becomes these two levels."""
        self._batch = []  # feed-driven events go to the sink only
        m = self.market(quote.instrument_id)
        bid = (self._ticks(m, quote.bid), self._lots(m, quote.bid_size))
        ask = (self._ticks(m, quote.ask), self._lots(m, quote.ask_size))
        m.book.load_snapshot([bid] if bid[1] > 0 else [], [ask] if ask[1] > 0 else [])
        self._after_book(m)

    def _after_book(self, m: Market) -> None:
        for w in list(m.working.values()):
            if w.resting and w.order.client_order_id in self._by_id:
                self._refresh_queue(m, w)
                self._book_through(m, w)
        for w in self._stops(m):
            if (
                w.order.client_order_id in self._by_id
                and w.trigger is not None
                and self._stop_reached(m, w.is_buy, w.trigger, None)
            ):
                self._trigger(m, w)

    def _refresh_queue(self, m: Market, w: Working) -> None:
        assert w.price is not None
        size = m.book.size_at(w.is_buy, w.price)
        if m.l3 is not None:
            orders = m.l3.orders
            alive = [oid for oid in w.ahead_ids if orders.get(oid, (None, 0))[:2] == (w.is_buy, w.price)]
            w.ahead_ids = frozenset(alive)
            w.ahead = min(w.ahead, sum(orders[oid][2] for oid in alive))
        elif size < w.level_seen:
            w.ahead = -(-w.ahead * size // w.level_seen)
        w.ahead = min(w.ahead, size)
        w.level_seen = size

    def _book_through(self, m: Market, w: Working) -> None:
        assert w.price is not None
        while True:
            best = m.book.best_ask() if w.is_buy else m.book.best_bid()
            if best is None or ((best[0] > w.price) if w.is_buy else (best[0] < w.price)):
                return
            price, avail = best
            take = min(w.leaves, avail)
            self._consume(m, not w.is_buy, price, take)
            w.ahead = 0
            self._fill(m, w, w.price, take, Liquidity.MAKER)
            if w.order.client_order_id not in self._by_id:
                return

    # -- trades ------------------------------------------------------------------------------------

    def on_trade(self, trade: TradeTick) -> None:
        self._batch = []  # feed-driven events go to the sink only
        m = self.market(trade.instrument_id)
        price, size = self._ticks(m, trade.price), self._lots(m, trade.size)
        m.last_trade = price
        left = size
        makers = sorted(
            (w for w in m.working.values() if w.resting and w.price is not None),
            key=lambda w: (-(w.price or 0) if w.is_buy else (w.price or 0), w.seq),
        )
        for w in makers:
            assert w.price is not None
            if w.is_buy:
                eligible = trade.aggressor != "BUY" and w.price >= price
            else:
                eligible = trade.aggressor != "SELL" and w.price <= price
            if not eligible or w.order.client_order_id not in self._by_id:
                continue
            avail = size
            if w.price == price:
                eaten = min(w.ahead, size)
                w.ahead -= eaten
                w.level_seen = max(0, w.level_seen - size)
                avail = size - eaten
            else:
                w.ahead = 0  # the market traded through our level: everything in front of us is gone
            take = min(w.leaves, avail, left)
            if take > 0:
                left -= take
                self._fill(m, w, w.price, take, Liquidity.MAKER)
        for w in self._stops(m):
            if (
                w.order.client_order_id in self._by_id
                and w.trigger is not None
                and self._stop_reached(m, w.is_buy, w.trigger, price)
            ):
                self._trigger(m, w)

    # -- bars --------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """Bars drive matching only with ``driver="bars"``; a book-driven venue ignores them."""
        self._batch = []  # feed-driven events go to the sink only
        if not self._bars:
            return
        m = self.market(bar.instrument_id)
        for w in list(m.working.values()):
            if w.ts_accepted > bar.ts_open or w.order.client_order_id not in self._by_id:
                continue
            self._bar_match(m, w, bar)
            w.bars_seen += 1
        m.last_trade = self._ticks(m, bar.close)

    def _bar_match(self, m: Market, w: Working, bar: Bar) -> None:
        o, sc = w.order, m.scale
        first = w.bars_seen == 0
        ref = Decimal(repr(bar.open))
        if w.trigger is not None:
            trig_px = sc.price(w.trigger)
            trig = float(trig_px)
            gapped = bar.open >= trig if w.is_buy else bar.open <= trig
            if not (gapped or (bar.high >= trig if w.is_buy else bar.low <= trig)):
                return
            self._trigger(m, w)
            if o.client_order_id not in self._by_id or (w.price is not None and not gapped):
                return  # a stop-limit triggered inside the bar rests from the next bar on
            first = True
            if not gapped:
                ref = trig_px
        cap = int((Decimal(repr(self.impact.capacity(bar))) / sc.lot).to_integral_value(ROUND_DOWN))
        if w.price is None:
            self._bar_take(m, w, bar, ref, cap, None)
            return
        limit = sc.price(w.price)
        if first and (ref <= limit if w.is_buy else ref >= limit):
            if o.post_only:
                self._expire(m, w, f"post-only: {MSG_WOULD_TAKE}")
                return
            if o.time_in_force is TimeInForce.FOK and cap < w.leaves:
                self._expire(m, w, "FOK: the bar's capacity cannot fill the whole quantity")
                return
            self._bar_take(m, w, bar, ref, cap, limit)
            if o.client_order_id in self._by_id and o.time_in_force is not TimeInForce.GTC:
                self._expire(m, w, "IOC remainder after the first bar")
            return
        if o.time_in_force is not TimeInForce.GTC:
            self._expire(m, w, f"{o.time_in_force.value} order not filled on its first bar")
            return
        if bar.low <= float(limit) if w.is_buy else bar.high >= float(limit):
            take = min(w.leaves, cap)
            if take > 0:
                self._fill(m, w, w.price, take, Liquidity.MAKER)

    def _bar_take(self, m: Market, w: Working, bar: Bar, ref: Decimal, cap: int, limit: Decimal | None) -> None:
        sc, o = m.scale, w.order
        taker = m.fees.rates(self._clock.now_ns())[1]
        budget = o.quote_quantity
        lots = min(w.leaves, cap) if budget is None else cap
        if budget is not None:
            lots = min(lots, int((budget / (ref * sc.lot * (ONE + taker))).to_integral_value(ROUND_DOWN)))
        px = self._impact_price(m, w, bar, ref, lots, limit)
        if w.is_buy:
            free = self.ledger.available(m.inst.quote) + w.locked
            spend = free if budget is None else min(free, budget)
            lots = min(lots, int((spend / (px * sc.lot * (ONE + taker))).to_integral_value(ROUND_DOWN)))
        if budget is not None:
            w.leaves = lots
        if cap <= 0:
            return  # no volume in this bar: wait for the next
        if lots <= 0:
            self._expire(m, w, "bar: the remaining balance or quote_quantity buys nothing at this price")
            return
        self._fill(m, w, sc.ticks(px), lots, Liquidity.TAKER)

    def _impact_price(self, m: Market, w: Working, bar: Bar, ref: Decimal, lots: int, limit: Decimal | None) -> Decimal:
        raw = self.impact.price(ref, float(m.scale.size(lots)), bar, w.is_buy)
        tick = m.scale.tick
        px = (raw / tick).to_integral_value(ROUND_CEILING if w.is_buy else ROUND_FLOOR) * tick
        if limit is not None:
            px = min(px, limit) if w.is_buy else max(px, limit)
        return max(px, tick)

    # -- funding -----------------------------------------------------------------------------------

    def apply_funding(self, instrument_id: str, rate: Decimal, mark_price: Decimal) -> FundingPaid:
        """Settle one funding print on the net position; the quote balance pays or receives it."""
        m = self.market(instrument_id)
        pos = self.positions.get(instrument_id, Decimal(0))
        amount = funding_payment(pos, mark_price, rate)
        self.ledger.credit(m.inst.quote, -amount)
        event = FundingPaid(instrument_id, self._clock.now_ns(), rate, pos, mark_price, amount, m.inst.quote)
        if self.emit_extras:
            self._sink(event)
        return event

    # -- conversions -------------------------------------------------------------------------------

    @staticmethod
    def _ticks(m: Market, value: float) -> int:
        return int((Decimal(repr(value)) / m.scale.tick).to_integral_value(ROUND_HALF_EVEN))

    @staticmethod
    def _lots(m: Market, value: float) -> int:
        return int((Decimal(repr(value)) / m.scale.lot).to_integral_value(ROUND_DOWN))
