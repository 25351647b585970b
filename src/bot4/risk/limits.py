"""Every risk limit in one validated, frozen config, with the defaults the issue asks for.

Limits are read once: the engine turns them into plain floats (and a few Decimals for money) when it is
built, so the pre-trade hot path never parses or validates anything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot4.model.errors import ConfigError, describe_validation_error
from bot4.risk.modes import ControlMode

SECOND_NS = 1_000_000_000


class RiskLimits(BaseModel):
    """Pre-trade rule limits, guards and breaker settings. Fractions are of equity (0.05 = 5 %)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # order size
    max_order_notional: Decimal = Field(default=Decimal(1_000_000), gt=0, description="quote units per order")
    max_order_quantity: Decimal = Field(default=Decimal(1_000_000), gt=0, description="base units per order")
    price_band: float = Field(default=0.05, gt=0, lt=1, description="max |price/reference - 1| of priced orders")
    # exposure
    max_position_fraction: float = Field(default=0.10, gt=0, le=10, description="per instrument, of equity")
    max_asset_concentration: float = Field(default=0.05, gt=0, le=10, description="per base asset, of equity")
    max_venue_leverage: float = Field(default=3.0, gt=0, le=100, description="gross notional per venue / equity")
    max_risk_per_trade: float = Field(default=0.02, gt=0, le=1, description="loss at the stop, of equity")
    max_portfolio_heat: float = Field(default=0.25, gt=0, le=10, description="sum of losses at the stops, of equity")
    default_stop_fraction: float = Field(default=0.05, gt=0, lt=1, description="stop when no stop/ATR known")
    atr_period: int = Field(default=14, ge=1)
    atr_stop_multiple: float = Field(default=2.0, gt=0)
    max_correlation: float = Field(default=0.7, gt=-1, le=1, description="pairwise cap for adding same-way exposure")
    correlation_window: int = Field(default=120, ge=10, description="bar returns used for correlations")
    correlation_refresh_bars: int = Field(default=30, ge=1)
    # order flow
    max_orders_per_window: int = Field(default=20, ge=1)
    order_window_ns: int = Field(default=60 * SECOND_NS, gt=0)
    max_total_orders: int = Field(default=10_000, ge=1)
    runaway_denials_to_trip: int = Field(default=5, ge=1, description="rate/total-cap denials that trip the breaker")
    runaway_window_ns: int = Field(default=600 * SECOND_NS, gt=0, description="window for those denials")
    runaway_mode: ControlMode = ControlMode.EMERGENCY
    # losses
    daily_loss_limit: float = Field(default=0.05, gt=0, lt=1, description="loss since the UTC day start, of equity")
    daily_loss_mode: ControlMode = ControlMode.PAUSE
    drawdown_soft: float = Field(default=0.15, gt=0, lt=1, description="drawdown that switches to REDUCE")
    drawdown_hard: float = Field(default=0.20, gt=0, lt=1, description="drawdown that switches to EMERGENCY")
    var_confidence: float = Field(default=0.99, gt=0.5, lt=1)
    var_limit: float = Field(default=0.10, gt=0, lt=1, description="1-bar VaR above this: crisis")
    es_limit: float | None = Field(default=None, gt=0, lt=1, description="expected shortfall limit (crisis)")
    var_method: str = Field(default="historical", pattern="^(historical|parametric|cornish_fisher|evt)$")
    var_window: int = Field(default=500, ge=30)
    var_refresh_bars: int = Field(default=60, ge=1)
    crisis_budget_factor: float = Field(default=0.5, gt=0, le=1, description="budget multiplier in crisis")
    # market data
    live: bool = Field(default=False, description="enforce quote staleness (backtests replay bars, so off there)")
    max_data_age_ns: int = Field(default=500_000_000, gt=0)
    # breakers
    expected_slippage_bps: float = Field(default=10.0, gt=0)
    slippage_multiple: float = Field(default=3.0, gt=1)
    spread_multiple: float = Field(default=3.0, gt=1)
    spread_floor_bps: float = Field(default=5.0, ge=0, description="a spread under this many bps is never abnormal")
    breaker_window_ns: int = Field(default=60 * SECOND_NS, gt=0)
    breaker_cooldown_ns: int = Field(default=300 * SECOND_NS, gt=0)
    slippage_events_to_trip: int = Field(default=3, ge=1)
    stale_events_to_trip: int = Field(default=3, ge=1)
    spread_events_to_trip: int = Field(default=3, ge=1)
    api_errors_to_trip: int = Field(default=5, ge=1)
    rejects_to_trip: int = Field(default=5, ge=1)
    breaker_mode: ControlMode = ControlMode.PAUSE
    # reduce mode and control
    reduce_stage_fraction: float = Field(default=0.25, ge=0, le=1, description="share unwound per stage")
    reduce_stage_interval_ns: int = Field(default=60 * SECOND_NS, gt=0)
    control_poll_ns: int = Field(default=SECOND_NS, gt=0, description="how often the mode file and sentinel are read")
    heartbeat_timeout_ns: int | None = Field(default=None, gt=0, description="dead man's switch; None = off")

    @model_validator(mode="after")
    def _ordered(self) -> RiskLimits:
        if self.drawdown_soft >= self.drawdown_hard:
            raise ValueError(f"drawdown_soft ({self.drawdown_soft}) must be below drawdown_hard ({self.drawdown_hard})")
        return self

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str = "risk") -> RiskLimits:
        """Validate a plain mapping, failing with a message that names the field."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, where)) from None
