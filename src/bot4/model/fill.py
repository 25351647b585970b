"""One execution of (part of) an order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot4.model.enums import Liquidity, Side


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution as the venue reports it; ``trade_id`` is unique per (venue, instrument)."""

    trade_id: str
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal  # positive = paid, negative = rebate
    fee_currency: str
    liquidity: Liquidity
    ts_event: int  # UTC ns

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price
