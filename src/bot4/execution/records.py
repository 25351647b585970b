"""The plain data the order manager keeps and journals: order records, venue reports, positions.

Venue clients translate whatever their venue says into ``ExecReport``/``OrderSnapshot``; the order
manager never sees a venue's own message format. ``seq`` is the venue's ordering field (Binance's
execution id or transaction time): reports are ordered by it, never by arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot4.execution.states import OmsStatus
from bot4.model.fill import Fill
from bot4.model.numbers import ZERO
from bot4.model.orders import Order


@dataclass(frozen=True, slots=True)
class ExecReport:
    """One thing the venue said about one order (stream event, ack, or our reading of a response).

    ``status`` is the venue status after the event (None for informational reports such as a
    refused cancel). ``fill`` carries the execution, if any, with ``trade_seq`` its venue sequence.
    ``cum_quantity`` is the venue's cumulative filled quantity (a jump over our own sum reveals a
    lost fill). ``cancel_refused`` marks a cancel the venue turned down (the order is still open).
    """

    client_order_id: str
    status: OmsStatus | None
    seq: int
    ts_event: int
    instrument_id: str = ""
    cum_quantity: Decimal = ZERO
    fill: Fill | None = None
    trade_seq: int = 0
    reason: str = ""
    code: int = 0
    cancel_refused: bool = False


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The venue's answer to "what is order <client id>?" (GET /order, open orders)."""

    client_order_id: str
    instrument_id: str
    side: str
    type: str
    status: OmsStatus
    quantity: Decimal
    cum_quantity: Decimal
    price: Decimal | None = None
    ts_update: int = 0


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One of our executions as the venue lists it (myTrades), with its per-instrument sequence."""

    fill: Fill
    seq: int


@dataclass(slots=True)
class OrderRecord:
    """Everything the order manager knows about one order intent; journaled on every change."""

    client_order_id: str
    intent_seq: int
    venue: str
    order: Order
    role: str = "ENTRY"  # ENTRY, EXIT, STOP, HEDGE, EXTERNAL, ADOPTED
    parent_id: str = ""  # parent order (bracket legs) or parent fill id (hedges)
    status: OmsStatus = OmsStatus.INITIALIZED
    filled_qty: Decimal = ZERO  # sum of the fills applied (exactly once each)
    reported_cum: Decimal = ZERO  # highest cumulative quantity the venue reported
    notional: Decimal = ZERO  # sum of fill quantity * price, for the average price
    last_seq: int = 0
    reason: str = ""
    # not journaled: local timing on the monotonic clock, and query bookkeeping
    sent_mono_ns: int = field(default=0, compare=False)
    not_found: int = field(default=0, compare=False)

    @property
    def quantity(self) -> Decimal:
        return self.order.quantity if self.order.quantity is not None else ZERO

    @property
    def leaves_qty(self) -> Decimal:
        return ZERO if self.status.is_terminal else max(ZERO, self.quantity - self.filled_qty)

    @property
    def avg_price(self) -> Decimal:
        return self.notional / self.filled_qty if self.filled_qty else ZERO

    @property
    def has_gap(self) -> bool:
        """The venue reported more filled than the fills we hold: some fill went missing."""
        return self.reported_cum > self.filled_qty


@dataclass(frozen=True, slots=True)
class PositionRow:
    """A position as journaled: exact signed quantity, average entry and realized PnL (fees apart)."""

    venue: str
    instrument_id: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class FillRow:
    """A fill as journaled, keyed by (venue, instrument, trade id)."""

    venue: str
    fill: Fill
    trade_seq: int


@dataclass(slots=True)
class JournalSnapshot:
    """What a journal holds when the order manager starts."""

    orders: list[OrderRecord] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    fees: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (venue, currency) -> paid
    meta: dict[str, str] = field(default_factory=dict)
    next_intent_seq: int = 1
