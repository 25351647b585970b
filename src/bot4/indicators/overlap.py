"""Overlap studies (moving averages and bands), streaming and vectorized, matching TA-Lib."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import (
    FloatArray,
    Indicator,
    IndicatorError,
    check_period,
    check_series,
    register,
)

NAN = math.nan


def sma(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Simple moving average (TA-Lib SMA)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.SMA(x, timeperiod=p), dtype=np.float64)


@register("SMA", sma)
class SMA(Indicator):
    """Simple moving average over the last ``timeperiod`` inputs (TA-Lib's running-sum form)."""

    name = "SMA"
    __slots__ = ("_buf", "_period", "_sum", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self.lookback = self.timeperiod - 1
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise IndicatorError(f"SMA input is {x!r}; inputs must be finite numbers")
        self.count += 1
        buf = self._buf
        buf.append(x)
        if self.count < self._period:
            self._sum += x
            return NAN
        # TA-Lib adds the newest value to the running total, divides, then drops the oldest.
        total = self._sum + x
        self._sum = total - buf.popleft()
        self._value = total / self._period
        return self._value

    @property
    def value(self) -> float:
        return self._value


def ema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Exponential moving average (TA-Lib EMA: seeded with the SMA of the first ``timeperiod`` values)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.EMA(x, timeperiod=p), dtype=np.float64)


@register("EMA", ema)
class EMA(Indicator):
    """Exponential moving average, k = 2 / (timeperiod + 1), seeded with an SMA exactly as TA-Lib does.

    The arithmetic is ``((x - prev) * k) + prev`` in that order, so values are bit-identical to TA-Lib's.
    """

    name = "EMA"
    __slots__ = ("_k", "_period", "_sum", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self._k = 2.0 / (self.timeperiod + 1)
        self.lookback = self.timeperiod - 1
        self._sum = 0.0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise IndicatorError(f"EMA input is {x!r}; inputs must be finite numbers")
        self.count += 1
        if self.count > self._period:
            prev = self._value
            self._value = ((x - prev) * self._k) + prev
            return self._value
        self._sum += x
        if self.count == self._period:
            self._value = self._sum / self._period
            return self._value
        return NAN

    @property
    def value(self) -> float:
        return self._value
