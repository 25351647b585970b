"""Orders as immutable requests, validated against the instrument before anything else sees them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from bot4.model.enums import OrderType, Side, TimeInForce
from bot4.model.errors import InvalidValue
from bot4.model.instrument import Instrument
from bot4.model.numbers import positive


@dataclass(frozen=True, slots=True)
class Order:
    """What a strategy asks a venue to do. Build it with ``Order.create`` so every field is checked.

    ``quantity`` is in base units. A MARKET BUY may instead give ``quote_quantity``: the quote amount to
    spend *including* the taker fee (like Binance's ``quoteOrderQty``); the venue fills the largest
    step-multiple quantity it buys.
    """

    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: Side
    type: OrderType
    quantity: Decimal | None
    price: Decimal | None = None  # limit price (LIMIT, STOP_LIMIT)
    trigger_price: Decimal | None = None  # stop trigger (STOP_MARKET, STOP_LIMIT)
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    quote_quantity: Decimal | None = None
    ts_init: int = 0  # UTC ns when the strategy created it

    @classmethod
    def create(
        cls,
        instrument: Instrument,
        *,
        client_order_id: str,
        strategy_id: str,
        side: Side | str,
        type: OrderType | str = OrderType.MARKET,
        quantity: object = None,
        price: object = None,
        trigger_price: object = None,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        quote_quantity: object = None,
        ts_init: int = 0,
    ) -> Order:
        """Validate every field against ``instrument`` and the order type, naming the first bad one."""
        side_ = _enum(Side, side, "side")
        type_ = _enum(OrderType, type, "type")
        tif = _enum(TimeInForce, time_in_force, "time_in_force")
        if not client_order_id or not isinstance(client_order_id, str):
            raise InvalidValue("client_order_id", client_order_id, "must be a non-empty string")

        qty: Decimal | None = None
        quote_qty: Decimal | None = None
        if quote_quantity is not None:
            if type_ is not OrderType.MARKET or side_ is not Side.BUY:
                raise InvalidValue("quote_quantity", quote_quantity, "is only allowed on MARKET BUY orders")
            if quantity is not None:
                raise InvalidValue("quantity", quantity, "give either quantity or quote_quantity, not both")
            quote_qty = positive(quote_quantity, "quote_quantity")
        else:
            if quantity is None:
                raise InvalidValue("quantity", quantity, "is required")
            qty = instrument.check_quantity(quantity, "quantity")

        px = None if price is None else instrument.check_price(price, "price")
        trig = None if trigger_price is None else instrument.check_price(trigger_price, "trigger_price")
        needs_price = type_ in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_trigger = type_ in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        if needs_price and px is None:
            raise InvalidValue("price", price, f"is required for a {type_.value} order")
        if not needs_price and px is not None:
            raise InvalidValue("price", price, f"is not allowed on a {type_.value} order")
        if needs_trigger and trig is None:
            raise InvalidValue("trigger_price", trigger_price, f"is required for a {type_.value} order")
        if not needs_trigger and trig is not None:
            raise InvalidValue("trigger_price", trigger_price, f"is not allowed on a {type_.value} order")
        if post_only and type_ is not OrderType.LIMIT:
            raise InvalidValue("post_only", post_only, "is only allowed on LIMIT orders")
        if post_only and tif is not TimeInForce.GTC:
            raise InvalidValue("time_in_force", tif.value, "a post-only order must be GTC")
        if px is not None and qty is not None:
            instrument.check_notional(px, qty)
        return cls(
            client_order_id=client_order_id,
            strategy_id=strategy_id,
            instrument_id=instrument.id,
            side=side_,
            type=type_,
            quantity=qty,
            price=px,
            trigger_price=trig,
            time_in_force=tif,
            post_only=bool(post_only),
            reduce_only=bool(reduce_only),
            quote_quantity=quote_qty,
            ts_init=ts_init,
        )


E = TypeVar("E", Side, OrderType, TimeInForce)


def _enum(kind: type[E], value: object, field: str) -> E:
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value).upper())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidValue(field, value, f"must be one of {allowed}") from None
