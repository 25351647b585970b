"""Per-instrument and per-order state of the matching venue (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot4.data.book.l2 import L2Book
from bot4.data.book.l3 import L3Book
from bot4.data.book.scale import Scale
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.matching.fees import FeeSchedule
from bot4.venues.sim.matching.rules import SymbolRules

ZERO = Decimal(0)

StpMode = Literal["cancel_newest", "cancel_oldest", "cancel_both"]
STP_NAMES = {"cancel_newest": "EXPIRE_TAKER", "cancel_oldest": "EXPIRE_MAKER", "cancel_both": "EXPIRE_BOTH"}


@dataclass(slots=True, eq=False)
class Working:
    """One accepted order while it can still trade. Prices in ticks, quantities in lots."""

    order: Order
    seq: int  # arrival number: time priority among our own orders
    ts_accepted: int
    is_buy: bool
    price: int | None  # limit price; None for market behaviour
    trigger: int | None  # stop trigger until it fires, then None
    leaves: int
    cum: int = 0
    locked: Decimal = ZERO  # quote for buys, base for sells
    ahead: int = 0  # visible size queued in front of us at our price
    level_seen: int = 0  # the level's size when ``ahead`` was last updated
    ahead_ids: frozenset[int] = frozenset()  # L3: exchange order ids in front of us
    resting: bool = False
    oco: str | None = None  # client id of the other OCO leg
    bars_seen: int = 0  # bars mode: eligible bars already seen


@dataclass(slots=True, eq=False)
class Market:
    """One instrument: its rules, fees, the external book and our working orders (arrival order)."""

    inst: Instrument
    scale: Scale
    rules: SymbolRules
    fees: FeeSchedule
    book: L2Book
    l3: L3Book | None = None
    last_trade: int | None = None
    working: dict[str, Working] = field(default_factory=dict)
