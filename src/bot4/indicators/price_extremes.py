"""Midpoints of rolling extremes (MIDPOINT, MIDPRICE), streaming and vectorized, matching TA-Lib.

Both need the highest and lowest value of a sliding window in O(1) per bar; the monotonic-deque windows
that give exactly that live here with the two studies that use them.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.overlap_shared import _bad

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# MIDPOINT / MIDPRICE: rolling extremes with monotonic deques.


class _RollingMax:
    """Maximum of the last ``period`` pushed values in amortised O(1) (monotonic deque)."""

    __slots__ = ("_i", "_idx", "_period", "_vals")

    def __init__(self, period: int) -> None:
        self._period = period
        self._vals: deque[float] = deque()
        self._idx: deque[int] = deque()
        self._i = 0

    def push(self, x: float) -> float:
        vals = self._vals
        idx = self._idx
        while vals and vals[-1] <= x:
            vals.pop()
            idx.pop()
        i = self._i
        vals.append(x)
        idx.append(i)
        self._i = i + 1
        if idx[0] <= i - self._period:
            vals.popleft()
            idx.popleft()
        return vals[0]


class _RollingMin(_RollingMax):
    """Minimum of the last ``period`` pushed values (a max over negated values, kept exact)."""

    __slots__ = ()

    def push(self, x: float) -> float:
        return -_RollingMax.push(self, -x)


def midpoint(close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """(highest + lowest) / 2 of ``close`` over the period (TA-Lib MIDPOINT)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    return np.asarray(talib.MIDPOINT(x, timeperiod=p), dtype=np.float64)


@register("MIDPOINT", midpoint)
class MIDPOINT(Indicator):
    """Midpoint of the highest and lowest input over the last ``timeperiod`` inputs."""

    name = "MIDPOINT"
    __slots__ = ("_max", "_min", "_period", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._period = self.timeperiod
        self.lookback = self.timeperiod - 1
        self._max = _RollingMax(self.timeperiod)
        self._min = _RollingMin(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("MIDPOINT", x)
        self.count += 1
        hi = self._max.push(x)
        lo = self._min.push(x)
        if self.count < self._period:
            return NAN
        self._value = (hi + lo) / 2.0
        return self._value


def midprice(high: FloatArray, low: FloatArray, timeperiod: int = 14) -> FloatArray:
    """(highest high + lowest low) / 2 over the period (TA-Lib MIDPRICE)."""
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    return np.asarray(talib.MIDPRICE(h, lo, timeperiod=p), dtype=np.float64)


@register("MIDPRICE", midprice)
class MIDPRICE(Indicator):
    """Midpoint of the highest high and lowest low over the last ``timeperiod`` bars."""

    name = "MIDPRICE"
    inputs = ("high", "low")
    __slots__ = ("_max", "_min", "_period", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._period = self.timeperiod
        self.lookback = self.timeperiod - 1
        self._max = _RollingMax(self.timeperiod)
        self._min = _RollingMin(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        if high != high or high in (math.inf, -math.inf):
            raise _bad("MIDPRICE high", high)
        if low != low or low in (math.inf, -math.inf):
            raise _bad("MIDPRICE low", low)
        self.count += 1
        hi = self._max.push(high)
        lo = self._min.push(low)
        if self.count < self._period:
            return NAN
        self._value = (hi + lo) / 2.0
        return self._value
