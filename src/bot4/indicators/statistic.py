"""Rolling least-squares regression of price on time, matching TA-Lib LINEARREG / LINEARREG_SLOPE.

TA-Lib C 0.8 keeps the window sums in O(1) by a sliding recurrence (its issue #103) instead of a
fresh per-bar sum; the streaming classes replay that recurrence so both forms agree bit for bit.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, IndicatorError, check_period, check_series, register

NAN = math.nan


def _args(close: Any, timeperiod: int) -> tuple[FloatArray, int]:
    x = check_series(close, "close")
    return x, check_period(timeperiod, "timeperiod", 2, len(x))


def linearreg(close: Any, timeperiod: int = 14) -> FloatArray:
    """End point of the least-squares line over the last ``timeperiod`` values (TA-Lib LINEARREG)."""
    x, p = _args(close, timeperiod)
    return np.asarray(talib.LINEARREG(x, timeperiod=p), dtype=np.float64)


def linearreg_slope(close: Any, timeperiod: int = 14) -> FloatArray:
    """Slope per bar of that line (TA-Lib LINEARREG_SLOPE)."""
    x, p = _args(close, timeperiod)
    return np.asarray(talib.LINEARREG_SLOPE(x, timeperiod=p), dtype=np.float64)


class _Regression(Indicator):
    """Window sums SumY and SumXY (x = bars ago, 0 for the newest) kept as TA-Lib keeps them.

    The first window is summed afresh oldest-first; afterwards
    ``SumXY += SumY - n * departing`` then ``SumY += newest - departing``, except that every
    ``32 * n`` outputs the sums are rebuilt afresh to bound drift (O(n) then, amortized O(1)).
    """

    __slots__ = (
        "_buf",
        "_div",
        "_n",
        "_refresh",
        "_since",
        "_slope",
        "_sum_x",
        "_sum_xy",
        "_sum_y",
        "_trailing",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 14) -> None:
        p = self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = p - 1
        self._n = float(p)
        self._sum_x = float(p) * (p - 1) * 0.5
        sum_x_sqr = float(p) * (p - 1) * (2 * p - 1) / 6.0
        self._div = self._sum_x * self._sum_x - p * sum_x_sqr
        self._buf: deque[float] = deque()
        self._sum_y = self._sum_xy = 0.0
        self._trailing = NAN
        self._refresh = 32 * p
        self._since = 0
        self._slope = self._value = NAN
        self.count = 0

    def _push(self, x: float) -> bool:
        if x - x != 0.0:
            raise IndicatorError(f"{self.name} close input is {x!r}; inputs must be finite numbers")
        self.count += 1
        buf = self._buf
        buf.append(x)
        p = self.timeperiod
        if self.count < p:
            return False
        self._since += 1
        if self._since > self._refresh or self.count == p:
            self._since = 1
            sy = sxy = 0.0
            for i, v in enumerate(buf):
                sy += v
                sxy += float(p - 1 - i) * v
        else:
            t = self._trailing
            sxy = self._sum_xy + self._sum_y - self._n * t
            sy = self._sum_y - t + x
        self._trailing = buf.popleft()
        self._sum_y, self._sum_xy = sy, sxy
        m = (p * sxy - self._sum_x * sy) / self._div
        self._slope = m
        self._value = (sy - m * self._sum_x) / self._n + m * float(p - 1)
        return True


@register("LINEARREG", linearreg)
class LINEARREG(_Regression):
    """Linear regression: the fitted line's value at the newest bar, ``b + m * (timeperiod - 1)``."""

    name = "LINEARREG"
    __slots__ = ()

    def update(self, *args: float) -> float:
        return self._value if self._push(args[0]) else NAN


@register("LINEARREG_SLOPE", linearreg_slope)
class LINEARREG_SLOPE(_Regression):
    """Linear regression slope ``m`` (price units per bar)."""

    name = "LINEARREG_SLOPE"
    __slots__ = ()

    def update(self, *args: float) -> float:
        return self._slope if self._push(args[0]) else NAN

    @property
    def value(self) -> float:
        return self._slope
