"""Wilder's parabolic SAR, streaming and vectorized, matching TA-Lib.

The SAR is a small state machine (direction, extreme point, acceleration factor) rather than an average,
so it has a module of its own.
"""

from __future__ import annotations

import math

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, IndicatorError, check_series, register
from bot4.indicators.overlap_shared import _bad, _check_real

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# SAR


def sar(high: FloatArray, low: FloatArray, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Wilder's parabolic SAR (TA-Lib SAR)."""
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    acc = _check_real(acceleration, "acceleration", 0.0)
    mx = _check_real(maximum, "maximum", 0.0)
    if len(h) < 2:
        raise IndicatorError(f"SAR needs at least 2 bars, got {len(h)}")
    return np.asarray(talib.SAR(h, lo, acceleration=acc, maximum=mx), dtype=np.float64)


@register("SAR", sar)
class SAR(Indicator):
    """Parabolic SAR following TA-Lib's rules.

    The first direction comes from bar 1's directional movement against bar 0: short if its -DM is
    positive (the low fell further than the high rose), else long. The first SAR is bar 0's low (long)
    or high (short) with bar 1's extreme as the extreme point, and on that first step the "previous" bar
    is bar 1 itself. The acceleration factor starts at ``acceleration`` (capped at ``maximum``), grows by
    it on each new extreme up to ``maximum``, and resets on a reversal, where the SAR jumps to the old
    extreme point. The SAR is never allowed inside the previous or current bar's range.
    """

    name = "SAR"
    inputs = ("high", "low")
    __slots__ = (
        "_acc",
        "_af",
        "_ep",
        "_long",
        "_max",
        "_phigh",
        "_plow",
        "_sar",
        "_value",
        "acceleration",
        "count",
        "lookback",
        "maximum",
    )

    def __init__(self, acceleration: float = 0.02, maximum: float = 0.2) -> None:
        self.acceleration = _check_real(acceleration, "acceleration", 0.0)
        self.maximum = _check_real(maximum, "maximum", 0.0)
        self._max = self.maximum
        self._acc = min(self.acceleration, self.maximum)
        self.lookback = 1
        self._af = self._acc
        self._ep = self._sar = NAN
        self._long = True
        self._phigh = self._plow = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        if high != high or high in (math.inf, -math.inf):
            raise _bad("SAR high", high)
        if low != low or low in (math.inf, -math.inf):
            raise _bad("SAR low", low)
        self.count += 1
        if self.count <= 2:
            if self.count == 1:
                self._phigh, self._plow = high, low
                return NAN
            self._start(high, low)
        prev_high, prev_low = self._phigh, self._plow
        self._phigh, self._plow = high, low
        s = self._sar
        ep = self._ep
        if self._long:
            if low <= s:  # reversal to short
                self._long = False
                s = max(ep, prev_high, high)
                out = s
                af = self._af = self._acc
                ep = low
                s = max(s + af * (ep - s), prev_high, high)
            else:
                out = s
                if high > ep:
                    ep = high
                    self._af = min(self._af + self._acc, self._max)
                s = min(s + self._af * (ep - s), prev_low, low)
        elif high >= s:  # reversal to long
            self._long = True
            s = min(ep, prev_low, low)
            out = s
            af = self._af = self._acc
            ep = high
            s = min(s + af * (ep - s), prev_low, low)
        else:
            out = s
            if low < ep:
                ep = low
                self._af = min(self._af + self._acc, self._max)
            s = max(s + self._af * (ep - s), prev_high, high)
        self._sar = s
        self._ep = ep
        self._value = out
        return out

    def _start(self, high: float, low: float) -> None:
        h0, l0 = self._phigh, self._plow
        diff_plus = high - h0
        diff_minus = l0 - low
        self._long = not (diff_minus > 0 and diff_plus < diff_minus)
        if self._long:
            self._ep, self._sar = high, l0
        else:
            self._ep, self._sar = low, h0
        # TA-Lib's first step treats bar 1 as its own previous bar.
        self._phigh, self._plow = high, low
