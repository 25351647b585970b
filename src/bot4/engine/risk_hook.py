"""The seam where the risk engine sits on every order.

The protocols (``RiskHook``, ``ExecutionControl``) live in ``bot4.model.ports`` so the risk package
depends only on the model. ``PassThroughRisk`` approves everything and watches nothing, so a run
without a risk engine pays nothing per bar.
"""

from __future__ import annotations

from bot4.model.events import Bar, OrderEvent, QuoteTick
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID, ExecutionControl, RiskHook

__all__ = ["SYSTEM_STRATEGY_ID", "ExecutionControl", "PassThroughRisk", "RiskHook"]


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

    def on_quote(self, quote: QuoteTick) -> None:
        pass

    def on_order_event(self, event: OrderEvent) -> None:
        pass
