"""Operator log lines for orders, fills and risk denials, written from the trading lane's listeners.

An operator tailing the JSON log must see what the node does with money without opening the journal.
These run on the lane after every order-manager change, so each checks the logger level first and
passes raw values as ``extra`` fields: the formatting cost is only paid when the line is written.
"""

from __future__ import annotations

import logging

from bot4.execution.records import OrderRecord
from bot4.execution.states import OmsStatus
from bot4.model.fill import Fill

log = logging.getLogger("bot4.node.orders")

_EVENTS = {
    OmsStatus.IN_FLIGHT: "order submitted",
    OmsStatus.ACCEPTED: "order accepted",
    OmsStatus.REJECTED: "order rejected",
    OmsStatus.CANCELED: "order cancelled",
    OmsStatus.EXPIRED: "order expired",
    OmsStatus.FAILED: "order failed",
}


def log_order_status(rec: OrderRecord, status: OmsStatus, reason: str) -> None:
    """INFO on submit/accept/reject (with the venue's reason)/cancel; other steps stay quiet."""
    event = _EVENTS.get(status)
    if event is None or not log.isEnabledFor(logging.INFO):
        return
    o = rec.order
    log.info(
        "%s: %s %s %s %s @ %s reason=%s",
        event, rec.client_order_id, o.side.value, o.quantity, o.instrument_id, o.price, reason or "-",
        extra={
            "kind": event.replace(" ", "_"), "client_order_id": rec.client_order_id, "strategy": o.strategy_id,
            "instrument": o.instrument_id, "side": o.side.value, "qty": str(o.quantity),
            "price": None if o.price is None else str(o.price), "status": status.value, "reason": reason,
        },
    )  # fmt: skip


def log_fill(rec: OrderRecord, fill: Fill) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "fill: %s %s %s %s @ %s fee %s %s",
        fill.client_order_id, fill.side.value, fill.quantity, fill.instrument_id, fill.price, fill.fee,
        fill.fee_currency,
        extra={
            "kind": "fill", "client_order_id": fill.client_order_id, "strategy": fill.strategy_id,
            "instrument": fill.instrument_id, "side": fill.side.value, "qty": str(fill.quantity),
            "price": str(fill.price), "fee": str(fill.fee), "fee_asset": fill.fee_currency,
            "trade_id": fill.trade_id, "order_filled": str(rec.filled_qty),
        },
    )  # fmt: skip


def log_denial(client_order_id: str, strategy_id: str, instrument_id: str, reason: str) -> None:
    if not log.isEnabledFor(logging.WARNING):
        return
    log.warning(
        "order denied: %s %s: %s",
        client_order_id, instrument_id, reason,
        extra={
            "kind": "order_denied", "client_order_id": client_order_id, "strategy": strategy_id,
            "instrument": instrument_id, "reason": reason,
        },
    )  # fmt: skip


__all__ = ["log_denial", "log_fill", "log_order_status"]
