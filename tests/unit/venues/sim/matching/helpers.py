"""A small harness around ``MatchingVenue`` so each test reads as market state, request, outcome."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot4.data.book import Scale
from bot4.engine.clock import SimClock
from bot4.model import Fill, Instrument, Order, OrderFilled, TradeTick
from bot4.venues.sim.matching import MatchingVenue

INST = Instrument.spot(
    "SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1", maker_fee="-0.0001", taker_fee="0.001"
)
IID = INST.id
SCALE = Scale(INST.tick_size, INST.step_size)
D = Decimal


class Harness:
    def __init__(self, usdt: str = "1000000", btc: str = "100", **venue_kw: Any) -> None:
        self.clock = SimClock(1_000)
        self.events: list[object] = []
        self.venue = MatchingVenue(
            "SIM", {IID: INST}, {"USDT": D(usdt), "BTC": D(btc)}, self.clock, self.events.append, **venue_kw
        )

    def book(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self.venue.load_book(
            IID, [(SCALE.ticks(p), SCALE.lots(q)) for p, q in bids], [(SCALE.ticks(p), SCALE.lots(q)) for p, q in asks]
        )

    def level(self, is_bid: bool, price: str, qty: str) -> None:
        self.venue.apply_deltas(IID, [(is_bid, SCALE.ticks(price), SCALE.lots(qty))])

    def trade(self, price: float, size: float, aggressor: str = "") -> None:
        self.venue.on_trade(TradeTick(IID, self.clock.now_ns(), price, size, aggressor, "t"))

    def submit(self, cid: str, side: str, type: str = "LIMIT", qty: str | None = "1", **kw: Any) -> list[object]:
        return self.venue.place(order(cid, side, type, qty, **kw))

    def fills(self, cid: str) -> list[Fill]:
        return [e.fill for e in self.events if isinstance(e, OrderFilled) and e.client_order_id == cid]

    def filled_qty(self, cid: str) -> Decimal:
        return sum((f.quantity for f in self.fills(cid)), D(0))

    def of(self, cid: str, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and getattr(e, "client_order_id", None) == cid]


def order(cid: str, side: str, type: str = "LIMIT", qty: str | None = "1", **kw: Any) -> Order:
    return Order.create(INST, client_order_id=cid, strategy_id="s", side=side, type=type, quantity=qty, **kw)
