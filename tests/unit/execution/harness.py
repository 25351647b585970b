"""A rig for order-manager tests: matching venue + fault-injecting client + journal + order manager."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot4.data.book import Scale
from bot4.engine.clock import SimClock
from bot4.execution.errors import RejectedError, UnknownOutcomeError, VenueError
from bot4.execution.matching_client import MatchingClient
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.ports import Journal
from bot4.execution.records import ExecReport, OrderRecord, OrderSnapshot, VenueTrade
from bot4.execution.states import OmsStatus
from bot4.model import Instrument, Order, TradeTick
from bot4.venues.sim.matching import MatchingVenue

INST = Instrument.spot(
    "SIM", "BTC/USDT", tick_size="0.1", step_size="0.001", min_notional="1", maker_fee="0.001", taker_fee="0.002"
)
IID = INST.id
SCALE = Scale(INST.tick_size, INST.step_size)
D = Decimal
MS = 1_000_000


class FaultyClient:
    """Wraps a client; ``plan[method]`` is a list of actions consumed one per call.

    Actions: ``drop_after_book`` (the request takes effect, the caller sees an unknown outcome),
    ``drop_before_book`` (nothing happens, unknown outcome), ``down`` (raise for queries too).
    """

    def __init__(self, inner: MatchingClient) -> None:
        self.inner = inner
        self.name = inner.name
        self.plan: dict[str, list[str]] = {}
        self.posts: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.down = False

    def _action(self, method: str) -> str:
        self.calls[method] += 1
        if self.down:
            raise VenueError(f"{method}: venue unreachable (injected)")
        steps = self.plan.get(method)
        return steps.pop(0) if steps else ""

    def set_listener(self, listener: Any) -> None:
        self.inner.set_listener(listener)

    def submit(self, order: Order) -> list[ExecReport]:
        act = self._action("submit")
        if act == "drop_before_book":
            raise UnknownOutcomeError("connection dropped before the venue read the request")
        self.posts[order.client_order_id] += 1
        reports = self.inner.submit(order)
        if act == "drop_after_book":
            raise UnknownOutcomeError("connection dropped after the venue booked the order")
        return reports

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        act = self._action("cancel")
        if act == "drop_before_book":
            raise UnknownOutcomeError("cancel lost")
        reports = self.inner.cancel(client_order_id, instrument_id)
        if act == "drop_after_book":
            raise UnknownOutcomeError("cancel response lost")
        return reports

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        self._action("query_order")
        return self.inner.query_order(client_order_id, instrument_id)

    def open_orders(self) -> list[OrderSnapshot]:
        self._action("open_orders")
        return self.inner.open_orders()

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        self._action("my_trades")
        return self.inner.my_trades(instrument_id, since_seq)


#: Where a ``Rig`` gets its journal when none is given; the integration suite swaps in SQL journals
#: to run the same catalogue scenarios on SQLite and PostgreSQL.
journal_factory: Callable[[], Journal] = MemoryJournal


class Rig:
    def __init__(self, journal: Journal | None = None, *, capture: bool = False, usdt: str = "1000000") -> None:
        self.clock = SimClock(1_000)
        self.raw = MatchingClient("SIM")
        self.venue = MatchingVenue("SIM", {IID: INST}, {"USDT": D(usdt), "BTC": D(0)}, self.clock, self.raw.sink)
        self.raw.bind(self.venue)
        self.client = FaultyClient(self.raw)
        self.journal: Journal = journal if journal is not None else journal_factory()
        self.oms = OrderManager(self.client, self.journal, self.clock, OmsConfig(inflight_timeout_ns=500 * MS))
        self.captured: list[ExecReport] = []
        if capture:  # stream events go to a list instead of the order manager
            self.raw.set_listener(self.captured.append)

    def start(self) -> OrderManager:
        self.oms.load()
        self.oms.resume()
        return self.oms

    def book(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self.venue.load_book(
            IID, [(SCALE.ticks(p), SCALE.lots(q)) for p, q in bids], [(SCALE.ticks(p), SCALE.lots(q)) for p, q in asks]
        )

    def trade(self, price: float, size: float, aggressor: str = "SELL") -> None:
        self.venue.on_trade(TradeTick(IID, self.clock.now_ns(), price, size, aggressor, "t"))

    def later(self, ms: int = 600) -> None:
        self.clock.advance_to(self.clock.now_ns() + ms * MS)

    def buy(self, qty: str = "1", type: str = "LIMIT", oms: OrderManager | None = None, **kw: Any) -> OrderRecord:
        o = oms or self.oms
        if type == "LIMIT":
            kw.setdefault("price", "100")
        return o.new_order(INST, strategy_id="s", side="BUY", type=type, quantity=qty, **kw)

    def sell(self, qty: str = "1", type: str = "LIMIT", **kw: Any) -> OrderRecord:
        if type == "LIMIT":
            kw.setdefault("price", "110")
        return self.oms.new_order(INST, strategy_id="s", side="SELL", type=type, quantity=qty, **kw)

    def venue_orders(self, prefix: str = "b4-") -> list[str]:
        return [cid for cid in self.venue.status if cid.startswith(prefix)]

    def venue_filled(self, cid: str) -> Decimal:
        return sum((f.quantity for f in self.venue.trades if f.client_order_id == cid), D(0))

    def venue_position(self) -> Decimal:
        return self.venue.positions[IID]


def rejected() -> RejectedError:
    return RejectedError(-2010, "Duplicate order sent.")


def restart(rig: Rig, journal: Journal) -> OrderManager:
    """A new process: a fresh order manager on the same venue (the exchange lives on) and storage."""
    rig.journal = journal
    rig.oms = OrderManager(rig.client, journal, rig.clock, OmsConfig(inflight_timeout_ns=500 * MS))
    return rig.oms


def limit_order(cid: str, side: str = "BUY", price: str = "100") -> Order:
    return Order.create(INST, client_order_id=cid, strategy_id="s", side=side, type="LIMIT", quantity="1", price=price)


def status(rec: OrderRecord) -> OmsStatus:
    """Read the status through a call, so type narrowing from an earlier assert does not stick."""
    return rec.status
