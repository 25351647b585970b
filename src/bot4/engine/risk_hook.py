"""The seam where the risk engine sits on every order, and what it may do to the engine.

Every order a strategy submits passes ``RiskHook.check`` before any venue sees it. A risk engine may
also watch market data and fills (``on_bar``, ``on_fill``) and act through ``ExecutionControl``:
cancel everything, flatten everything, read positions. ``PassThroughRisk`` approves everything and
watches nothing, so a run without a risk engine pays nothing per bar.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot4.model.events import Bar
from bot4.model.fill import Fill
from bot4.model.orders import Order


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


class PassThroughRisk:
    """Approves every order and watches nothing."""

    wants_market_data = False

    def bind(self, control: ExecutionControl) -> None:
        pass

    def check(self, order: Order) -> str | None:
        return None

    def on_bar(self, bar: Bar) -> None:
        pass

    def on_fill(self, fill: Fill) -> None:
        pass
