"""Exact numbers for the order and accounting path.

Floats are fine for market data and signals; the moment a value prices an order or moves money it
becomes a ``Decimal`` through ``to_decimal`` so that NaN, infinities and binary-float noise cannot
leak into balances. Floats are converted through their shortest round-trip ``repr`` (0.1 -> 0.1,
not 0.1000000000000000055...).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

from bot4.model.errors import InvalidValue

ZERO = Decimal(0)
ONE = Decimal(1)

ROUNDINGS = {"down": ROUND_DOWN, "floor": ROUND_FLOOR, "ceiling": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}


def to_decimal(value: object, field: str) -> Decimal:
    """Convert ``value`` to a finite Decimal or raise ``InvalidValue`` naming ``field``."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or value is None:
        raise InvalidValue(field, value, "must be a number")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(field, value, "must be a finite number")
        result = Decimal(float.__repr__(value))  # shortest round-trip form, also for numpy floats
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidValue(field, value, "is not a number") from None
    else:
        try:
            result = Decimal(str(float(value)))  # type: ignore[arg-type]  # numpy scalars and the like
        except (TypeError, ValueError, InvalidOperation):
            raise InvalidValue(field, value, "must be a number") from None
    if not result.is_finite():
        raise InvalidValue(field, value, "must be a finite number")
    return result


def positive(value: object, field: str) -> Decimal:
    """A finite Decimal strictly above zero."""
    d = to_decimal(value, field)
    if d <= 0:
        raise InvalidValue(field, value, "must be positive")
    return d


def non_negative(value: object, field: str) -> Decimal:
    """A finite Decimal at or above zero."""
    d = to_decimal(value, field)
    if d < 0:
        raise InvalidValue(field, value, "must not be negative")
    return d


def round_to_increment(value: Decimal, increment: Decimal, rounding: str = "nearest") -> Decimal:
    """Round ``value`` to a whole multiple of ``increment`` (``down`` = toward zero)."""
    steps = (value / increment).to_integral_value(rounding=ROUNDINGS[rounding])
    exponent = increment.as_tuple().exponent
    return (steps * increment).quantize(increment) if isinstance(exponent, int) and exponent < 0 else steps * increment


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` sits exactly on the ``increment`` grid."""
    return (value % increment) == 0
