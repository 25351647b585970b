"""Pre-trade rules: each a small class whose ``check(order, state)`` returns ``None`` or a reason.

A reason starts with a stable code (``MAX_ORDER_NOTIONAL``, ...) so alerts and tests can match it, then
says what was asked and what the limit is. Reasons are only formatted on denial; the approving path
of every rule is a few float comparisons. Exposure rules only look at orders that increase exposure:
an order that reduces a position is always welcome. A limit is inclusive: reaching it is allowed,
exceeding it is not.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Protocol

from bot4.model.orders import Order
from bot4.risk.modes import ControlMode
from bot4.risk.state import FLOAT_SLACK, RiskState

_REDUCE = ControlMode.REDUCE


class Rule(Protocol):
    code: ClassVar[str]
    #: True for order-flow rules whose denials feed the runaway-loop breaker
    counts_as_runaway: ClassVar[bool]

    def check(self, order: Order, state: RiskState) -> str | None: ...


class _Base:
    code: ClassVar[str] = ""
    counts_as_runaway: ClassVar[bool] = False


class MaxOrderQuantity(_Base):
    code = "MAX_ORDER_QUANTITY"

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit
        self.limit_f = float(limit)

    def check(self, order: Order, state: RiskState) -> str | None:
        q = order.quantity
        if q is not None:
            if q > self.limit:
                return f"{self.code}: quantity {q} exceeds the maximum {self.limit} per order"
        elif state.o_qty > self.limit_f:
            return f"{self.code}: quantity ~{state.o_qty:.8g} exceeds the maximum {self.limit} per order"
        return None


class MaxOrderNotional(_Base):
    """Money, so compared in Decimal: quantity times the order's own price, else the reference price."""

    code = "MAX_ORDER_NOTIONAL"

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit

    def check(self, order: Order, state: RiskState) -> str | None:
        if order.quantity is None:
            notional = order.quote_quantity
        else:
            price = order.price or order.trigger_price
            if price is None:
                inst = state.o_inst
                if inst.ref_d_src != inst.last:
                    inst.ref_d = Decimal(repr(inst.last))
                    inst.ref_d_src = inst.last
                price = inst.ref_d
            notional = order.quantity * price
        if notional is not None and notional > self.limit:
            return f"{self.code}: notional {notional} exceeds the maximum {self.limit} per order"
        return None


class PriceBand(_Base):
    """Fat-finger guard: a priced order far from the reference price never leaves."""

    code = "PRICE_BAND"

    def __init__(self, band: float) -> None:
        self.band = band
        self._band = band * FLOAT_SLACK

    def check(self, order: Order, state: RiskState) -> str | None:
        ref = state.o_inst.last
        px = order.price
        if px is not None and abs(float(px) / ref - 1.0) > self._band:
            return self._reason(px, ref)
        px = order.trigger_price
        if px is not None and abs(float(px) / ref - 1.0) > self._band:
            return self._reason(px, ref)
        return None

    def _reason(self, px: Decimal, ref: float) -> str:
        dev = abs(float(px) / ref - 1.0)
        return f"{self.code}: price {px} is {dev:.2%} from the reference {ref:.10g}; the band is {self.band:.2%}"


class MaxPosition(_Base):
    code = "MAX_POSITION"

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        after = abs(state.o_inst.qty + state.o_delta) * state.o_price
        if after > state.max_position_value:
            return (
                f"{self.code}: position value after the order {after:.2f} exceeds "
                f"{state.max_position_value:.2f} ({state.limits.max_position_fraction * state.budget_factor:.2%} "
                f"of equity {state.equity:.2f})"
            )
        return None


class AssetConcentration(_Base):
    code = "ASSET_CONCENTRATION"

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        inst = state.o_inst
        after = abs(state.asset_net.get(inst.base, 0.0) + state.o_delta * state.o_price)
        if after > state.max_asset_value:
            return (
                f"{self.code}: exposure to {inst.base} after the order {after:.2f} exceeds "
                f"{state.max_asset_value:.2f} ({state.limits.max_asset_concentration * state.budget_factor:.2%} "
                f"of equity)"
            )
        return None


class VenueLeverage(_Base):
    code = "VENUE_LEVERAGE"

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        inst = state.o_inst
        p = state.o_price
        after = state.venue_gross.get(inst.venue, 0.0) + (abs(inst.qty + state.o_delta) - abs(inst.qty)) * p
        if after > state.max_venue_gross:
            return (
                f"{self.code}: gross exposure on {inst.venue} after the order {after:.2f} exceeds "
                f"{state.max_venue_gross:.2f} ({state.limits.max_venue_leverage * state.budget_factor:g}x equity)"
            )
        return None


class RiskPerTrade(_Base):
    """The loss if the stop is hit (quantity x stop distance) is capped as a share of equity."""

    code = "RISK_PER_TRADE"

    def __init__(self, default_stop_fraction: float) -> None:
        self.default_stop = default_stop_fraction

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        risk = abs(state.o_delta) * (state.o_inst.stop_dist or state.o_price * self.default_stop)
        if risk > state.max_trade_risk:
            return (
                f"{self.code}: loss at the stop {risk:.2f} exceeds {state.max_trade_risk:.2f} "
                f"({state.limits.max_risk_per_trade * state.budget_factor:.2%} of equity)"
            )
        return None


