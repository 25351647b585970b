"""Exact conversion between exchange decimals and the integer ticks/lots books work in.

Books keep integer prices (ticks) and sizes (lots) so that levels compare and add exactly and fast;
a value off the grid is refused instead of silently rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot4.data.book.errors import InvalidLevel


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise InvalidLevel(f"{field}: not a number (got {value!r})") from None
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        raise InvalidLevel(f"{field}: must be a number (got {value!r})")
    if not d.is_finite():
        raise InvalidLevel(f"{field}: must be finite (got {value!r})")
    return d


@dataclass(frozen=True, slots=True)
class Scale:
    """Tick (price increment) and lot (size increment) of one instrument's book."""

    tick: Decimal
    lot: Decimal

    def __post_init__(self) -> None:
        if not (isinstance(self.tick, Decimal) and self.tick > 0):
            raise InvalidLevel(f"tick: must be a positive Decimal (got {self.tick!r})")
        if not (isinstance(self.lot, Decimal) and self.lot > 0):
            raise InvalidLevel(f"lot: must be a positive Decimal (got {self.lot!r})")

    @classmethod
    def of(cls, tick: object, lot: object) -> Scale:
        return cls(_decimal(tick, "tick"), _decimal(lot, "lot"))

    def ticks(self, price: object, field: str = "price") -> int:
        """Price as whole ticks; refuses a price that is not positive or not on the tick grid."""
        d = _decimal(price, field)
        q, r = divmod(d, self.tick)
        if r or d <= 0:
            raise InvalidLevel(f"{field}: {price!r} is not a positive multiple of the tick {self.tick}")
        return int(q)

    def lots(self, size: object, field: str = "size") -> int:
        """Size as whole lots (zero allowed: it deletes a level); refuses negatives and off-grid sizes."""
        d = _decimal(size, field)
        q, r = divmod(d, self.lot)
        if r or d < 0:
            raise InvalidLevel(f"{field}: {size!r} is not a non-negative multiple of the lot {self.lot}")
        return int(q)

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick

    def size(self, lots: int) -> Decimal:
        return lots * self.lot
