"""Moving averages TA-Lib lacks (HMA, ZLEMA), streaming and vectorized, following their published formulas.

Both cut the lag of a plain average by combining TA-Lib averages (WMA for Hull, EMA for zero-lag), so
they are built from the classes in ``moving_averages`` and TA-Lib's vectorized functions.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.moving_averages import EMA, WMA
from bot4.indicators.overlap_shared import _bad

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# Moving averages TA-Lib lacks.


def _hma_periods(timeperiod: int) -> tuple[int, int]:
    """Hull's inner (n//2) and outer (isqrt(n)) WMA periods; shared so both forms agree."""
    return timeperiod // 2, math.isqrt(timeperiod)


def hma(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Hull moving average: WMA(2*WMA(x, n//2) - WMA(x, n), isqrt(n)); see ``HMA``."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    half, root = _hma_periods(p)
    if len(x) - (p - 1) < root:
        return np.full(len(x), NAN)
    raw = np.asarray(talib.WMA(x, timeperiod=half), dtype=np.float64)
    raw *= 2.0
    raw -= talib.WMA(x, timeperiod=p)
    # The first p - 1 values of ``raw`` are NaN; TA-Lib's wrapper starts after leading NaNs and pads its
    # result, which saves a copy and gives the same values as the outer WMA over ``raw[p - 1:]``.
    return np.asarray(talib.WMA(raw, timeperiod=root), dtype=np.float64)


@register("HMA", hma)
class HMA(Indicator):
    """Hull moving average (Alan Hull, 2005, "The Hull Moving Average", alanhull.com).

    HMA(n) = WMA(2*WMA(x, floor(n/2)) - WMA(x, n), floor(sqrt(n))), where WMA is the linearly weighted
    average (weights 1..m, newest heaviest). The two inner WMAs cancel most of the lag of a plain WMA and
    the outer short WMA smooths the result. Integer parts of n/2 and sqrt(n) are taken as Hull does.
    Lookback (n-1) + (floor(sqrt(n))-1); NaN until then. The WMAs are TA-Lib's (running sums).
    The default period 30 follows TA-Lib's moving averages (Hull's own examples use 9-16).
    """

    name = "HMA"
    __slots__ = ("_full", "_half", "_outer", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        half, root = _hma_periods(self.timeperiod)
        self._half = WMA(half)
        self._full = WMA(self.timeperiod)
        self._outer = WMA(root)
        self.lookback = (self.timeperiod - 1) + (root - 1)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("HMA", x)
        self.count += 1
        fast = self._half.update(x)
        slow = self._full.update(x)
        if slow != slow:
            return NAN
        self._value = self._outer.update(2.0 * fast - slow)
        return self._value


def zlema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Zero-lag EMA: EMA(2*x[t] - x[t-lag], n) with lag = (n-1)//2; see ``ZLEMA``."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    lag = (p - 1) // 2
    n = len(x)
    if n - lag < p:
        return np.full(n, NAN)
    # The de-lagged series is written after ``lag`` NaNs; TA-Lib's wrapper starts after leading NaNs and
    # pads its result, so the EMA comes out aligned with ``x`` without a copy.
    delagged = np.empty(n)
    delagged[:lag] = NAN
    body = delagged[lag:]
    np.multiply(x[lag:], 2.0, out=body)
    body -= x[: n - lag]
    return np.asarray(talib.EMA(delagged, timeperiod=p), dtype=np.float64)


@register("ZLEMA", zlema)
class ZLEMA(Indicator):
    """Zero-lag EMA (John Ehlers & Ric Way, "Zero Lag (Well, Almost)", TASC Nov 2010).

    An EMA lags by about (n-1)/2 bars, so it is applied to a de-lagged series that adds back the change
    over that many bars: d[t] = x[t] + (x[t] - x[t-lag]) = 2*x[t] - x[t-lag], with
    lag = floor((n-1)/2) (the convention of most implementations, e.g. pandas-ta's ZLMA), and
    ZLEMA = EMA(d, n) with k = 2/(n+1), seeded like TA-Lib's EMA by the mean of the first n values of d.
    d starts at index ``lag``, so the lookback is lag + n - 1.
    """

    name = "ZLEMA"
    __slots__ = ("_buf", "_ema", "_lag", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._lag = (self.timeperiod - 1) // 2
        self._ema = EMA(self.timeperiod)
        self._buf: deque[float] = deque()
        self.lookback = self._lag + self.timeperiod - 1
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("ZLEMA", x)
        self.count += 1
        buf = self._buf
        buf.append(x)
        if self.count <= self._lag:
            return NAN
        self._value = self._ema.update(2.0 * x - buf.popleft())
        return self._value
