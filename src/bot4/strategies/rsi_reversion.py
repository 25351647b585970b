"""Mean reversion on RSI extremes.

Buy when RSI (TA-Lib's Wilder RSI) closes below ``oversold`` while flat; sell the whole position when
RSI closes above ``overbought``. Market orders fill at the next bar's open. Size as in ``ema_cross``:
a fixed base quantity, or all free quote cash when ``size`` is unset.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from bot4.indicators.momentum import RSI
from bot4.model.events import Bar
from bot4.strategies.base import Strategy, StrategyConfig


class RsiReversionConfig(StrategyConfig):
    period: int = Field(14, ge=2, description="RSI period")
    oversold: float = Field(30.0, gt=0, lt=100, description="buy below this RSI")
    overbought: float = Field(70.0, gt=0, lt=100, description="sell above this RSI")
    size: Decimal | None = Field(None, gt=0, description="base quantity per entry; unset = all free cash")

    @model_validator(mode="after")
    def _levels_ordered(self) -> RsiReversionConfig:
        if self.oversold >= self.overbought:
            raise ValueError(f"oversold ({self.oversold}) must be below overbought ({self.overbought})")
        return self


class RsiReversion(Strategy):
    name = "rsi_reversion"
    description = "Mean reversion: buy when RSI is oversold, sell when it is overbought."
    Config = RsiReversionConfig

    def on_start(self) -> None:
        cfg = self.config
        assert isinstance(cfg, RsiReversionConfig)
        self._cfg = cfg
        self._rsi = {iid: self.ctx.register_indicator(iid, RSI(cfg.period)) for iid in self.ctx.instrument_ids}

    def on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        rsi = self._rsi[iid].value
        pos = self.ctx.position(iid)
        if rsi < self._cfg.oversold and pos == 0 and not self.ctx.open_orders(iid):
            if self._cfg.size is not None:
                self.ctx.submit(iid, "BUY", self._cfg.size)
            else:
                inst = self.ctx.instrument(iid)
                cash = self.ctx.free_balance(inst.quote)
                # Skip dust: cash that would not buy the minimum quantity at the current price.
                if cash > 0 and float(cash) / (bar.close * (1 + float(inst.taker_fee))) >= float(inst.min_quantity):
                    self.ctx.submit(iid, "BUY", quote_quantity=cash)
        elif rsi > self._cfg.overbought and pos > 0 and not self.ctx.open_orders(iid):
            self.ctx.submit(iid, "SELL", pos)
