"""Square-root market impact for fills driven by bars, which carry no depth.

The average execution price of a taker of ``q`` in a bar of volume ``V`` moves against it by
``coefficient * sigma * sqrt(q / V)`` (a fraction of the reference price), the empirical
"square-root law" (Almgren et al. 2005; Tóth et al. 2011). ``sigma`` is the bar's own range
``(high - low) / open`` as a volatility proxy. No bar lets an order take more than
``max_participation * V``; the rest waits for the following bars (a partial fill per bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from bot4.model.events import Bar


@dataclass(frozen=True, slots=True)
class SqrtImpact:
    coefficient: float = 1.0
    max_participation: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.coefficient) and self.coefficient >= 0):
            raise ValueError(f"impact coefficient: must be a finite number >= 0 (got {self.coefficient})")
        if not 0 < self.max_participation <= 1:
            raise ValueError(f"impact max_participation: must be in (0, 1] (got {self.max_participation})")

    def capacity(self, bar: Bar) -> float:
        """Base quantity one order may take from this bar."""
        return max(bar.volume, 0.0) * self.max_participation

    def impact_fraction(self, quantity: float, bar: Bar) -> float:
        if bar.volume <= 0 or bar.open <= 0:
            return 0.0
        sigma = (bar.high - bar.low) / bar.open
        return self.coefficient * sigma * math.sqrt(quantity / bar.volume)

    def price(self, reference: Decimal, quantity: float, bar: Bar, is_buy: bool) -> Decimal:
        """Reference moved against the taker by the impact (unrounded; the venue rounds to the tick)."""
        # rounded to 12 places so binary noise (0.2 * 0.1 = 0.020000000000000004) cannot move a tick
        frac = Decimal(repr(round(self.impact_fraction(quantity, bar), 12)))
        return reference * (1 + frac) if is_buy else reference * (1 - frac)
