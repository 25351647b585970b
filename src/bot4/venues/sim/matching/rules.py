"""Exchange symbol filters (Binance's names and semantics) checked before an order is accepted.

PRICE_FILTER (min/max price, tick), LOT_SIZE and MARKET_LOT_SIZE (min/max quantity, step), NOTIONAL
(min/max notional, whether they apply to market orders, which are valued at the reference price) and
PERCENT_PRICE_BY_SIDE (limit price within multipliers of the reference price; Binance uses a
weighted average price, the simulator uses the last trade or the mid). A failure is ``-1013`` with
Binance's message ``Filter failure: <NAME>`` and a detail naming the value and the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot4.model.enums import OrderType
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.sim.matching.codes import FILTER_FAILURE, Rejection, filter_failure

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PercentPriceBySide:
    bid_up: Decimal
    bid_down: Decimal
    ask_up: Decimal
    ask_down: Decimal
    name: str = "PERCENT_PRICE_BY_SIDE"  # or the older symmetric PERCENT_PRICE


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One symbol's filters; a zero maximum means "no maximum", as in exchangeInfo."""

    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    market_step_size: Decimal | None = None
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    min_notional: Decimal = ZERO
    max_notional: Decimal = ZERO
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    percent_price: PercentPriceBySide | None = None

    @classmethod
    def from_instrument(cls, inst: Instrument, **overrides: Any) -> SymbolRules:
        base: dict[str, Any] = {
            "tick_size": inst.tick_size,
            "step_size": inst.step_size,
            "min_qty": inst.min_quantity,
            "min_notional": inst.min_notional,
        }
        base.update(overrides)
        return cls(**base)

    @classmethod
    def from_exchange_info(cls, symbol_info: dict[str, Any]) -> SymbolRules:
        """Build from one ``symbols[]`` entry of Binance ``GET /api/v3/exchangeInfo``."""
        f = {flt["filterType"]: flt for flt in symbol_info.get("filters", [])}
        name = symbol_info.get("symbol", "?")
        try:
            price, lot = f["PRICE_FILTER"], f["LOT_SIZE"]
        except KeyError as exc:
            raise ValueError(f"exchangeInfo {name}: missing filter {exc}") from None
        mkt = f.get("MARKET_LOT_SIZE")
        notional = f.get("NOTIONAL") or f.get("MIN_NOTIONAL") or {}
        pps = f.get("PERCENT_PRICE_BY_SIDE")
        pp = f.get("PERCENT_PRICE")
        d = Decimal
        return cls(
            tick_size=d(price["tickSize"]),
            min_price=d(price["minPrice"]),
            max_price=d(price["maxPrice"]),
            step_size=d(lot["stepSize"]),
            min_qty=d(lot["minQty"]),
            max_qty=d(lot["maxQty"]),
            market_step_size=d(mkt["stepSize"]) if mkt else None,
            market_min_qty=d(mkt["minQty"]) if mkt else None,
            market_max_qty=d(mkt["maxQty"]) if mkt else None,
            min_notional=d(notional.get("minNotional", "0")),
            max_notional=d(notional.get("maxNotional", "0")),
            apply_min_to_market=bool(notional.get("applyMinToMarket", notional.get("applyToMarket", True))),
            apply_max_to_market=bool(notional.get("applyMaxToMarket", False)),
            percent_price=PercentPriceBySide(
                d(pps["bidMultiplierUp"]),
                d(pps["bidMultiplierDown"]),
                d(pps["askMultiplierUp"]),
                d(pps["askMultiplierDown"]),
            )
            if pps
            else (
                PercentPriceBySide(
                    d(pp["multiplierUp"]),
                    d(pp["multiplierDown"]),
                    d(pp["multiplierUp"]),
                    d(pp["multiplierDown"]),
                    "PERCENT_PRICE",
                )
                if pp
                else None
            ),
        )

    def check(self, order: Order, reference: Decimal | None) -> Rejection | None:
        """The first filter ``order`` fails, or None. ``reference`` prices market orders and bands."""
        is_market = order.type in (OrderType.MARKET, OrderType.STOP_MARKET)
        for field, price in (("price", order.price), ("stopPrice", order.trigger_price)):
            if price is None:
                continue
            if (
                price <= 0
                or price % self.tick_size
                or price < self.min_price
                or (self.max_price and price > self.max_price)
            ):
                return _fail(
                    "PRICE_FILTER",
                    f"{field} {price}: tick {self.tick_size}, range [{self.min_price}, {self.max_price or 'inf'}]",
                )
        qty = order.quantity
        if qty is not None:
            bad = self._lot_failure(qty, self.step_size, self.min_qty, self.max_qty)
            if bad:
                return _fail("LOT_SIZE", bad)
            if is_market and self.market_step_size is not None:
                bad = self._lot_failure(
                    qty, self.market_step_size, self.market_min_qty or ZERO, self.market_max_qty or ZERO
                )
                if bad:
                    return _fail("MARKET_LOT_SIZE", bad)
        price = (
            order.price
            if order.price is not None
            else (order.trigger_price if order.trigger_price is not None else reference)
        )
        if price is not None:
            notional = qty * price if qty is not None else order.quote_quantity
            if notional is not None:
                check_min = not is_market or self.apply_min_to_market
                check_max = self.max_notional and (not is_market or self.apply_max_to_market)
                if check_min and notional < self.min_notional:
                    return _fail("NOTIONAL", f"notional {notional} < minNotional {self.min_notional}")
                if check_max and notional > self.max_notional:
                    return _fail("NOTIONAL", f"notional {notional} > maxNotional {self.max_notional}")
        pp = self.percent_price
        if pp is not None and reference is not None and order.price is not None:
            up, down = (pp.bid_up, pp.bid_down) if order.side.value == "BUY" else (pp.ask_up, pp.ask_down)
            if not reference * down <= order.price <= reference * up:
                return _fail(
                    pp.name, f"price {order.price} outside [{reference * down}, {reference * up}] around {reference}"
                )
        return None

    @staticmethod
    def _lot_failure(qty: Decimal, step: Decimal, lo: Decimal, hi: Decimal) -> str:
        if qty <= 0 or (step and qty % step):  # exchangeInfo uses step 0 for "no step"
            return f"quantity {qty} is not a positive multiple of the step {step}"
        if qty < lo:
            return f"quantity {qty} < minQty {lo}"
        if hi and qty > hi:
            return f"quantity {qty} > maxQty {hi}"
        return ""


def _fail(name: str, detail: str) -> Rejection:
    return Rejection(FILTER_FAILURE, filter_failure(name), detail)
