"""A position in one instrument with exact weighted-average entry and realized PnL."""

from __future__ import annotations

from decimal import Decimal

from bot4.model.enums import Side
from bot4.model.fill import Fill
from bot4.model.numbers import ZERO


class Position:
    """Signed quantity (long > 0, short < 0), average entry price and realized PnL, all exact.

    Realized PnL excludes fees; the portfolio books fees against cash separately so both stay visible.
    """

    __slots__ = ("avg_price", "instrument_id", "quantity", "realized_pnl")

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        self.quantity = ZERO
        self.avg_price = ZERO
        self.realized_pnl = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def apply(self, fill: Fill) -> Decimal:
        """Apply a fill and return the PnL it realized (excluding fees)."""
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        qty = self.quantity
        if qty == 0 or (qty > 0) == (signed > 0):
            total = abs(qty) + fill.quantity
            self.avg_price = (abs(qty) * self.avg_price + fill.quantity * fill.price) / total
            self.quantity = qty + signed
            return ZERO
        closed = min(abs(qty), fill.quantity)
        direction = 1 if qty > 0 else -1
        realized = closed * (fill.price - self.avg_price) * direction
        self.realized_pnl += realized
        self.quantity = qty + signed
        if self.quantity == 0:
            self.avg_price = ZERO
        elif (self.quantity > 0) != (qty > 0):
            self.avg_price = fill.price  # flipped through zero: the remainder opened at the fill price
        return realized

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """PnL of the open quantity marked at ``mark``."""
        return self.quantity * (mark - self.avg_price) if self.quantity else ZERO

    def __repr__(self) -> str:
        return (
            f"Position({self.instrument_id}, qty={self.quantity}, avg={self.avg_price}, realized={self.realized_pnl})"
        )
