"""A venue's filters changed under a running node: one refresh, re-round, one retry, then an alert (G1).

Binance may change a symbol's tick, step or minimum notional while we trade; an order rounded to the
old filters is refused with ``-1013 Filter failure``. Then, on the trading lane: reload the venue's
instruments (at most once per ``min_refresh_s``, so a filter bot4 cannot satisfy never turns into a
refresh loop), swap the changed ones into the node (engine and reconciler share the node's dict),
re-round the order to them (quantity down, a buy's price down, a sell's up) and send it once more
under a fresh client order id of the same strategy (``TradingEngine.resubmit_as``), so its fills
reach that strategy. A retry that is refused again raises an alert and is never retried: one retry
per intent. The retry runs from the lane's order-poll tick, not inside the order manager's reject
callback, so the order manager is never re-entered.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from decimal import Decimal
from typing import Any

from bot4.engine.engine import TradingEngine
from bot4.execution.errors import VenueError
from bot4.model.enums import Side
from bot4.model.errors import ConfigError, DomainError
from bot4.model.instrument import Instrument
from bot4.model.orders import Order

FILTER_FAILURE = "-1013"
RETRIES_KEPT = 1_000
log = logging.getLogger("bot4.node")
Alert = Callable[[str, str, str], None]  # (audit kind, client order id, text)


class FilterRetry:
    """Plans retries from the engine's reject listener, runs them from the lane's order-poll tick."""

    def __init__(
        self,
        engine: TradingEngine,
        client: Any,
        instruments: MutableMapping[str, Instrument],
        monotonic_ns: Callable[[], int],
        alert: Alert,
        min_refresh_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.instruments = instruments
        self.monotonic_ns = monotonic_ns
        self.alert = alert
        self.min_refresh_ns = int(min_refresh_s * 1e9)
        self.refreshes = 0  # exchangeInfo reloads after a filter failure
        self.retries = 0  # orders sent again after one
        self.gave_up = 0  # retries refused again (alerted, never retried)
        self._last_refresh_ns: int | None = None
        self._pending: list[str] = []
        self._retry_of: OrderedDict[str, str] = OrderedDict()  # retry id -> original id (the latest only)

    def on_reject(self, order: Order, reason: str) -> str | None:
        """The engine's reject listener: a note for the strategy, or None when this is not a filter failure."""
        if not reason.startswith(FILTER_FAILURE):
            return None
        cid = order.client_order_id
        first = self._retry_of.get(cid)
        if first is not None:
            self.gave_up += 1
            self.alert(
                "FILTER_FAILURE",
                cid,
                f"{cid} (retry of {first}) refused again after a filters refresh: {reason}; not retried",
            )
            return "refused again after a filters refresh; not retried"
        if getattr(self.client, "load_instruments", None) is None:
            return None
        self._pending.append(cid)
        return "bot4 refreshes the venue's filters and retries once under a new client order id"

    def drain(self) -> None:
        """Run the planned retries (on the lane, outside any order manager callback)."""
        pending, self._pending = self._pending, []
        for cid in pending:
            try:
                self._retry(cid)
            except Exception as exc:  # one bad retry must not stop the lane's tick
                self.alert("FILTER_FAILURE", cid, f"{cid}: retry after a filter failure failed: {exc}")

    def _retry(self, cid: str) -> None:
        order = self.engine.orders.get(cid)
        if order is None:
            return
        if not self._refresh(cid):
            return
        inst = self.instruments.get(order.instrument_id)
        if inst is None:
            return
        try:
            qty = None if order.quantity is None else inst.make_quantity(order.quantity)
            price = None if order.price is None else inst.make_price(order.price, rounding=_rounding(order))
            trigger = None if order.trigger_price is None else inst.make_price(order.trigger_price)
        except DomainError as exc:
            self.alert("FILTER_FAILURE", cid, f"{cid}: cannot re-round to the new filters ({exc}); not retried")
            return
        new = self.engine.next_id_for(cid)
        if new is None:
            return
        self._retry_of[new] = cid  # before sending: a refusal is reported inside the submit call
        if len(self._retry_of) > RETRIES_KEPT:
            self._retry_of.popitem(last=False)
        last = self.engine.last_price(order.instrument_id)
        self.retries += 1
        log.warning("filter failure: %s sent again as %s (quantity %s, price %s)", cid, new, qty, price)
        self.engine.resubmit_as(
            cid,
            new,
            quantity=qty,
            price=price,
            trigger_price=trigger,
            reference_price=None if last is None else Decimal(repr(last)),
            reason=f"filter failure (-1013); re-rounded to tick {inst.tick_size}, step {inst.step_size}",
        )

    def _refresh(self, cid: str) -> bool:
        """Reload the instruments unless that was done within ``min_refresh_s``; False: do not retry."""
        now = self.monotonic_ns()
        if self._last_refresh_ns is not None and now - self._last_refresh_ns < self.min_refresh_ns:
            return True  # refreshed moments ago (several orders hit the same change): retry on those filters
        self._last_refresh_ns = now
        try:
            fresh: dict[str, Instrument] = self.client.load_instruments()
        except (VenueError, ConfigError) as exc:
            self.alert("FILTER_FAILURE", cid, f"{cid}: filters refresh failed ({exc}); not retried")
            return False
        self.refreshes += 1
        for iid, inst in fresh.items():
            old = self.instruments.get(iid)
            if old is not None and old != inst:
                log.warning(
                    "filters changed on the venue: %s tick %s -> %s, step %s -> %s, min notional %s -> %s",
                    iid, old.tick_size, inst.tick_size, old.step_size, inst.step_size, old.min_notional,
                    inst.min_notional,
                )  # fmt: skip
                self.instruments[iid] = inst
        return True


def _rounding(order: Order) -> str:
    """Round a limit price away from the market: never more aggressive than the strategy asked."""
    return "floor" if order.side is Side.BUY else "ceiling"


__all__ = ["FILTER_FAILURE", "FilterRetry"]
