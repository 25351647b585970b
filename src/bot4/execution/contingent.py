"""Contingent orders emulated locally on top of the order manager: brackets, OCO, trailing and time stops.

Why local: spot venues lack brackets, and a venue stop locks the same base a take-profit needs; a
local stop locks nothing and can be resized freely. The rules every contingent follows:

* Exits are sized to what actually filled: ``target = entry filled - exits filled``, rounded down
  to the step. A working take-profit whose size differs is canceled and replaced once the cancel is
  settled (never two live exits at once), so working exits + filled exits never exceed the entry fills.
* A fill racing a cancel is just another fill: the next sync recomputes the target from fills.
* A stop that fires cancels the entry's remainder and the take-profit first, and only when neither
  can trade any more sends one market exit for the remaining target.
* Time stops run on the monotonic clock.
* "Never naked": every non-flat position must have an armed stop; ``ensure_protected`` arms one at
  the configured distance or, with no usable price, flattens.

State here is in memory; after a restart ``ensure_protected`` re-arms protection for what recovery found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count

from bot4.execution.order_manager import OrderManager
from bot4.execution.records import OrderRecord
from bot4.execution.states import OmsStatus
from bot4.model.enums import Side
from bot4.model.errors import DomainError
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO, positive, round_to_increment

ONE = Decimal(1)


@dataclass(slots=True)
class Bracket:
    """Entry (or an existing position, for an OCO) + take-profit limit + local stop-loss."""

    id: str
    instrument: Instrument
    side: Side  # the entry side; exits go the other way
    take_profit: Decimal | None
    stop_loss: Decimal
    entry_id: str = ""
    base_qty: Decimal = ZERO  # OCO: the position being protected (no entry order)
    tp_ids: list[str] = field(default_factory=list)
    exit_ids: list[str] = field(default_factory=list)
    stopped: bool = False
    done: bool = False

    @property
    def exit_side(self) -> Side:
        return Side.SELL if self.side is Side.BUY else Side.BUY


@dataclass(slots=True)
class TrailingStop:
    """Exit ``quantity`` when price retraces ``distance`` / ``percent`` / ``atr_mult * atr`` from its best."""

    id: str
    instrument: Instrument
    exit_side: Side
    quantity: Decimal
    distance: Decimal | None = None
    percent: Decimal | None = None
    atr_mult: Decimal | None = None
    atr: Decimal = ZERO
    best: Decimal | None = None
    fired: bool = False

    def level(self) -> Decimal | None:
        if self.best is None:
            return None
        if self.distance is not None:
            gap = self.distance
        elif self.percent is not None:
            gap = self.best * self.percent / 100
        else:
            assert self.atr_mult is not None
            gap = self.atr_mult * self.atr
        return self.best - gap if self.exit_side is Side.SELL else self.best + gap


@dataclass(slots=True)
class TimeStop:
    id: str
    instrument: Instrument
    deadline_mono_ns: int
    fired: bool = False


class ContingentManager:
    """Drives contingents from order/fill callbacks, prices (``on_price``) and a timer (``on_timer``)."""

    def __init__(self, oms: OrderManager, *, strategy_id: str = "contingent") -> None:
        self.oms = oms
        self.strategy_id = strategy_id
        self.brackets: dict[str, Bracket] = {}
        self.trailing: dict[str, TrailingStop] = {}
        self.time_stops: dict[str, TimeStop] = {}
        self.protective: dict[str, Bracket] = {}  # instrument id -> the never-naked stop
        self.last_price: dict[str, Decimal] = {}
        self.notes: list[str] = []
        self._ids = count(1)
        self._by_order: dict[str, str] = {}
        oms.on_order(self._on_order)
        oms.on_fill(self._on_fill)

    # -- creation --------------------------------------------------------------------------------

    def bracket(
        self,
        instrument: Instrument,
        side: Side | str,
        quantity: object,
        *,
        stop_loss: object,
        take_profit: object = None,
        entry_price: object = None,
    ) -> Bracket:
        """Send the entry now; exits follow its fills. ``entry_price`` None means a market entry."""
        side_ = Side(str(side).upper())
        b = Bracket(
            f"br{next(self._ids)}",
            instrument,
            side_,
            None if take_profit is None else positive(take_profit, "take_profit"),
            positive(stop_loss, "stop_loss"),
        )
        kind = "MARKET" if entry_price is None else "LIMIT"
        rec = self.oms.new_order(
            instrument, strategy_id=self.strategy_id, side=side_, type=kind, quantity=quantity, price=entry_price,
            role="ENTRY", parent_id=b.id,
        )  # fmt: skip
        b.entry_id = rec.client_order_id
        self._register(b, rec.client_order_id)
        self._sync(b)
        return b

    def oco(
        self, instrument: Instrument, exit_side: Side | str, quantity: object, *, limit: object, stop: object
    ) -> Bracket:
        """Protect an existing position: a limit exit on the venue and a local stop, one cancels the other."""
        exit_ = Side(str(exit_side).upper())
        b = Bracket(
            f"oco{next(self._ids)}",
            instrument,
            Side.SELL if exit_ is Side.BUY else Side.BUY,
            positive(limit, "limit"),
            positive(stop, "stop"),
            base_qty=positive(quantity, "quantity"),
        )
        self.brackets[b.id] = b
        self._sync(b)
        return b

    def trailing_stop(
        self,
        instrument: Instrument,
        exit_side: Side | str,
        quantity: object,
        *,
        distance: object = None,
        percent: object = None,
        atr_mult: object = None,
        atr: object = None,
    ) -> TrailingStop:
        given = [x is not None for x in (distance, percent, atr_mult)]
        if sum(given) != 1:
            raise ValueError("trailing_stop: give exactly one of distance, percent or atr_mult")
        if atr_mult is not None and atr is None:
            raise ValueError("trailing_stop: atr_mult needs the current atr")
        t = TrailingStop(
            f"tr{next(self._ids)}",
            instrument,
            Side(str(exit_side).upper()),
            positive(quantity, "quantity"),
            None if distance is None else positive(distance, "distance"),
            None if percent is None else positive(percent, "percent"),
            None if atr_mult is None else positive(atr_mult, "atr_mult"),
            ZERO if atr is None else positive(atr, "atr"),
        )
        self.trailing[t.id] = t
        return t

    def time_stop(self, instrument: Instrument, after_ns: int) -> TimeStop:
        if after_ns <= 0:
            raise ValueError(f"time_stop: after_ns must be > 0 (got {after_ns})")
        t = TimeStop(f"ts{next(self._ids)}", instrument, self.oms.clock.monotonic_ns() + after_ns)
        self.time_stops[t.id] = t
        return t

    # -- drivers ---------------------------------------------------------------------------------

    def on_price(self, instrument_id: str, price: object) -> None:
        px = positive(price, "price")
        self.last_price[instrument_id] = px
        for b in list(self.brackets.values()):
            if b.instrument.id == instrument_id and not b.stopped and not b.done:
                hit = px <= b.stop_loss if b.exit_side is Side.SELL else px >= b.stop_loss
                if hit and self._target(b) > 0:
                    b.stopped = True
                    self.notes.append(f"{b.id}: stop {b.stop_loss} hit at {px}")
                    self._sync(b)
        for t in self.trailing.values():
            if t.instrument.id != instrument_id or t.fired:
                continue
            better = t.best is None or (px > t.best if t.exit_side is Side.SELL else px < t.best)
            if better:
                t.best = px
            level = t.level()
            if level is not None and (px <= level if t.exit_side is Side.SELL else px >= level):
                t.fired = True
                self.notes.append(f"{t.id}: trailing stop {level} hit at {px}")
                self._market(t.instrument, t.exit_side, t.quantity, "STOP", t.id)

    def update_atr(self, trailing_id: str, atr: object) -> None:
        self.trailing[trailing_id].atr = positive(atr, "atr")

    def on_timer(self) -> None:
        now = self.oms.clock.monotonic_ns()
        for t in self.time_stops.values():
            if not t.fired and now >= t.deadline_mono_ns:
                t.fired = True
                self.notes.append(f"{t.id}: time stop")
                for b in self.brackets.values():
                    if b.instrument.id == t.instrument.id and not b.done:
                        b.stopped = True
                        self._sync(b)
                if not any(b.instrument.id == t.instrument.id for b in self.brackets.values()):
                    self.flatten(t.instrument, t.id)

    def ensure_protected(self, instrument: Instrument, stop_distance: object = None) -> str:
        """Never naked: arm a stop for an unprotected position, or flatten it if no stop can be set."""
        qty = self.oms.position(instrument.id).quantity
        if qty == 0:
            return "flat"
        covered = sum(
            (self._target(b) for b in self.brackets.values() if b.instrument.id == instrument.id and not b.done),
            ZERO,
        ) + sum((t.quantity for t in self.trailing.values() if t.instrument.id == instrument.id and not t.fired), ZERO)
        if covered >= abs(qty):
            return "protected"
        px = self.last_price.get(instrument.id)
        if stop_distance is None or px is None:
            self.flatten(instrument, "never-naked")
            return "flattened"
        dist = positive(stop_distance, "stop_distance")
        exit_side = Side.SELL if qty > 0 else Side.BUY
        stop = px - dist if exit_side is Side.SELL else px + dist
        b = Bracket(f"nn{next(self._ids)}", instrument, Side.BUY if qty > 0 else Side.SELL, None, stop)
        b.base_qty = abs(qty) - covered
        self.brackets[b.id] = b
        self.protective[instrument.id] = b
        return "protected"

    def flatten(self, instrument: Instrument, why: str) -> None:
        qty = self.oms.position(instrument.id).quantity
        working = sum((r.leaves_qty for r in self.oms.working(instrument.id)), ZERO)
        for r in self.oms.working(instrument.id):
            self.oms.cancel(r.client_order_id)
        if qty and not working:
            self._market(instrument, Side.SELL if qty > 0 else Side.BUY, abs(qty), "STOP", why)

    # -- the sizing rule -------------------------------------------------------------------------

    def _entry_filled(self, b: Bracket) -> Decimal:
        return self.oms.get(b.entry_id).filled_qty if b.entry_id else b.base_qty

    def _exits_filled(self, b: Bracket) -> Decimal:
        return sum((self.oms.get(c).filled_qty for c in b.tp_ids + b.exit_ids), ZERO)

    def _target(self, b: Bracket) -> Decimal:
        raw = self._entry_filled(b) - self._exits_filled(b)
        return max(ZERO, round_to_increment(raw, b.instrument.step_size, "down"))

    def _sync(self, b: Bracket) -> None:
        if b.done:
            return
        entry = self.oms.orders.get(b.entry_id) if b.entry_id else None
        tp = self.oms.orders.get(b.tp_ids[-1]) if b.tp_ids else None
        exit_ = self.oms.orders.get(b.exit_ids[-1]) if b.exit_ids else None
        if exit_ is not None and exit_.status.is_working:
            return  # the market exit is in flight: wait for its outcome
        target = self._target(b)
        if b.stopped:
            busy = False
            for rec in (entry, tp):
                if rec is not None and rec.status.is_working:
                    busy = True
                    self.oms.cancel(rec.client_order_id)
            if busy:
                return
            if target > 0:
                rec = self._market(b.instrument, b.exit_side, target, "STOP", b.id)
                if rec is not None:
                    b.exit_ids.append(rec.client_order_id)
                    self._register(b, rec.client_order_id)
                    if rec.status.is_working:
                        return
                    target = self._target(b)
            if target == 0:
                b.done = True
            return
        if b.take_profit is not None:
            if tp is not None and tp.status.is_working:
                if tp.status in (OmsStatus.ACCEPTED, OmsStatus.PARTIALLY_FILLED) and tp.leaves_qty != target:
                    self.oms.cancel(tp.client_order_id)  # resized once the cancel settles
                return
            if target > 0:
                rec = self._limit(b, target)
                if rec is not None:
                    b.tp_ids.append(rec.client_order_id)
                    self._register(b, rec.client_order_id)
        entry_done = entry is None or not entry.status.is_working
        if entry_done and target == 0 and (b.tp_ids or b.take_profit is None) and self._exits_filled(b) > 0:
            b.done = True
        if entry_done and self._entry_filled(b) == 0:
            b.done = True  # the entry never traded: nothing to protect

    def _limit(self, b: Bracket, qty: Decimal) -> OrderRecord | None:
        try:
            return self.oms.new_order(
                b.instrument, strategy_id=self.strategy_id, side=b.exit_side, type="LIMIT", quantity=qty,
                price=b.take_profit, role="EXIT", parent_id=b.id,
            )  # fmt: skip
        except DomainError as exc:
            self.notes.append(f"{b.id}: take-profit of {qty} not sent: {exc}")
            return None

    def _market(self, inst: Instrument, side: Side, qty: Decimal, role: str, parent: str) -> OrderRecord | None:
        try:
            return self.oms.new_order(
                inst, strategy_id=self.strategy_id, side=side, type="MARKET", quantity=qty, role=role, parent_id=parent
            )
        except DomainError as exc:
            self.notes.append(f"{parent}: market exit of {qty} not sent: {exc}")
            return None

    # -- callbacks -------------------------------------------------------------------------------

    def _register(self, b: Bracket, client_order_id: str) -> None:
        self.brackets[b.id] = b
        self._by_order[client_order_id] = b.id

    def _on_order(self, rec: OrderRecord) -> None:
        bid = self._by_order.get(rec.client_order_id)
        if bid is not None:
            self._sync(self.brackets[bid])

    def _on_fill(self, rec: OrderRecord, fill: Fill) -> None:
        self._on_order(rec)