class PortfolioHeat(_Base):
    code = "PORTFOLIO_HEAT"

    def __init__(self, default_stop_fraction: float) -> None:
        self.default_stop = default_stop_fraction

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        heat = state.heat + abs(state.o_delta) * (state.o_inst.stop_dist or state.o_price * self.default_stop)
        if heat > state.max_heat:
            return (
                f"{self.code}: total loss at the stops {heat:.2f} would exceed {state.max_heat:.2f} "
                f"({state.limits.max_portfolio_heat * state.budget_factor:.2%} of equity)"
            )
        return None


class CorrelationCap(_Base):
    """No adding same-way exposure to an instrument highly correlated with one already held."""

    code = "CORRELATION"

    def __init__(self, cap: float) -> None:
        self.cap = cap

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        inst = state.o_inst
        corr = inst.corr
        if not corr:
            return None
        direction = state.o_delta
        for other in state.open_positions:
            if other is inst:
                continue
            c = corr.get(other.iid)
            if c is None:
                continue
            # same-way exposure to positively correlated assets (or opposite-way to negatively correlated)
            effective = c if (other.qty > 0) == (direction > 0) else -c
            if effective > self.cap:
                return (
                    f"{self.code}: {inst.iid} has correlation {c:.3f} with held {other.iid}; "
                    f"adding exposure is capped at {self.cap:g}"
                )
        return None


class OrderRate(_Base):
    code = "ORDER_RATE"
    counts_as_runaway = True

    def __init__(self, window_ns: int, max_orders: int) -> None:
        self.window_ns = window_ns
        self.max_orders = max_orders

    def check(self, order: Order, state: RiskState) -> str | None:
        times = state.order_times  # the last ``max_orders`` approvals, oldest first
        if len(times) >= self.max_orders and state.now - times[0] < self.window_ns:
            lim = state.limits
            return (
                f"{self.code}: {lim.max_orders_per_window} orders already sent in the last "
                f"{lim.order_window_ns / 1e9:g} s"
            )
        return None


class TotalOrders(_Base):
    code = "TOTAL_ORDERS"
    counts_as_runaway = True

    def __init__(self, cap: int) -> None:
        self.cap = cap

    def check(self, order: Order, state: RiskState) -> str | None:
        if state.total_orders >= self.cap:
            return f"{self.code}: the cap of {state.limits.max_total_orders} orders in this run is reached"
        return None


class DailyLoss(_Base):
    code = "DAILY_LOSS"

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        loss = state.day_start_equity - state.equity
        if loss > state.max_daily_loss:
            return (
                f"{self.code}: today's loss {loss:.2f} exceeds {state.max_daily_loss:.2f} "
                f"({state.limits.daily_loss_limit:.2%} of the day's starting equity)"
            )
        return None


class ReduceOnly(_Base):
    """In REDUCE mode, and for any order flagged reduce-only, exposure may only shrink."""

    code = "REDUCE_ONLY"

    def check(self, order: Order, state: RiskState) -> str | None:
        if not order.reduce_only and state.mode is not _REDUCE:
            return None
        pos = state.o_inst.qty
        delta = state.o_delta
        if pos != 0.0 and (delta > 0.0) != (pos > 0.0) and abs(delta) <= abs(pos) * FLOAT_SLACK:
            return None
        why = "mode is REDUCE" if state.mode is ControlMode.REDUCE else "the order is reduce-only"
        return (
            f"{self.code}: {why}; {order.side.value} {state.o_qty:.8g} does not reduce the "
            f"{order.instrument_id} position {pos:.8g}"
        )


class StaleData(_Base):
    """Live only: no new exposure on prices older than ``max_data_age_ns``."""

    code = "STALE_DATA"

    def __init__(self, max_age_ns: int) -> None:
        self.max_age_ns = max_age_ns

    def check(self, order: Order, state: RiskState) -> str | None:
        if not state.o_increases:
            return None
        age = state.now - state.o_inst.last_ts
        if age > self.max_age_ns:
            return (
                f"{self.code}: the last {order.instrument_id} price is {age / 1e6:.0f} ms old "
                f"(limit {state.limits.max_data_age_ns / 1e6:.0f} ms)"
            )
        return None


def default_rules(state: RiskState) -> list[Rule]:
    """Every rule, cheapest and most decisive first."""
    lim = state.limits
    rules: list[Rule] = [
        ReduceOnly(),
        OrderRate(lim.order_window_ns, lim.max_orders_per_window),
        TotalOrders(lim.max_total_orders),
        MaxOrderQuantity(lim.max_order_quantity),
        MaxOrderNotional(lim.max_order_notional),
        PriceBand(lim.price_band),
        DailyLoss(),
        MaxPosition(),
        AssetConcentration(),
        VenueLeverage(),
        RiskPerTrade(lim.default_stop_fraction),
        PortfolioHeat(lim.default_stop_fraction),
        CorrelationCap(lim.max_correlation),
    ]
    if lim.live:
        rules.insert(1, StaleData(lim.max_data_age_ns))
    return rules
