"""A tradable instrument and the venue rules every price and quantity on it must obey."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot4.model.errors import InvalidValue
from bot4.model.numbers import ZERO, is_multiple, non_negative, positive, round_to_increment, to_decimal


def make_instrument_id(venue: str, symbol: str) -> str:
    """``VENUE:BASE/QUOTE``: one string that names an instrument everywhere in bot4."""
    return f"{venue}:{symbol}"


@dataclass(frozen=True, slots=True)
class Instrument:
    """Spot instrument with exchange-style filters (tick, step, minimums) and fee rates.

    Fee rates are fractions of notional (0.001 = 0.1 %); a negative maker fee is a rebate.
    """

    venue: str
    symbol: str  # "BASE/QUOTE"
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal

    def __post_init__(self) -> None:
        for name in ("venue", "symbol", "base", "quote"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidValue(name, value, "must be a non-empty string")
        if self.symbol != f"{self.base}/{self.quote}":
            raise InvalidValue("symbol", self.symbol, f"must be '{self.base}/{self.quote}' (BASE/QUOTE)")
        positive(self.tick_size, "tick_size")
        positive(self.step_size, "step_size")
        non_negative(self.min_quantity, "min_quantity")
        non_negative(self.min_notional, "min_notional")
        for name in ("maker_fee", "taker_fee"):
            fee = to_decimal(getattr(self, name), name)
            if not Decimal("-0.01") <= fee < Decimal("0.1"):
                raise InvalidValue(name, fee, "must be a fraction of notional between -0.01 and 0.1")

    @classmethod
    def spot(
        cls,
        venue: str,
        symbol: str,
        *,
        tick_size: object = "0.00000001",
        step_size: object = "0.00000001",
        min_quantity: object = None,
        min_notional: object = 0,
        maker_fee: object = "0.001",
        taker_fee: object = "0.001",
    ) -> Instrument:
        """Build from loose inputs (strings, ints, floats), validating each named field."""
        if not isinstance(symbol, str) or symbol.count("/") != 1:
            raise InvalidValue("symbol", symbol, "must look like BASE/QUOTE, e.g. ETH/BTC")
        base, quote = (part.strip().upper() for part in symbol.split("/"))
        step = positive(step_size, "step_size")
        return cls(
            venue=venue.upper(),
            symbol=f"{base}/{quote}",
            base=base,
            quote=quote,
            tick_size=positive(tick_size, "tick_size"),
            step_size=step,
            min_quantity=step if min_quantity is None else non_negative(min_quantity, "min_quantity"),
            min_notional=non_negative(min_notional, "min_notional"),
            maker_fee=to_decimal(maker_fee, "maker_fee"),
            taker_fee=to_decimal(taker_fee, "taker_fee"),
        )

    @property
    def id(self) -> str:
        return make_instrument_id(self.venue, self.symbol)

    # -- converting loose numbers (signals, market data) to exact, rounded values -------------------

    def make_price(self, value: object, field: str = "price", rounding: str = "nearest") -> Decimal:
        """A positive price rounded to the tick (``nearest``, ``floor`` or ``ceiling``)."""
        price = round_to_increment(positive(value, field), self.tick_size, rounding)
        if price <= 0:
            raise InvalidValue(field, value, f"rounds to zero at tick size {self.tick_size}")
        return price

    def make_quantity(self, value: object, field: str = "quantity") -> Decimal:
        """A non-negative quantity rounded *down* to the step, so an order never exceeds what was meant."""
        return round_to_increment(non_negative(value, field), self.step_size, "down")

    # -- checking values that must already be exact ---------------------------------------------------

    def check_price(self, value: object, field: str = "price") -> Decimal:
        """Refuse a price that is not positive, finite and on the tick grid."""
        price = positive(value, field)
        if not is_multiple(price, self.tick_size):
            raise InvalidValue(field, value, f"is not a multiple of the tick size {self.tick_size}")
        return price

    def check_quantity(self, value: object, field: str = "quantity") -> Decimal:
        """Refuse a quantity that is not positive, on the step grid and at least the minimum."""
        qty = positive(value, field)
        if not is_multiple(qty, self.step_size):
            raise InvalidValue(field, value, f"is not a multiple of the step size {self.step_size}")
        if qty < self.min_quantity:
            raise InvalidValue(field, value, f"is below the minimum quantity {self.min_quantity}")
        return qty

    def check_notional(self, price: Decimal, quantity: Decimal, field: str = "notional") -> Decimal:
        """Refuse ``price * quantity`` below the instrument's minimum notional."""
        notional = price * quantity
        if notional < self.min_notional or notional <= ZERO:
            raise InvalidValue(field, notional, f"is below the minimum notional {self.min_notional} {self.quote}")
        return notional
