"""The small interfaces the engine talks to, so backtest, paper and live swap implementations."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from bot4.model.events import Bar, OrderEvent, QuoteTick
from bot4.model.fill import Fill
from bot4.model.orders import Order

#: Strategy id of orders the engine sends on its own behalf (flattening); client ids start "risk-".
SYSTEM_STRATEGY_ID = "risk"


class Clock(Protocol):
    """Where all time comes from. Only the live clock reads the system time."""

    def now_ns(self) -> int:
        """UTC nanoseconds."""
        ...


EventSink = Callable[[object], None]


class Venue(Protocol):
    """An execution venue. Events (accepted, rejected, filled, canceled) go to the sink it was given."""

    def submit(self, order: Order) -> None:
        """Send an order; the outcome arrives as events."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel a working order; the outcome arrives as events."""
        ...

    def open_orders(self) -> list[Order]:
        """Orders still working at the venue."""
        ...


class SimulatedVenue(Venue, Protocol):
    """A venue the backtest driver advances with market data."""

    def on_bar(self, bar: Bar) -> None:
        """Match working orders against a bar that has just become knowable."""
        ...


class ExecutionControl(Protocol):
    """What the risk engine can ask of the engine, whatever the mode (backtest, paper, live)."""

    def now_ns(self) -> int: ...

    def cancel_all(self, reason: str) -> int:
        """Cancel every working order of every strategy; return how many cancels were sent."""
        ...

    def flatten_all(self, reason: str) -> int:
        """Send reduce-only market orders that close every open position; return how many."""
        ...

    def net_positions(self) -> dict[str, Decimal]:
        """Account-level signed quantity per instrument id (non-zero only)."""
        ...

    def cash(self) -> dict[str, Decimal]:
        """Cash per currency in bot4's own books."""
        ...

    def open_orders(self) -> list[Order]: ...

    def reduce_positions(self, fraction: Decimal | float, reason: str) -> int:
        """Send reduce-only market orders closing ``fraction`` of every position (rounded down to the step)."""
        ...

    def last_price(self, instrument_id: str) -> float | None:
        """The latest close seen for an instrument, if any."""
        ...


class RiskHook(Protocol):
    #: True when ``on_bar`` must be called for every bar; False lets the engine skip the call.
    wants_market_data: bool

    def bind(self, control: ExecutionControl) -> None:
        """Called once by the engine before the run starts."""
        ...

    def check(self, order: Order) -> str | None:
        """Return ``None`` to approve, or the reason for denying the order."""
        ...

    def on_bar(self, bar: Bar) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_quote(self, quote: QuoteTick) -> None: ...

    def on_order_event(self, event: OrderEvent) -> None:
        """Every order event from a venue (accepted, rejected, filled, canceled...)."""
        ...
