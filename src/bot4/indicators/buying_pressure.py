"""Buying-pressure oscillators (ULTOSC, BOP), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

Both measure where the close sits within the bar's range. ULTOSC sorts its three periods (weights 4, 2, 1
from shortest to longest) and resets its sums after a window without range. BOP needs a positive bar
range.
"""

from __future__ import annotations

import math

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.momentum_shared import _bad, _f64, _hlc

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# ULTOSC


def _sorted_periods(timeperiod1: int, timeperiod2: int, timeperiod3: int) -> tuple[int, int, int]:
    """Check the three periods and order them shortest first, as TA-Lib does before weighting."""
    a = check_period(timeperiod1, "timeperiod1", 1)
    b = check_period(timeperiod2, "timeperiod2", 1)
    c = check_period(timeperiod3, "timeperiod3", 1)
    short, mid, long_ = sorted((a, b, c))
    return short, mid, long_


def ultosc(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    timeperiod1: int = 7,
    timeperiod2: int = 14,
    timeperiod3: int = 28,
) -> FloatArray:
    """Ultimate oscillator (TA-Lib ULTOSC)."""
    h, lo, c = _hlc(high, low, close)
    n = len(h)
    p1 = check_period(timeperiod1, "timeperiod1", 1, n)
    p2 = check_period(timeperiod2, "timeperiod2", 1, n)
    p3 = check_period(timeperiod3, "timeperiod3", 1, n)
    return _f64(talib.ULTOSC(h, lo, c, timeperiod1=p1, timeperiod2=p2, timeperiod3=p3))


@register("ULTOSC", ultosc)
class ULTOSC(Indicator):
    """Larry Williams' ultimate oscillator: buying pressure over true range on three horizons.

    ``100 * (4*A1/B1 + 2*A2/B2 + A3/B3) / 7`` with A = sum of ``close - min(low, prev close)`` and B = sum
    of true range over the short, middle and long period (a term is skipped while its B is not
    positive). The running sums add today's term, yield the output, then drop each window's oldest
    term, in TA-Lib's order, so the rounding matches. As in TA-Lib, once a whole window has passed with
    no range at all its sums are reset to exactly zero, so add/subtract residue is never divided.
    """

    name = "ULTOSC"
    inputs = ("high", "low", "close")
    __slots__ = (
        "_a1",
        "_a2",
        "_a3",
        "_b1",
        "_b2",
        "_b3",
        "_bp",
        "_null_run",
        "_p1",
        "_p2",
        "_p3",
        "_prev_close",
        "_tr",
        "_value",
        "count",
        "lookback",
        "timeperiod1",
        "timeperiod2",
        "timeperiod3",
    )

    def __init__(self, timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28) -> None:
        self._p1, self._p2, self._p3 = _sorted_periods(timeperiod1, timeperiod2, timeperiod3)
        self.timeperiod1 = int(timeperiod1)
        self.timeperiod2 = int(timeperiod2)
        self.timeperiod3 = int(timeperiod3)
        self.lookback = self._p3
        self._bp = [0.0] * self._p3  # close minus true low, by bar index mod the longest period
        self._tr = [0.0] * self._p3  # true range, same slots
        self._a1 = self._a2 = self._a3 = 0.0
        self._b1 = self._b2 = self._b3 = 0.0
        self._null_run = 0
        self._prev_close = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        if (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad("ULTOSC", self.inputs, args)
        n = self.count
        self.count = n + 1
        prev_close = self._prev_close
        self._prev_close = close
        if n == 0:
            return NAN
        true_low = low if low < prev_close else prev_close
        bp = close - true_low
        tr = high - low
        t = abs(prev_close - high)
        if t > tr:
            tr = t
        t = abs(prev_close - low)
        if t > tr:
            tr = t
        p1 = self._p1
        p2 = self._p2
        p3 = self._p3
        self._bp[n % p3] = bp
        self._tr[n % p3] = tr
        null_run = self._null_run + 1 if (tr == 0.0 and bp == 0.0) else 0
        self._null_run = null_run
        if n < p3:  # warm-up: each total takes the bars of its first window
            if n > p3 - p1:
                self._a1 += bp
                self._b1 += tr
            if n > p3 - p2:
                self._a2 += bp
                self._b2 += tr
            self._a3 += bp
            self._b3 += tr
            return NAN
        a1 = self._a1 + bp
        a2 = self._a2 + bp
        a3 = self._a3 + bp
        b1 = self._b1 + tr
        b2 = self._b2 + tr
        b3 = self._b3 + tr
        if null_run >= p1:  # a window of bars without range: its sums are exactly zero
            a1 = b1 = 0.0
            if null_run >= p2:
                a2 = b2 = 0.0
                if null_run >= p3:
                    self._null_run = p3
                    a3 = b3 = 0.0
        out = 0.0
        if b1 > 0.0:
            out += 4.0 * (a1 / b1)
        if b2 > 0.0:
            out += 2.0 * (a2 / b2)
        if b3 > 0.0:
            out += a3 / b3
        bps = self._bp
        trs = self._tr
        old = (n - p1 + 1) % p3
        self._a1 = a1 - bps[old]
        self._b1 = b1 - trs[old]
        old = (n - p2 + 1) % p3
        self._a2 = a2 - bps[old]
        self._b2 = b2 - trs[old]
        old = (n + 1) % p3
        self._a3 = a3 - bps[old]
        self._b3 = b3 - trs[old]
        v = 100.0 * (out / 7.0)
        self._value = v
        return v


# ---------------------------------------------------------------------------------------------------
# BOP


def bop(open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """Balance of power (TA-Lib BOP): ``(close - open) / (high - low)``."""
    o = check_series(open_, "open")
    n = len(o)
    h = check_series(high, "high", n)
    lo = check_series(low, "low", n)
    c = check_series(close, "close", n)
    return _f64(talib.BOP(o, h, lo, c))


@register("BOP", bop)
class BOP(Indicator):
    """``(close - open) / (high - low)``; 0 when the range is not positive."""

    name = "BOP"
    inputs = ("open", "high", "low", "close")
    __slots__ = ("_value", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        open_, high, low, close = args
        if (open_ - open_) + (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad("BOP", self.inputs, args)
        self.count += 1
        rng = high - low
        v = (close - open_) / rng if rng > 0.0 else 0.0
        self._value = v
        return v
