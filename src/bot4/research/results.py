"""What a finished backtest hands to metrics, the HTML report, storage and ``--json``.

Money on fills and trades is exact (Decimal, in the instrument's quote currency). The equity curve is
marked to market with float closes: it is a picture of the run, not an accounting record; the exact
final equity is carried separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from bot4.data.bars import BarSeries


@dataclass(frozen=True)
class FillRecord:
    """One execution, as the venue reported it."""

    ts: int  # UTC ns when the fill happened
    strategy_id: str
    instrument_id: str  # "VENUE:BASE/QUOTE"
    client_order_id: str
    side: str  # "BUY" | "SELL"
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # "MAKER" | "TAKER"


@dataclass(frozen=True)
class TradeRecord:
    """One round trip: a position opened from flat and closed back to flat."""

    strategy_id: str
    instrument_id: str
    direction: str  # "LONG" | "SHORT"
    quantity: Decimal  # the largest size the position reached
    entry_ts: int
    entry_price: Decimal  # quantity-weighted average of the opening fills
    exit_ts: int
    exit_price: Decimal  # quantity-weighted average of the closing fills
    pnl: Decimal  # realized, net of every fee paid on the trade's fills
    fees: Decimal
    return_pct: float  # pnl / (entry_price * quantity) * 100


@dataclass(frozen=True)
class RunEvent:
    """Something the user must see: a refused order, a stopped strategy, a data gap."""

    ts: int
    kind: str  # "ORDER_DENIED" | "ORDER_REJECTED" | "STRATEGY_ERROR" | "DATA_GAP" | ...
    source: str
    message: str


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything one run produced."""

    config: dict[str, Any]  # the run's configuration as plain JSON-able values
    quote_currency: str
    starting_cash: Decimal
    final_equity: Decimal  # exact: cash plus positions valued at the last close
    equity_ts: npt.NDArray[np.int64]  # UTC ns, one point per bar close
    equity: npt.NDArray[np.float64]
    gross_exposure: npt.NDArray[np.float64]  # |position value| / equity at each point
    fills: tuple[FillRecord, ...]
    trades: tuple[TradeRecord, ...]
    bars: dict[str, BarSeries]  # instrument_id -> bars, for price charts
    events: tuple[RunEvent, ...] = ()
    open_positions: dict[str, Decimal] = field(default_factory=dict)  # instrument_id -> signed qty at end
