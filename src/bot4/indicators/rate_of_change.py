"""Rate-of-change indicators (MOM, ROC, TRIX), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

MOM and ROC compare the close with the close ``timeperiod`` bars ago; TRIX is the one-bar rate of change
of a triple EMA, each EMA step the fused ``fma(x - prev, k, prev)`` TA-Lib computes.
"""

from __future__ import annotations

import math
from collections import deque

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.momentum_shared import _bad, _ema_step, _f64, _split

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# MOM / ROC: compare with the close ``timeperiod`` bars ago.


def mom(close: FloatArray, timeperiod: int = 10) -> FloatArray:
    """Momentum (TA-Lib MOM): close minus the close ``timeperiod`` bars ago."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return _f64(talib.MOM(x, timeperiod=p))


def roc(close: FloatArray, timeperiod: int = 10) -> FloatArray:
    """Rate of change (TA-Lib ROC): ``(close / close[-timeperiod] - 1) * 100``, 0 if that close is 0."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return _f64(talib.ROC(x, timeperiod=p))


class _Lagged(Indicator):
    """Keeps the last ``timeperiod`` closes so the close ``timeperiod`` bars back is at hand."""

    __slots__ = ("_buf", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 10) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self.lookback = self.timeperiod
        self._buf: deque[float] = deque()
        self._value = NAN
        self.count = 0

    def _lag(self, args: tuple[float, ...]) -> tuple[float, float]:
        """(current close, close ``timeperiod`` bars ago or NaN)."""
        (x,) = args
        if x - x != 0.0:
            raise _bad(self.name, ("close",), args)
        self.count += 1
        buf = self._buf
        buf.append(x)
        if len(buf) > self.timeperiod:
            return x, buf.popleft()
        return x, NAN


@register("MOM", mom)
class MOM(_Lagged):
    """Close minus the close ``timeperiod`` bars ago."""

    name = "MOM"
    __slots__ = ()

    def update(self, *args: float) -> float:
        x, prev = self._lag(args)
        if prev != prev:
            return NAN
        self._value = x - prev
        return self._value


@register("ROC", roc)
class ROC(_Lagged):
    """``(close / prev - 1) * 100`` with ``prev`` the close ``timeperiod`` bars ago; 0 when prev is 0."""

    name = "ROC"
    __slots__ = ()

    def update(self, *args: float) -> float:
        x, prev = self._lag(args)
        if prev != prev:
            return NAN
        self._value = (x / prev - 1.0) * 100.0 if prev != 0.0 else 0.0
        return self._value


# ---------------------------------------------------------------------------------------------------
# TRIX


def trix(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """TRIX (TA-Lib): 1-bar rate of change, in percent, of a triple-smoothed EMA."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    return _f64(talib.TRIX(x, timeperiod=p))


@register("TRIX", trix)
class TRIX(Indicator):
    """``(ema3 / prev_ema3 - 1) * 100`` with ema3 = EMA(EMA(EMA(close))), 0 where prev_ema3 is 0.

    Each EMA is seeded with the SMA of its first ``timeperiod`` inputs (accumulated from 0.0 in order)
    and then advanced with TA-Lib's fused ``fma(x - prev, k, prev)`` step.
    """

    name = "TRIX"
    __slots__ = (
        "_e",
        "_fed",
        "_k",
        "_k_hi",
        "_k_lo",
        "_p",
        "_stage",
        "_sum",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 30) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._p = self.timeperiod
        self._k = 2.0 / (self.timeperiod + 1)
        self._k_hi, self._k_lo = _split(self._k)
        self.lookback = 3 * (self.timeperiod - 1) + 1
        self._e = [NAN, NAN, NAN]  # the three EMAs, NaN until seeded
        self._sum = [0.0, 0.0, 0.0]  # their seed sums
        self._fed = [0, 0, 0]  # inputs each has received while unseeded
        self._stage = 0  # how many EMAs are seeded
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise _bad("TRIX", ("close",), args)
        n = self.count + 1
        self.count = n
        e = self._e
        k = self._k
        k_hi = self._k_hi
        k_lo = self._k_lo
        if self._stage == 3:
            prev = e[2]
            e0 = _ema_step(x, e[0], k, k_hi, k_lo)
            e1 = _ema_step(e0, e[1], k, k_hi, k_lo)
            e2 = _ema_step(e1, e[2], k, k_hi, k_lo)
            e[0] = e0
            e[1] = e1
            e[2] = e2
            v = (e2 / prev - 1.0) * 100.0 if prev != 0.0 else 0.0
            self._value = v
            return v
        # Warm-up: advance the seeded EMAs; the first unseeded one adds the value to its seed sum,
        # and once it has ``timeperiod`` inputs its SMA seed also feeds the next EMA on this bar.
        value = x
        for i in range(3):
            if i < self._stage:
                value = _ema_step(value, e[i], k, k_hi, k_lo)
                e[i] = value
                continue
            self._sum[i] += value
            self._fed[i] += 1
            if self._fed[i] < self._p:
                return NAN
            value = self._sum[i] / self._p
            e[i] = value
            self._stage = i + 1
        return NAN  # EMA3 was seeded on this bar; the rate of change needs one more
