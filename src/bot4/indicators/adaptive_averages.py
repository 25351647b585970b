"""Moving averages tuned by more than a period (KAMA, T3), streaming and vectorized, matching TA-Lib.

KAMA adapts its smoothing to the market's efficiency ratio and T3 blends six EMAs by a volume factor; both
have seeding rules of their own, kept apart here from the fixed-weight averages in ``moving_averages``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.overlap_shared import TA_EPSILON, _bad, _check_real

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# KAMA


def kama(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Kaufman adaptive moving average (TA-Lib KAMA; fast 2, slow 30)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return np.asarray(talib.KAMA(x, timeperiod=p), dtype=np.float64)


_KAMA_SLOW = 2.0 / (30.0 + 1.0)
_KAMA_DIFF = 2.0 / (2.0 + 1.0) - _KAMA_SLOW


@register("KAMA", kama)
class KAMA(Indicator):
    """Kaufman adaptive moving average, replicating TA-Lib's seeding.

    The efficiency ratio is |x[t]-x[t-n]| / sum of |1-bar changes| over n bars, forced to 1 when that
    sum is (near) zero or not above the signed net change; the smoothing constant is
    (er*(2/3 - 2/31) + 2/31)^2. The first KAMA (at index n) starts from the previous close, x[n-1].
    A period of 1 passes the input through, as TA-Lib does.
    """

    name = "KAMA"
    __slots__ = ("_kama", "_last", "_period", "_sum_roc", "_win", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._period = self.timeperiod
        self.lookback = self.timeperiod if self.timeperiod > 1 else 0
        self._win: deque[float] = deque()
        self._sum_roc = 0.0
        self._last = NAN
        self._kama = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("KAMA", x)
        count = self.count = self.count + 1
        p = self._period
        if p == 1:
            self._kama = x
            return x
        win = self._win
        win.append(x)
        last = self._last
        self._last = x
        if count > p + 1:
            trailing = win.popleft()
            oldest = win[0]
            self._sum_roc = self._sum_roc - abs(trailing - oldest) + abs(x - last)
        elif count > 1:
            self._sum_roc += abs(last - x)
            if count <= p:
                return NAN
            oldest = win[0]
            self._kama = last
        else:
            return NAN
        total = self._sum_roc
        roc = x - oldest
        er = 1.0 if total <= roc or -TA_EPSILON < total < TA_EPSILON else abs(roc / total)
        sc = er * _KAMA_DIFF + _KAMA_SLOW
        sc *= sc
        prev = self._kama
        self._kama = (x - prev) * sc + prev
        return self._kama

    @property
    def value(self) -> float:
        return self._kama


# ---------------------------------------------------------------------------------------------------
# T3


def t3(close: FloatArray, timeperiod: int = 5, vfactor: float = 0.7) -> FloatArray:
    """Tillson T3 (TA-Lib T3): six chained EMAs combined with volume-factor weights."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    v = _check_real(vfactor, "vfactor", 0.0, 1.0)
    return np.asarray(talib.T3(x, timeperiod=p, vfactor=v), dtype=np.float64)


@register("T3", t3)
class T3(Indicator):
    """Tillson's T3 with TA-Lib's nested seeding; lookback 6*(timeperiod-1).

    TA-Lib seeds e1 with the mean of the first n inputs, then each later e_j with the mean of e_{j-1}'s
    first n values (its seed plus n-1 updates), so e6 is ready after 6n-5 inputs. Its EMA step is
    ``k*x + (1-k)*prev`` (not EMA's ``(x-prev)*k + prev``), and the weights are
    c1=-v^3, c2=3(v^2+v^3), c3=-6v^2-3(v+v^3), c4=1+3v+v^3+3v^2, output c1*e6+c2*e5+c3*e4+c4*e3.
    """

    name = "T3"
    __slots__ = (
        "_acc",
        "_c1",
        "_c2",
        "_c3",
        "_c4",
        "_e",
        "_e1",
        "_e2",
        "_e3",
        "_e4",
        "_e5",
        "_e6",
        "_k",
        "_n",
        "_omk",
        "_period",
        "_stage",
        "_value",
        "count",
        "lookback",
        "timeperiod",
        "vfactor",
    )

    def __init__(self, timeperiod: int = 5, vfactor: float = 0.7) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self.vfactor = _check_real(vfactor, "vfactor", 0.0, 1.0)
        p = self._period = self.timeperiod
        self.lookback = 6 * (p - 1)
        self._k = 2.0 / (p + 1.0)
        self._omk = 1.0 - self._k
        v = self.vfactor
        v2 = v * v
        c1 = 0 - v2 * v
        self._c1 = c1
        self._c2 = 3.0 * (v2 - c1)
        self._c3 = (0 - 6.0) * v2 - 3.0 * (v - c1)
        self._c4 = 1.0 + 3.0 * v - c1 + 3.0 * v2
        self._e: list[float] = []  # e1..e_{stage-1} while seeding
        self._e1 = self._e2 = self._e3 = self._e4 = self._e5 = self._e6 = NAN
        self._acc = 0.0
        self._n = 0
        self._stage = 1  # which e_j is being seeded; 7 once all six are running
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("T3", x)
        self.count += 1
        if self._stage == 7:
            k = self._k
            omk = self._omk
            e1 = self._e1 = k * x + omk * self._e1
            e2 = self._e2 = k * e1 + omk * self._e2
            e3 = self._e3 = k * e2 + omk * self._e3
            e4 = self._e4 = k * e3 + omk * self._e4
            e5 = self._e5 = k * e4 + omk * self._e5
            e6 = self._e6 = k * e5 + omk * self._e6
            self._value = self._c1 * e6 + self._c2 * e5 + self._c3 * e4 + self._c4 * e3
            return self._value
        if self._period == 1:
            self._value = x
            return x
        return self._seed(x)

    def _seed(self, x: float) -> float:
        p = self._period
        e = self._e
        if self._stage == 1:
            self._acc = x if self._n == 0 else self._acc + x
            self._n += 1
            if self._n < p:
                return NAN
        else:
            k = self._k
            omk = self._omk
            prev = x
            for j in range(len(e)):
                prev = e[j] = k * prev + omk * e[j]
            self._acc += prev
            self._n += 1
            if self._n < p - 1:
                return NAN
        seed = self._acc / p
        e.append(seed)
        self._acc = seed
        self._n = 0
        self._stage += 1
        if self._stage < 7:
            return NAN
        self._e1, self._e2, self._e3, self._e4, self._e5, self._e6 = e
        self._value = self._c1 * e[5] + self._c2 * e[4] + self._c3 * e[3] + self._c4 * e[2]
        return self._value
