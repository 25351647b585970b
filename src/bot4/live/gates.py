"""Node-level order gates in front of the risk engine: conditions only the running node can see.

The risk engine judges an order on its merits; the node knows things it cannot: the user stream has
a gap (our view of our own orders may be stale, so no new order until a REST resync, C4/C5), the
market feed of an instrument is unhealthy (no new entries priced from a broken book, D1-D3), the
node is stopping, a venue call is stuck (E4: until a REST reconcile after it returns), the venue
answered 429 (E1: until Retry-After passes) or banned our IP (E2: until a reconcile after the ban),
or an operator asked for a stricter mode the lane has not applied yet. The gate sits on the engine's ``RiskHook``
seam and passes everything else through, so a denial is an ``OrderDenied`` with a reason like any
risk denial. The engine's own reduce-only flattening (the kill path) is never blocked here: it must
not depend on the stream (F3).
"""

from __future__ import annotations

from collections.abc import Callable

from bot4.live.oplog import log_denial
from bot4.model.events import Bar, OrderEvent, QuoteTick
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.model.ports import SYSTEM_STRATEGY_ID, ExecutionControl, RiskHook

_SYSTEM_PREFIX = SYSTEM_STRATEGY_ID + "-"


class NodeGate:
    """Wraps a ``RiskHook``; ``stream_gap``, ``unhealthy`` and ``stopping`` are set by the node."""

    def __init__(self, inner: RiskHook) -> None:
        self.inner = inner
        self.wants_market_data = bool(getattr(inner, "wants_market_data", False))
        self.stream_gap: str | None = None  # reason while the user stream is not trusted
        self.unhealthy: dict[str, str] = {}  # instrument id -> why its market data is unusable
        self.stopping = False
        self.venue_stall: str | None = None  # reason while a venue call hangs, until the REST reconcile after it
        self.operator_hold: str | None = None  # an operator's stricter mode, recorded but not yet applied
        self.venue_ban: str | None = None  # a 418 ban, until a REST reconcile after it ends (E2)
        self.venue_limited: Callable[[], str | None] | None = None  # the client's 429/418 wait, read live (E1)
        self.denials = 0

    def bind(self, control: ExecutionControl) -> None:
        self.inner.bind(control)

    def check(self, order: Order) -> str | None:
        system = order.reduce_only and (
            order.strategy_id == SYSTEM_STRATEGY_ID or order.client_order_id.startswith(_SYSTEM_PREFIX)
        )
        if not system:
            reason = self._node_reason(order)
            if reason is not None:
                self.denials += 1
                log_denial(order.client_order_id, order.strategy_id, order.instrument_id, reason)
                return reason
        reason = self.inner.check(order)
        if reason is not None:
            log_denial(order.client_order_id, order.strategy_id, order.instrument_id, reason)
        return reason

    def _node_reason(self, order: Order) -> str | None:
        if self.stopping:
            return "NODE_STOPPING: the node is shutting down; no new orders"
        if self.stream_gap is not None:
            return f"STREAM_RECONCILING: user stream gap ({self.stream_gap}); no new orders until the REST resync"
        if self.venue_ban is not None:
            return f"VENUE_BANNED: {self.venue_ban}"
        limited = self.venue_limited() if self.venue_limited is not None else None
        if limited is not None:
            return f"VENUE_RATE_LIMITED: {limited}; no new orders until it passes"
        if self.operator_hold is not None and not order.reduce_only:
            return f"OPERATOR_MODE_PENDING: {self.operator_hold}; no new entries"
        if self.venue_stall is not None and not order.reduce_only:
            return f"VENUE_STALLED: {self.venue_stall}; no new entries until a REST reconcile"
        why = self.unhealthy.get(order.instrument_id)
        if why is not None and not order.reduce_only:
            return f"MARKET_DATA_UNHEALTHY: {order.instrument_id} {why}; no new entries"
        return None

    def on_bar(self, bar: Bar) -> None:
        self.inner.on_bar(bar)

    def on_fill(self, fill: Fill) -> None:
        self.inner.on_fill(fill)

    def on_quote(self, quote: QuoteTick) -> None:
        self.inner.on_quote(quote)

    def on_order_event(self, event: OrderEvent) -> None:
        self.inner.on_order_event(event)
