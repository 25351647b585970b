"""The small interfaces the engine talks to, so backtest, paper and live swap implementations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bot4.model.events import Bar
from bot4.model.orders import Order


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
