"""The small per-exchange differences the ccxt client needs, keyed by ccxt id.

ccxt unifies method names but not every parameter: how to send our client order id, how to find an
order or cancel it by that id, how to page our trades, and where the exact decimal strings live in
the raw answer (ccxt's unified numbers are floats). Only what is known from ccxt's own docs is here;
an exchange not listed gets ``GENERIC`` (unified ``clientOrderId``, no trade paging by id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class ExchangeOverrides:
    """Parameter names and raw field names for one ccxt exchange.

    ``raw_fields`` maps a unified field (``order.amount``, ``trade.fee``...) to the key in the raw
    ``info`` that holds it as an exact string. ``create_params`` are always sent with an order.
    """

    client_id_param: str = "clientOrderId"
    query_client_id_param: str = "clientOrderId"
    cancel_client_id_param: str = "clientOrderId"
    trades_from_id_param: str | None = None
    trades_page_limit: int = 500
    raw_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    create_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    key_restrictions: str | None = None  # name of the endpoint family that reports key permissions


GENERIC = ExchangeOverrides()

OVERRIDES: Mapping[str, ExchangeOverrides] = MappingProxyType(
    {
        "binance": ExchangeOverrides(
            client_id_param="newClientOrderId",
            query_client_id_param="origClientOrderId",
            cancel_client_id_param="origClientOrderId",
            trades_from_id_param="fromId",
            trades_page_limit=1000,
            raw_fields=MappingProxyType(
                {
                    "order.amount": "origQty",
                    "order.filled": "executedQty",
                    "order.price": "price",
                    "trade.amount": "qty",
                    "trade.price": "price",
                    "trade.fee": "commission",
                }
            ),
            create_params=MappingProxyType({"newOrderRespType": "FULL"}),
            # spot only: no currency/margin/futures endpoints (they need extra permissions, and the
            # local exchange server does not have them)
            options=MappingProxyType(
                {
                    "fetchMarkets": {"types": ["spot"]},
                    "fetchCurrencies": False,
                    "fetchMargins": False,
                    "defaultType": "spot",
                    "adjustForTimeDifference": False,
                }
            ),
            key_restrictions="binance",
        ),
        "bybit": ExchangeOverrides(
            client_id_param="orderLinkId",
            query_client_id_param="orderLinkId",
            cancel_client_id_param="orderLinkId",
            options=MappingProxyType({"defaultType": "spot"}),
        ),
        "okx": ExchangeOverrides(
            client_id_param="clOrdId",
            query_client_id_param="clOrdId",
            cancel_client_id_param="clOrdId",
            options=MappingProxyType({"defaultType": "spot"}),
        ),
    }
)


def overrides_for(exchange_id: str) -> ExchangeOverrides:
    return OVERRIDES.get(exchange_id, GENERIC)


__all__ = ["GENERIC", "OVERRIDES", "ExchangeOverrides", "overrides_for"]
