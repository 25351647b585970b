"""TA-Lib's fixed-weight moving averages (SMA, EMA, WMA, DEMA, TEMA, TRIMA), streaming and vectorized.

Strategies and features need the same moving averages live (one bar at a time) and in research (whole
arrays), and they must agree with TA-Lib, the reference most users compare against. Each class here
reproduces TA-Lib's own seeding and warm-up; the vectorized functions validate and call TA-Lib. These are
the averages whose weights depend on the period alone; the adaptive ones are in ``adaptive_averages``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, IndicatorError, check_period, check_series, register
from bot4.indicators.fused import SPLIT, split
from bot4.indicators.overlap_shared import _bad

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# SMA / EMA


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


def ema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Exponential moving average (TA-Lib EMA: seeded with the SMA of the first ``timeperiod`` values)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.EMA(x, timeperiod=p), dtype=np.float64)


@register("EMA", ema)
class EMA(Indicator):
    """Exponential moving average, k = 2 / (timeperiod + 1), seeded with an SMA exactly as TA-Lib does.

    Each step is TA-Lib 0.8's fused ``fma(x - prev, k, prev)`` (see ``bot4.indicators.fused``), inlined
    here because this is the hottest indicator; values are bit-identical to ``talib.EMA``.
    """

    name = "EMA"
    __slots__ = ("_k", "_k_hi", "_k_lo", "_period", "_sum", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self._k = 2.0 / (self.timeperiod + 1)
        self._k_hi, self._k_lo = split(self._k)
        self.lookback = self.timeperiod - 1
        self._sum = 0.0
        self._value = NAN
        self.count = 0

    def update(self, x: float) -> float:  # type: ignore[override]  # one input: faster than *args
        if x - x != 0.0:  # NaN and +-inf fail this; every finite float passes
            raise IndicatorError(f"EMA input is {x!r}; inputs must be finite numbers")
        count = self.count = self.count + 1
        if count > self._period:
            prev = self._value
            k = self._k
            a = x - prev
            p = a * k
            t = SPLIT * a
            a_hi = t - (t - a)
            a_lo = a - a_hi
            s = p + prev
            z = s - p
            err = ((a_hi * self._k_hi - p) + a_hi * self._k_lo + a_lo * self._k_hi) + a_lo * self._k_lo
            v = self._value = s + (((p - (s - z)) + (prev - z)) + err)
            return v
        self._sum += x
        if count == self._period:
            v = self._value = self._sum / self._period
            return v
        return NAN


# ---------------------------------------------------------------------------------------------------
# WMA


def wma(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Linearly weighted moving average (TA-Lib WMA): weights 1..n, newest heaviest."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.WMA(x, timeperiod=p), dtype=np.float64)


@register("WMA", wma)
class WMA(Indicator):
    """Linearly weighted moving average with TA-Lib's running sums.

    Like TA-Lib it keeps ``sum`` (the weighted numerator) and ``sub`` (the plain window sum) and slides
    both. Left alone, their round-off drifts (to ~1e-11 relative over 10k bars), while TA-Lib 0.8's
    values stay within ~1e-14 of the exact weighted mean, so the sums are recomputed exactly from the
    window once every ``timeperiod`` updates (O(1) amortised). A period of 1 passes the input through.
    """

    name = "WMA"
    __slots__ = (
        "_buf",
        "_divider",
        "_period",
        "_since",
        "_sub",
        "_sum",
        "_trailing",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self._divider = float((self.timeperiod * (self.timeperiod + 1)) >> 1)
        self.lookback = self.timeperiod - 1
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._sub = 0.0
        self._trailing = 0.0
        self._since = 0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("WMA", x)
        count = self.count = self.count + 1
        p = self._period
        if p == 1:
            self._value = x
            return x
        buf = self._buf
        buf.append(x)
        if count < p:
            self._sub += x
            self._sum += x * count
            return NAN
        sub = self._sub + x - self._trailing
        total = self._sum + x * p
        self._trailing = buf.popleft()
        self._value = total / self._divider
        self._sum = total - sub
        self._sub = sub
        since = self._since = self._since + 1
        if since >= p:
            self._resync()
        return self._value

    def _resync(self) -> None:
        """Recompute the sums for the next step exactly from the p-1 newest inputs."""
        sub = total = 0.0
        k = 1
        for v in self._buf:
            sub += v
            total += v * k
            k += 1
        self._sub, self._sum, self._trailing, self._since = sub, total, 0.0, 0


# ---------------------------------------------------------------------------------------------------
# DEMA / TEMA: chained EMAs, each seeded with the SMA of its own first ``timeperiod`` inputs (as TA-Lib).


def dema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Double EMA (Mulloy): 2*EMA - EMA(EMA) (TA-Lib DEMA)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.DEMA(x, timeperiod=p), dtype=np.float64)


@register("DEMA", dema)
class DEMA(Indicator):
    """Double exponential moving average; lookback 2*(timeperiod-1)."""

    name = "DEMA"
    __slots__ = ("_e1", "_e2", "_k", "_n2", "_period", "_s1", "_s2", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self._k = 2.0 / (self.timeperiod + 1)
        self.lookback = 2 * (self.timeperiod - 1)
        self._e1 = self._e2 = NAN
        self._s1 = self._s2 = 0.0
        self._n2 = 0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("DEMA", x)
        count = self.count = self.count + 1
        p = self._period
        k = self._k
        if count > p:
            e1 = self._e1 = ((x - self._e1) * k) + self._e1
        elif count == p:
            e1 = self._e1 = (self._s1 + x) / p
        else:
            self._s1 += x
            return NAN
        n2 = self._n2 = self._n2 + 1
        if n2 > p:
            e2 = self._e2 = ((e1 - self._e2) * k) + self._e2
        elif n2 == p:
            e2 = self._e2 = (self._s2 + e1) / p
        else:
            self._s2 += e1
            return NAN
        self._value = (2.0 * e1) - e2
        return self._value


def tema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Triple EMA (Mulloy): 3*EMA - 3*EMA(EMA) + EMA(EMA(EMA)) (TA-Lib TEMA)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.TEMA(x, timeperiod=p), dtype=np.float64)


@register("TEMA", tema)
class TEMA(Indicator):
    """Triple exponential moving average; lookback 3*(timeperiod-1)."""

    name = "TEMA"
    __slots__ = (
        "_e1",
        "_e2",
        "_e3",
        "_k",
        "_n2",
        "_n3",
        "_period",
        "_s1",
        "_s2",
        "_s3",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self._k = 2.0 / (self.timeperiod + 1)
        self.lookback = 3 * (self.timeperiod - 1)
        self._e1 = self._e2 = self._e3 = NAN
        self._s1 = self._s2 = self._s3 = 0.0
        self._n2 = self._n3 = 0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("TEMA", x)
        count = self.count = self.count + 1
        p = self._period
        k = self._k
        if count > p:
            e1 = self._e1 = ((x - self._e1) * k) + self._e1
        elif count == p:
            e1 = self._e1 = (self._s1 + x) / p
        else:
            self._s1 += x
            return NAN
        n2 = self._n2 = self._n2 + 1
        if n2 > p:
            e2 = self._e2 = ((e1 - self._e2) * k) + self._e2
        elif n2 == p:
            e2 = self._e2 = (self._s2 + e1) / p
        else:
            self._s2 += e1
            return NAN
        n3 = self._n3 = self._n3 + 1
        if n3 > p:
            e3 = self._e3 = ((e2 - self._e3) * k) + self._e3
        elif n3 == p:
            e3 = self._e3 = (self._s3 + e2) / p
        else:
            self._s3 += e2
            return NAN
        self._value = e3 + ((3.0 * e1) - (3.0 * e2))
        return self._value


# ---------------------------------------------------------------------------------------------------
# TRIMA


def trima(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Triangular moving average (TA-Lib TRIMA): an SMA of an SMA, weights rising then falling."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.TRIMA(x, timeperiod=p), dtype=np.float64)


@register("TRIMA", trima)
class TRIMA(Indicator):
    """Triangular moving average with TA-Lib's three running sums.

    Odd n = 2h+1 has weights 1..h+1..1 (sum (h+1)^2); even n = 2h has 1..h,h..1 (sum h(h+1)). TA-Lib
    slides a numerator with an "add" sum over the newer half and a "sub" sum over the older half, and
    the two parities adjust them in a slightly different order, reproduced here. The window is held as
    two deques (newer half, older half) so each update is O(1).
    """

    name = "TRIMA"
    __slots__ = (
        "_add",
        "_factor",
        "_newer",
        "_num",
        "_odd",
        "_older",
        "_period",
        "_sub",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        p = self._period = self.timeperiod
        h = p >> 1
        self._odd = p % 2 == 1
        self._factor = 1.0 / ((h + 1) * (h + 1) if self._odd else h * (h + 1))
        self.lookback = p - 1
        self._newer: deque[float] = deque()
        self._older: deque[float] = deque()
        self._num = self._add = self._sub = 0.0
        self._value = NAN
        self.count = 0

    def _seed(self) -> None:
        """First window: sum it in TA-Lib's order, then split it into the two halves."""
        window = list(self._newer)
        p = self._period
        h = p >> 1
        middle = h if self._odd else h - 1
        num = sub = add = 0.0
        for i in range(middle, -1, -1):
            sub += window[i]
            num += sub
        for i in range(middle + 1, p):
            add += window[i]
            num += add
        self._num, self._sub, self._add = num, sub, add
        self._older = deque(window[: p - h])
        self._newer = deque(window[p - h :])

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("TRIMA", x)
        count = self.count = self.count + 1
        p = self._period
        if count > p:
            newer = self._newer
            older = self._older
            newer.append(x)
            mid = newer.popleft()
            older.append(mid)
            num = self._num - self._sub
            sub = self._sub - older.popleft() + mid
            if self._odd:
                num += self._add
                add = self._add - mid + x
            else:
                add = self._add - mid
                num += add
                add += x
            num += x
            self._num, self._sub, self._add = num, sub, add
            self._value = num * self._factor
            return self._value
        self._newer.append(x)
        if count < p:
            return NAN
        self._seed()
        self._value = self._num * self._factor
        return self._value
