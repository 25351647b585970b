"""Typical-price oscillators (CCI, MFI), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

Both work on the typical price (high + low + close) / 3. CCI uses the mean deviation about the window
mean; both deviations count as 0 within ``1e-14 * |mean|``. MFI, the volume-weighted one, ignores a
typical-price move within ``1e-14 * (|tp| + |prev tp|)`` and resets its sums after a window without money
flow.
"""

from __future__ import annotations

import math

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.momentum_shared import TA_EPSILON, _bad, _f64, _hlc

NAN = math.nan


# ---------------------------------------------------------------------------------------------------
# CCI


def cci(high: FloatArray, low: FloatArray, close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """Commodity channel index (TA-Lib CCI)."""
    h, lo, c = _hlc(high, low, close)
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    return _f64(talib.CCI(h, lo, c, timeperiod=p))


@register("CCI", cci)
class CCI(Indicator):
    """``(tp - mean) / (0.015 * mean |tp - mean|)`` over typical prices ``(h + l + c) / 3``.

    The mean absolute deviation around the *current* mean has no exact O(1) update, so each bar
    rescans the ``timeperiod`` typical prices: O(timeperiod) time, O(timeperiod) memory, constant in
    the length of the stream. The ring buffer is summed in slot order, as TA-Lib sums its circular
    buffer, so even a flat window leaves the same rounding residue; as in TA-Lib, a deviation within
    1e-14 of the window's mean price counts as zero (flat window, or today's price on the mean).
    """

    name = "CCI"
    inputs = ("high", "low", "close")
    __slots__ = ("_buf", "_p", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod - 1
        self._p = self.timeperiod
        self._buf = [0.0] * self.timeperiod
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        if (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad("CCI", self.inputs, args)
        n = self.count
        self.count = n + 1
        p = self._p
        buf = self._buf
        tp = (high + low + close) / 3
        buf[n % p] = tp
        if n < p - 1:
            return NAN
        avg = 0.0
        for v in buf:
            avg += v
        avg /= p
        dev = 0.0
        for v in buf:
            dev += abs(v - avg)
        dev /= p
        d = tp - avg
        band = TA_EPSILON * abs(avg)
        out = 0.0 if abs(d) <= band or dev <= band else d / (0.015 * dev)
        self._value = out
        return out


# ---------------------------------------------------------------------------------------------------
# MFI


def mfi(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, timeperiod: int = 14) -> FloatArray:
    """Money flow index (TA-Lib MFI)."""
    h, lo, c = _hlc(high, low, close)
    v = check_series(volume, "volume", len(h))
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    return _f64(talib.MFI(h, lo, c, v, timeperiod=p))


@register("MFI", mfi)
class MFI(Indicator):
    """Share of positive money flow (typical price x volume) over the last ``timeperiod`` bars.

    As in TA-Lib: a typical-price move within ``1e-14 * (|tp| + |prev tp|)`` counts as no move (no flow
    either side); after ``timeperiod`` bars in a row without flow the running sums are reset to exactly
    zero; the positive sum is clamped into ``[0, total]``; an empty window gives 0.
    """

    name = "MFI"
    inputs = ("high", "low", "close", "volume")
    __slots__ = (
        "_neg",
        "_negsum",
        "_null_run",
        "_p",
        "_pos",
        "_possum",
        "_prev",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod
        self._p = self.timeperiod
        self._pos = [0.0] * self.timeperiod
        self._neg = [0.0] * self.timeperiod
        self._possum = 0.0
        self._negsum = 0.0
        self._null_run = 0
        self._prev = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close, volume = args
        if (high - high) + (low - low) + (close - close) + (volume - volume) != 0.0:
            raise _bad("MFI", self.inputs, args)
        n = self.count
        self.count = n + 1
        tp = (high + low + close) / 3.0
        prev = self._prev
        self._prev = tp
        if n == 0:
            return NAN
        p = self._p
        slot = (n - 1) % p
        possum = self._possum
        negsum = self._negsum
        if n > p:
            possum -= self._pos[slot]
            negsum -= self._neg[slot]
        d = tp - prev
        flow = 0.0 if abs(d) <= TA_EPSILON * (abs(tp) + abs(prev)) else tp * volume
        if d < 0.0:
            self._pos[slot] = 0.0
            self._neg[slot] = flow
            negsum += flow
        else:
            self._pos[slot] = flow
            self._neg[slot] = 0.0
            possum += flow
        if flow == 0.0:
            self._null_run += 1
            if self._null_run >= p:
                self._null_run = p
                possum = 0.0
                negsum = 0.0
        else:
            self._null_run = 0
        self._possum = possum
        self._negsum = negsum
        if n < p:
            return NAN
        total = possum + negsum
        pos = 0.0 if possum < 0.0 else (total if possum > total else possum)
        out = 0.0 if total <= 0.0 else 100.0 * (pos / total)
        self._value = out
        return out
