"""Wilder-smoothed gain/loss oscillators (RSI, CMO), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

RSI and CMO seed Wilder's averages with the mean of the first ``timeperiod`` changes; RSI then scales by
a precomputed ``1 / timeperiod``, CMO divides. Both give 0 only when gain + loss is 0.
"""

from __future__ import annotations

import math

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.momentum_shared import _bad, _f64

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# RSI / CMO: Wilder smoothing of gains and losses.


def rsi(close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """Relative strength index (TA-Lib RSI, Wilder smoothing)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    return _f64(talib.RSI(x, timeperiod=p))


def cmo(close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """Chande momentum oscillator (TA-Lib CMO, computed like RSI with Wilder smoothing)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    return _f64(talib.CMO(x, timeperiod=p))


class _Wilder(Indicator):
    """Wilder-smoothed average gain and loss, seeded like TA-Lib.

    The first ``timeperiod`` changes are summed and averaged; afterwards each average is
    ``(avg * (period - 1) + today) / period`` (RSI multiplies by a precomputed ``1 / period`` where CMO
    divides, as TA-Lib 0.8 does, which changes the last bits). Seeding from the first bar matters:
    the averages carry every earlier change, so starting elsewhere gives different values for long.
    """

    __slots__ = ("_gain", "_inv", "_loss", "_p", "_pm1", "_prev", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod
        self._p = float(self.timeperiod)
        self._pm1 = float(self.timeperiod - 1)
        self._inv = 1.0 / self.timeperiod
        self._gain = 0.0
        self._loss = 0.0
        self._prev = NAN
        self._value = NAN
        self.count = 0

    def _seed(self, x: float, n: int, inv: float) -> bool:
        """Accumulate a warm-up change; True once the averages are seeded (on bar ``timeperiod + 1``).

        The sums become averages by multiplying with ``inv`` (RSI: ``1 / timeperiod``, as TA-Lib's
        RSI does) or, with ``inv == 1.0``, by dividing by the period (CMO).
        """
        if n > 1:
            d = x - self._prev
            if d < 0.0:
                self._loss -= d
            else:
                self._gain += d
        self._prev = x
        if n <= self.timeperiod:
            return False
        if inv == 1.0:
            self._loss /= self._p
            self._gain /= self._p
        else:
            self._loss *= inv
            self._gain *= inv
        return True


@register("RSI", rsi)
class RSI(_Wilder):
    """``100 * avg_gain / (avg_gain + avg_loss)``, 0 when the sum is within TA-Lib's zero band."""

    name = "RSI"
    __slots__ = ()

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise _bad("RSI", ("close",), args)
        n = self.count + 1
        self.count = n
        if n > self.lookback + 1:
            d = x - self._prev
            self._prev = x
            loss = self._loss * self._pm1
            gain = self._gain * self._pm1
            if d < 0.0:
                loss -= d
            else:
                gain += d
            inv = self._inv
            loss *= inv
            gain *= inv
            self._loss = loss
            self._gain = gain
        elif not self._seed(x, n, self._inv):
            return NAN
        else:
            gain = self._gain
            loss = self._loss
        t = gain + loss
        v = 100.0 * (gain / t) if t > 0.0 else 0.0
        self._value = v
        return v


@register("CMO", cmo)
class CMO(_Wilder):
    """``100 * (avg_gain - avg_loss) / (avg_gain + avg_loss)``, 0 when the sum is near zero."""

    name = "CMO"
    __slots__ = ()

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise _bad("CMO", ("close",), args)
        n = self.count + 1
        self.count = n
        if n > self.lookback + 1:
            d = x - self._prev
            self._prev = x
            loss = self._loss * self._pm1
            gain = self._gain * self._pm1
            if d < 0.0:
                loss -= d
            else:
                gain += d
            loss /= self._p
            gain /= self._p
            self._loss = loss
            self._gain = gain
        elif not self._seed(x, n, 1.0):
            return NAN
        else:
            gain = self._gain
            loss = self._loss
        t = gain + loss
        v = 100.0 * ((gain - loss) / t) if t > 0.0 else 0.0
        self._value = v
        return v
