"""The server's ground-truth ledger: every order, fill and POST as the fake exchange saw it.

Later issues' "global oracle" asserts against this (orders by clientOrderId, ``executedQty`` per
order, POST counts per clientOrderId), so it is plain data with Binance-shaped JSON views.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


def fmt(value: Decimal | None) -> str:
    """Binance prints amounts with 8 decimals."""
    return f"{(value or ZERO):.8f}"


@dataclass(slots=True)
class TradeRecord:
    """One of our fills (``myTrades`` row)."""

    trade_id: int
    order_id: int
    account: str
    symbol: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool
    execution_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.price * self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


@dataclass(slots=True)
class OrderRecord:
    """One order as the exchange holds it; ``status`` uses Binance's names."""

    order_id: int
    account: str
    symbol: str
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal | None
    stop_price: Decimal | None
    orig_qty: Decimal
    quote_order_qty: Decimal
    time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_ms: int = 0
    trades: list[TradeRecord] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_json(self) -> dict[str, Any]:
        """The ``GET /api/v3/order`` shape."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(self.stop_price),
            "icebergQty": fmt(ZERO),
            "time": self.time_ms,
            "updateTime": self.update_ms or self.time_ms,
            "isWorking": self.is_open,
            "workingTime": self.time_ms,
            "origQuoteOrderQty": fmt(self.quote_order_qty),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def to_result(self, resp_type: str) -> dict[str, Any]:
        """The ``POST /api/v3/order`` reply for ``newOrderRespType`` ACK, RESULT or FULL."""
        if resp_type == "ACK":
            return {
                "symbol": self.symbol,
                "orderId": self.order_id,
                "orderListId": -1,
                "clientOrderId": self.client_order_id,
                "transactTime": self.time_ms,
            }
        out = self.to_json()
        out["transactTime"] = self.time_ms
        for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "origQuoteOrderQty"):
            out.pop(key, None)
        if resp_type == "FULL":
            out["fills"] = [
                {
                    "price": fmt(t.price),
                    "qty": fmt(t.qty),
                    "commission": fmt(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in self.trades
            ]
        return out


@dataclass(slots=True)
class Ledger:
    """Everything the exchange did, in order; ``posts`` counts ``POST /order`` per (account, clientOrderId)."""

    orders: dict[int, OrderRecord] = field(default_factory=dict)
    trades: list[TradeRecord] = field(default_factory=list)
    posts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def orders_by_client_id(self, account: str, client_order_id: str) -> list[OrderRecord]:
        return [o for o in self.orders.values() if o.account == account and o.client_order_id == client_order_id]

    def snapshot(self) -> dict[str, Any]:
        """JSON-friendly copy for the ``/_sim/ledger`` debug endpoint."""
        return {
            "orders": [{"account": o.account, **o.to_json()} for o in self.orders.values()],
            "trades": [{"account": t.account, "executionId": t.execution_id, **t.to_json()} for t in self.trades],
            "posts": [{"account": a, "clientOrderId": c, "count": n} for (a, c), n in sorted(self.posts.items())],
        }
