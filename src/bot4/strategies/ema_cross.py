"""Trend following on the crossing of a fast and a slow EMA.

Semantics (so results can be checked against other tools): EMA exactly as TA-Lib computes it; signals
are evaluated on each bar's close once the slow EMA is warmed up; a cross up (fast > slow now, fast <=
slow on the previous bar) while flat sends a market buy, a cross down while long sends a market sell of
the whole position; market orders fill at the next bar's open. Size is a fixed base quantity
(``size``) or, when ``size`` is not set, all free quote cash (the venue buys the largest step multiple
that the cash pays for, fee included).
"""

from __future__ import annotations

import math
from decimal import Decimal

from pydantic import Field, model_validator

from bot4.indicators.overlap import EMA
from bot4.model.events import Bar
from bot4.strategies.base import Strategy, StrategyConfig


class EmaCrossConfig(StrategyConfig):
    fast: int = Field(10, ge=1, description="fast EMA period")
    slow: int = Field(30, ge=2, description="slow EMA period")
    size: Decimal | None = Field(None, gt=0, description="base quantity per entry; unset = all free cash")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaCrossConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class EmaCross(Strategy):
    name = "ema_cross"
    description = "Trend: buy when the fast EMA crosses above the slow EMA, sell when it crosses below."
    Config = EmaCrossConfig

    def on_start(self) -> None:
        cfg = self.config
        assert isinstance(cfg, EmaCrossConfig)
        self._size = cfg.size
        self._state: dict[str, tuple[EMA, EMA, list[float]]] = {}
        for iid in self.ctx.instrument_ids:
            fast = self.ctx.register_indicator(iid, EMA(cfg.fast))
            slow = self.ctx.register_indicator(iid, EMA(cfg.slow))
            self._state[iid] = (fast, slow, [math.nan, math.nan])

    def on_bar(self, bar: Bar) -> None:
        fast, slow, prev = self._state[bar.instrument_id]
        f = fast.value
        s = slow.value
        pf, ps = prev
        prev[0] = f
        prev[1] = s
        if f > s and pf <= ps:
            if self.ctx.position(bar.instrument_id) == 0:
                self._buy(bar.instrument_id, bar.close)
        elif f < s and pf >= ps:
            qty = self.ctx.position(bar.instrument_id)
            if qty > 0:
                self.ctx.submit(bar.instrument_id, "SELL", qty)

    def _buy(self, iid: str, close: float) -> None:
        if self._size is not None:
            self.ctx.submit(iid, "BUY", self._size)
            return
        inst = self.ctx.instrument(iid)
        cash = self.ctx.free_balance(inst.quote)
        # Skip dust: cash that would not buy the minimum quantity at the current price.
        if cash > 0 and float(cash) / (close * (1 + float(inst.taker_fee))) >= float(inst.min_quantity):
            self.ctx.submit(iid, "BUY", quote_quantity=cash)
