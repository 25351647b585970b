"""What the local exchange lists: one spot symbol's filters and fees, and its ``exchangeInfo`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot4.model.instrument import Instrument
from bot4.venues.sim.matching.rules import SymbolRules

VENUE = "BINANCE"


@dataclass(frozen=True, slots=True)
class Listing:
    """A Binance spot symbol; defaults are BTCUSDT's (tick 0.01, step 0.000001, 0.1 % fees, 5 USDT notional)."""

    symbol: str = "BTCUSDT"
    base: str = "BTC"
    quote: str = "USDT"
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.000001")
    min_qty: Decimal = Decimal("0.000001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")

    def __post_init__(self) -> None:
        if self.symbol != self.base + self.quote:
            raise ValueError(f"listing symbol {self.symbol!r} must be base+quote ({self.base + self.quote!r})")

    def instrument(self) -> Instrument:
        return Instrument.spot(
            VENUE,
            f"{self.base}/{self.quote}",
            tick_size=self.tick_size,
            step_size=self.step_size,
            min_quantity=self.step_size,
            min_notional=0,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )

    def rules(self) -> SymbolRules:
        return SymbolRules.from_exchange_info(self.exchange_info())

    def exchange_info(self) -> dict[str, Any]:
        """This symbol's entry in ``GET /api/v3/exchangeInfo``."""
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": f"{self.tick_size:.8f}",
                    "maxPrice": "1000000.00000000",
                    "tickSize": f"{self.tick_size:.8f}",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": f"{self.min_qty:.8f}",
                    "maxQty": f"{self.max_qty:.8f}",
                    "stepSize": f"{self.step_size:.8f}",
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": f"{self.min_notional:.8f}",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }
