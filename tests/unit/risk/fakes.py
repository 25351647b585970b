"""A scriptable ExecutionControl and helpers to drive the risk engine without a full backtest."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.model.enums import Liquidity, Side
from bot4.model.events import Bar
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.risk.engine import RiskEngine
from bot4.risk.limits import RiskLimits
from tests.builders import make_instrument

BTC = make_instrument("BTC/USDT")
ETH = make_instrument("ETH/USDT")
S = 1_000_000_000
T0 = 1_700_000_000 * S

#: Every limit wide open, so a test can tighten exactly the one it is about.
PERMISSIVE: dict[str, Any] = {
    "max_order_notional": "1e12", "max_order_quantity": "1e12", "price_band": 0.9,
    "max_position_fraction": 10, "max_asset_concentration": 10, "max_venue_leverage": 100,
    "max_risk_per_trade": 1, "max_portfolio_heat": 10, "max_correlation": 1,
    "max_orders_per_window": 1_000_000, "max_total_orders": 1_000_000_000, "daily_loss_limit": 0.99,
    "drawdown_soft": 0.98, "drawdown_hard": 0.99, "var_limit": 0.99,
}


class FakeControl:
    def __init__(self, cash: Decimal = Decimal(10_000), now: int = T0) -> None:
        self.now = now
        self._cash = {"USDT": cash}
        self.positions: dict[str, Decimal] = {}
        self.orders: list[Order] = []
        self.cancel_calls: list[str] = []
        self.flatten_calls: list[str] = []

    def now_ns(self) -> int:
        return self.now

    def cancel_all(self, reason: str) -> int:
        self.cancel_calls.append(reason)
        n = len(self.orders)
        self.orders.clear()
        return n

    def flatten_all(self, reason: str) -> int:
        self.flatten_calls.append(reason)
        return len(self.positions)

    def net_positions(self) -> dict[str, Decimal]:
        return {k: v for k, v in self.positions.items() if v}

    def cash(self) -> dict[str, Decimal]:
        return dict(self._cash)

    def open_orders(self) -> list[Order]:
        return list(self.orders)

    def last_price(self, instrument_id: str) -> float | None:
        return None

    # -- test helpers: book a fill as the engine's portfolio would, then tell the risk engine ----------
    def fill(self, risk: RiskEngine, iid: str, side: str, qty: str, price: str, cid: str = "x") -> None:
        q, p = Decimal(qty), Decimal(price)
        s = Side(side)
        self._cash["USDT"] -= s.sign * q * p
        self.positions[iid] = self.positions.get(iid, Decimal(0)) + s.sign * q
        risk.on_fill(Fill(f"t{len(self.flatten_calls)}{cid}{qty}", cid, "s", iid, s, q, p, Decimal(0), "USDT",
                          Liquidity.TAKER, self.now))


def make_risk(tmp_path: Path, cash: Decimal = Decimal(10_000), **limits: Any) -> tuple[RiskEngine, FakeControl]:
    risk = RiskEngine(RiskLimits.parse({**PERMISSIVE, **limits}), state_dir=tmp_path / "state")
    control = FakeControl(cash)
    risk.bind(control)
    return risk, control


def bar(risk: RiskEngine, control: FakeControl, close: float, iid: str = BTC.id, high: float | None = None,
        low: float | None = None, dt: int = 60 * S) -> None:
    control.now += dt
    risk.on_bar(Bar(iid, control.now - 60 * S, control.now, close, high or close, low or close, close, 1.0))


def order(side: str = "BUY", qty: str = "1", *, type: str = "MARKET", price: str | None = None,
          inst: Any = BTC, reduce_only: bool = False, cid: str = "c1", strategy: str = "s") -> Order:
    return Order.create(inst, client_order_id=cid, strategy_id=strategy, side=side, type=type, quantity=qty,
                        price=price, reduce_only=reduce_only)
