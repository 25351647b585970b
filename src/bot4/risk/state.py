"""What the pre-trade rules read: exposure, equity and limits, kept current off the hot path.

Everything a rule needs is updated on bars and fills (plain floats), and absolute limits are
re-derived from equity there too, so a check is a handful of attribute reads and comparisons. The
``o_*`` fields are per-order scratch values the engine fills in once before the rules run, so each rule
does not recompute notional or direction.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode

#: Float limits are widened by this relative hair so that exactly reaching a limit is not denied by
#: binary rounding (1.05 - 1 > 0.05 in floats). Money limits compared in Decimal need no slack.
FLOAT_SLACK = 1.0 + 1e-12


def parse_instrument_id(instrument_id: str) -> tuple[str, str, str]:
    """``VENUE:BASE/QUOTE`` -> (venue, base, quote), the id format bot4 uses everywhere."""
    venue, _, symbol = instrument_id.partition(":")
    base, _, quote = symbol.partition("/")
    if not venue or not base or not quote:
        raise ValueError(f"instrument id {instrument_id!r} is not VENUE:BASE/QUOTE")
    return venue, base, quote


class InstrumentRisk:
    """Per-instrument exposure and market view."""

    __slots__ = (
        "atr",
        "base",
        "corr",
        "iid",
        "last",
        "last_ts",
        "prev_close",
        "qty",
        "qty_d",
        "quote",
        "ref_d",
        "ref_d_src",
        "returns",
        "stop_dist",
        "stop_price",
        "tr_n",
        "tr_sum",
        "venue",
    )

    def __init__(self, instrument_id: str) -> None:
        self.iid = instrument_id
        self.venue, self.base, self.quote = parse_instrument_id(instrument_id)
        self.qty = 0.0  # signed net position, base units (float view of ``qty_d``)
        self.qty_d = Decimal(0)  # exact signed net position from fills
        self.tr_n = 0  # true ranges seen while warming the ATR up
        self.tr_sum = 0.0
        self.last = 0.0  # reference price (last close or quote mid); 0 = none yet
        self.last_ts = 0
        self.ref_d = Decimal(0)  # Decimal of ``last``, converted lazily when an order needs it
        self.ref_d_src = 0.0
        self.prev_close = 0.0
        self.atr = 0.0  # Wilder ATR in price units, 0 until warmed up
        self.stop_dist = 0.0  # explicit or ATR-based stop distance, price units
        self.stop_price = 0.0  # explicit stop set by a strategy (0 = none)
        self.returns: list[float] = []  # recent close-to-close returns, for correlations
        self.corr: dict[str, float] = {}  # correlation with other instruments, refreshed periodically


class RiskState:
    """The live picture the rules compare against."""

    __slots__ = (
        "asset_net", "budget_factor", "cash", "day_index", "day_start_equity", "equity", "heat", "instruments",
        "limits", "max_asset_value", "max_daily_loss", "max_heat", "max_position_value", "max_trade_risk",
        "max_venue_gross", "mode", "now", "o_delta", "o_increases", "o_inst", "o_price", "o_qty", "open_positions",
        "order_times", "total_orders", "venue_gross",
    )

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.mode = ControlMode.NORMAL
        self.now = 0
        self.instruments: dict[str, InstrumentRisk] = {}
        self.open_positions: list[InstrumentRisk] = []
        self.cash = 0.0
        self.equity = 0.0
        self.budget_factor = 1.0  # 1 normally, limits.crisis_budget_factor in crisis mode
        self.venue_gross: dict[str, float] = {}
        self.asset_net: dict[str, float] = {}  # signed value per base asset
        self.heat = 0.0  # sum over positions of |qty| * stop distance
        self.day_start_equity = 0.0
        self.day_index = -1
        # derived absolute limits (recomputed by ``refresh_limits``)
        self.max_position_value = 0.0
        self.max_asset_value = 0.0
        self.max_venue_gross = 0.0
        self.max_trade_risk = 0.0
        self.max_heat = 0.0
        self.max_daily_loss = 0.0
        # order-flow counters: the times of the last N approved orders. A bounded deque, not a preallocated
        # ring: a generous N (say 10^9) must not cost N slots of memory up front, and streaming writes
        # through a multi-gigabyte list put cache and TLB misses on the hot path.
        self.order_times: deque[int] = deque(maxlen=limits.max_orders_per_window)
        self.total_orders = 0
        # per-order scratch, filled by the engine before the rules run
        self.o_inst: InstrumentRisk = InstrumentRisk("SCRATCH:X/Y")
        self.o_price = 0.0
        self.o_qty = 0.0
        self.o_delta = 0.0  # signed quantity change
        self.o_increases = False

    def instrument(self, instrument_id: str) -> InstrumentRisk:
        inst = self.instruments.get(instrument_id)
        if inst is None:
            inst = self.instruments[instrument_id] = InstrumentRisk(instrument_id)
            inst.corr = {}
        return inst

    def refresh_limits(self) -> None:
        lim = self.limits
        eq = self.equity if self.equity > 0 else 0.0
        f = self.budget_factor * FLOAT_SLACK
        self.max_position_value = eq * lim.max_position_fraction * f
        self.max_asset_value = eq * lim.max_asset_concentration * f
        self.max_venue_gross = eq * lim.max_venue_leverage * f
        self.max_trade_risk = eq * lim.max_risk_per_trade * f
        self.max_heat = eq * lim.max_portfolio_heat * f
        self.max_daily_loss = self.day_start_equity * lim.daily_loss_limit * FLOAT_SLACK

    def revalue(self) -> None:
        """Recompute equity and the exposure aggregates from positions and reference prices."""
        gross: dict[str, float] = {}
        assets: dict[str, float] = {}
        heat = 0.0
        value = 0.0
        default_stop = self.limits.default_stop_fraction
        for inst in self.open_positions:
            v = inst.qty * inst.last
            value += v
            gross[inst.venue] = gross.get(inst.venue, 0.0) + abs(v)
            assets[inst.base] = assets.get(inst.base, 0.0) + v
            heat += abs(inst.qty) * (inst.stop_dist or inst.last * default_stop)
        self.venue_gross = gross
        self.asset_net = assets
        self.heat = heat
        self.equity = self.cash + value
        self.refresh_limits()

    def stop_distance(self, inst: InstrumentRisk, price: float) -> float:
        return inst.stop_dist or price * self.limits.default_stop_fraction
