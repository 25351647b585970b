"""The domain: instruments, orders, fills, positions, events. Standard library only; no I/O."""

from bot4.model.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from bot4.model.errors import DomainError, InvalidValue
from bot4.model.events import (
    Bar,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    QuoteTick,
    StrategyError,
    TradeTick,
)
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument, make_instrument_id
from bot4.model.numbers import to_decimal
from bot4.model.orders import Order
from bot4.model.position import Position

__all__ = [
    "Bar",
    "DomainError",
    "Fill",
    "Instrument",
    "InvalidValue",
    "Liquidity",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderStatus",
    "OrderSubmitted",
    "OrderType",
    "Position",
    "QuoteTick",
    "Side",
    "StrategyError",
    "TimeInForce",
    "TradeTick",
    "make_instrument_id",
    "to_decimal",
]
