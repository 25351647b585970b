"""Immutable events and market data that flow through the engine.

Naming: events are past tense. Every refusal is an event with a reason, never an exception or a
silent drop. Market data uses floats (it is observation, not money); ``ts_*`` are UTC ns.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from bot4.model.fill import Fill
from bot4.model.orders import Order


class Bar(NamedTuple):
    """One OHLCV bar, delivered at ``ts_close`` (when it became knowable).

    A NamedTuple rather than a dataclass: the backtest driver builds one per bar and tuple
    construction is several times cheaper than a frozen dataclass's.
    """

    instrument_id: str
    ts_open: int
    ts_close: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class TradeTick(NamedTuple):
    """A public trade print."""

    instrument_id: str
    ts_event: int
    price: float
    size: float
    aggressor: str  # "BUY" | "SELL" | ""
    trade_id: str


class QuoteTick(NamedTuple):
    """Top of book."""

    instrument_id: str
    ts_event: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Base of everything that happens to one order."""

    client_order_id: str
    strategy_id: str
    instrument_id: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class OrderSubmitted(OrderEvent):
    order: Order


@dataclass(frozen=True, slots=True)
class OrderDenied(OrderEvent):
    """Refused by bot4 before reaching a venue (risk, a stopped strategy, a bad request)."""

    reason: str


@dataclass(frozen=True, slots=True)
class OrderAccepted(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderRejected(OrderEvent):
    """Refused by the venue."""

    reason: str


@dataclass(frozen=True, slots=True)
class OrderFilled(OrderEvent):
    fill: Fill
    cum_quantity: Decimal  # cumulative filled quantity of the order after this fill
    leaves_quantity: Decimal  # what is still working after this fill


@dataclass(frozen=True, slots=True)
class OrderCanceled(OrderEvent):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderExpired(OrderEvent):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CancelRejected(OrderEvent):
    """A cancel (or the cancel leg of a cancel-replace) the venue refused; the order's state is unchanged."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderTriggered(OrderEvent):
    """A stop order's trigger was reached; it now works as a market or limit order."""

    trigger_price: Decimal


@dataclass(frozen=True, slots=True)
class FundingPaid:
    """A perpetual funding exchange: ``amount`` > 0 was paid by the account, < 0 received."""

    instrument_id: str
    ts_event: int
    rate: Decimal
    position: Decimal
    mark_price: Decimal
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class StrategyError:
    """A strategy raised; the engine stopped it and the run went on."""

    strategy_id: str
    ts_event: int
    callback: str
    error: str
