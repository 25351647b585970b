"""Range-position oscillators (STOCH, STOCHF, STOCHRSI, WILLR), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

Fast %K is ``(close - lowest) / (highest - lowest) * 100`` (WILLR: ``* -100``), 0 when the range is
within ``1e-14 * (|highest| + |lowest|)``. STOCH smooths it with its own MA type into slow %K, then slow
%K into slow %D; a 1-bar MA passes its input through, whatever the type. STOCHRSI is STOCHF over RSI
values. All share the rolling highest-high / lowest-low window defined here.
"""

from __future__ import annotations

import math
from collections import deque

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.ma_types import check_matype, make_ma
from bot4.indicators.momentum_shared import TA_EPSILON, _bad, _f64, _hlc, _talib_int_matype
from bot4.indicators.relative_strength import RSI

NAN = math.nan


class _HighLowWindow:
    """Highest high and lowest low over the last ``period`` bars.

    Monotonic deques: each bar enters and leaves each deque at most once, so a push is amortized O(1)
    and the extremes are exactly the window's max/min (no rescans, no rounding).
    """

    __slots__ = ("_hi_idx", "_hi_val", "_lo_idx", "_lo_val", "_n", "_period", "highest", "lowest")

    def __init__(self, period: int) -> None:
        self._period = period
        self._n = 0
        self._hi_val: deque[float] = deque()
        self._hi_idx: deque[int] = deque()
        self._lo_val: deque[float] = deque()
        self._lo_idx: deque[int] = deque()
        self.highest = NAN
        self.lowest = NAN

    def push(self, high: float, low: float) -> None:
        n = self._n
        self._n = n + 1
        expired = n - self._period
        hv = self._hi_val
        hi = self._hi_idx
        while hv and hv[-1] <= high:
            hv.pop()
            hi.pop()
        hv.append(high)
        hi.append(n)
        if hi[0] <= expired:
            hv.popleft()
            hi.popleft()
        lv = self._lo_val
        li = self._lo_idx
        while lv and lv[-1] >= low:
            lv.pop()
            li.pop()
        lv.append(low)
        li.append(n)
        if li[0] <= expired:
            lv.popleft()
            li.popleft()
        self.highest = hv[0]
        self.lowest = lv[0]


# ---------------------------------------------------------------------------------------------------
# Stochastics


def _flat(highest: float, lowest: float) -> bool:
    """TA-Lib's flat-window test: a range within 1e-14 of the window's own price level."""
    return highest - lowest <= TA_EPSILON * (abs(highest) + abs(lowest))


def _fast_k(close: float, highest: float, lowest: float) -> float:
    """TA-Lib's fast %K: ``(close - lowest) / (highest - lowest) * 100``, 0 for a flat window."""
    if highest - lowest <= TA_EPSILON * (abs(highest) + abs(lowest)):
        return 0.0
    return (close - lowest) / (highest - lowest) * 100.0


def stoch(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowk_matype: int = 0,
    slowd_period: int = 3,
    slowd_matype: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic (TA-Lib STOCH): ``(slowk, slowd)``."""
    h, lo, c = _hlc(high, low, close)
    n = len(h)
    fk = check_period(fastk_period, "fastk_period", 1, n)
    sk = check_period(slowk_period, "slowk_period", 1, n)
    skt = check_matype(slowk_matype, "slowk_matype")
    sd = check_period(slowd_period, "slowd_period", 1, n)
    sdt = check_matype(slowd_matype, "slowd_matype")
    k, d = _talib_int_matype.STOCH(
        h, lo, c, fastk_period=fk, slowk_period=sk, slowk_matype=skt, slowd_period=sd, slowd_matype=sdt
    )
    return _f64(k), _f64(d)


@register("STOCH", stoch)
class STOCH(Indicator):
    """Fast %K smoothed into slow %K (MA of type ``slowk_matype``), then into slow %D."""

    name = "STOCH"
    inputs = ("high", "low", "close")
    outputs = ("slowk", "slowd")
    __slots__ = (
        "_d",
        "_fastk_n",
        "_k",
        "_ma_d",
        "_ma_k",
        "_window",
        "count",
        "fastk_period",
        "lookback",
        "slowd_matype",
        "slowd_period",
        "slowk_matype",
        "slowk_period",
    )

    def __init__(
        self,
        fastk_period: int = 5,
        slowk_period: int = 3,
        slowk_matype: int = 0,
        slowd_period: int = 3,
        slowd_matype: int = 0,
    ) -> None:
        self.fastk_period = check_period(fastk_period, "fastk_period", 1)
        self.slowk_period = check_period(slowk_period, "slowk_period", 1)
        self.slowk_matype = check_matype(slowk_matype, "slowk_matype")
        self.slowd_period = check_period(slowd_period, "slowd_period", 1)
        self.slowd_matype = check_matype(slowd_matype, "slowd_matype")
        self._fastk_n = self.fastk_period
        self._window = _HighLowWindow(self.fastk_period)
        self._ma_k = make_ma(self.slowk_matype, self.slowk_period)
        self._ma_d = make_ma(self.slowd_matype, self.slowd_period)
        self.lookback = self.fastk_period - 1 + self._ma_k.lookback + self._ma_d.lookback
        self._k = NAN
        self._d = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        if (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad("STOCH", self.inputs, args)
        self.count += 1
        w = self._window
        w.push(high, low)
        if self.count < self._fastk_n:
            return NAN
        slowk = self._ma_k.update(_fast_k(close, w.highest, w.lowest))
        if slowk != slowk:
            return NAN
        slowd = self._ma_d.update(slowk)
        if slowd != slowd:
            return NAN
        self._k = slowk
        self._d = slowd
        return slowk

    @property
    def value(self) -> float:
        return self._k

    def values(self) -> dict[str, float]:
        return {"slowk": self._k, "slowd": self._d}


def stochf(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    fastk_period: int = 5,
    fastd_period: int = 3,
    fastd_matype: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Fast stochastic (TA-Lib STOCHF): ``(fastk, fastd)``."""
    h, lo, c = _hlc(high, low, close)
    n = len(h)
    fk = check_period(fastk_period, "fastk_period", 1, n)
    fd = check_period(fastd_period, "fastd_period", 1, n)
    fdt = check_matype(fastd_matype, "fastd_matype")
    k, d = _talib_int_matype.STOCHF(h, lo, c, fastk_period=fk, fastd_period=fd, fastd_matype=fdt)
    return _f64(k), _f64(d)


@register("STOCHF", stochf)
class STOCHF(Indicator):
    """Fast %K and its MA %D; %K is reported only once %D exists, as TA-Lib does."""

    name = "STOCHF"
    inputs = ("high", "low", "close")
    outputs = ("fastk", "fastd")
    __slots__ = (
        "_d",
        "_k",
        "_ma_d",
        "_window",
        "count",
        "fastd_matype",
        "fastd_period",
        "fastk_period",
        "lookback",
    )

    def __init__(self, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0) -> None:
        self.fastk_period = check_period(fastk_period, "fastk_period", 1)
        self.fastd_period = check_period(fastd_period, "fastd_period", 1)
        self.fastd_matype = check_matype(fastd_matype, "fastd_matype")
        self._window = _HighLowWindow(self.fastk_period)
        self._ma_d = make_ma(self.fastd_matype, self.fastd_period)
        self.lookback = self.fastk_period - 1 + self._ma_d.lookback
        self._k = NAN
        self._d = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        if (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad(self.name, self.inputs, args)
        self.count += 1
        w = self._window
        w.push(high, low)
        if self.count < self.fastk_period:
            return NAN
        k = _fast_k(close, w.highest, w.lowest)
        d = self._ma_d.update(k)
        if d != d:
            return NAN
        self._k = k
        self._d = d
        return k

    @property
    def value(self) -> float:
        return self._k

    def values(self) -> dict[str, float]:
        return {"fastk": self._k, "fastd": self._d}


def stochrsi(
    close: FloatArray,
    timeperiod: int = 14,
    fastk_period: int = 5,
    fastd_period: int = 3,
    fastd_matype: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Stochastic RSI (TA-Lib STOCHRSI: STOCHF over RSI values): ``(fastk, fastd)``."""
    x = check_series(close, "close")
    n = len(x)
    p = check_period(timeperiod, "timeperiod", 2, n)
    fk = check_period(fastk_period, "fastk_period", 1, n)
    fd = check_period(fastd_period, "fastd_period", 1, n)
    fdt = check_matype(fastd_matype, "fastd_matype")
    k, d = _talib_int_matype.STOCHRSI(x, timeperiod=p, fastk_period=fk, fastd_period=fd, fastd_matype=fdt)
    return _f64(k), _f64(d)


@register("STOCHRSI", stochrsi)
class STOCHRSI(Indicator):
    """STOCHF fed with RSI as high, low and close (Chande & Kroll's stochastic RSI, TA-Lib's form)."""

    name = "STOCHRSI"
    outputs = ("fastk", "fastd")
    __slots__ = (
        "_rsi",
        "_stochf",
        "count",
        "fastd_matype",
        "fastd_period",
        "fastk_period",
        "lookback",
        "timeperiod",
    )

    def __init__(
        self, timeperiod: int = 14, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0
    ) -> None:
        self._rsi = RSI(timeperiod)
        self._stochf = STOCHF(fastk_period, fastd_period, fastd_matype)
        self.timeperiod = self._rsi.timeperiod
        self.fastk_period = self._stochf.fastk_period
        self.fastd_period = self._stochf.fastd_period
        self.fastd_matype = self._stochf.fastd_matype
        self.lookback = self._rsi.lookback + self._stochf.lookback
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise _bad("STOCHRSI", ("close",), args)
        self.count += 1
        r = self._rsi.update(x)
        if r != r:
            return NAN
        return self._stochf.update(r, r, r)

    @property
    def value(self) -> float:
        return self._stochf.value

    def values(self) -> dict[str, float]:
        return self._stochf.values()


# ---------------------------------------------------------------------------------------------------
# WILLR


def willr(high: FloatArray, low: FloatArray, close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """Williams' %R (TA-Lib WILLR), in [-100, 0]."""
    h, lo, c = _hlc(high, low, close)
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    return _f64(talib.WILLR(h, lo, c, timeperiod=p))


@register("WILLR", willr)
class WILLR(Indicator):
    """``(highest - close) / (highest - lowest) * -100`` over ``timeperiod`` bars; 0 for a flat window."""

    name = "WILLR"
    inputs = ("high", "low", "close")
    __slots__ = ("_value", "_window", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod - 1
        self._window = _HighLowWindow(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        if (high - high) + (low - low) + (close - close) != 0.0:
            raise _bad("WILLR", self.inputs, args)
        self.count += 1
        w = self._window
        w.push(high, low)
        if self.count < self.timeperiod:
            return NAN
        highest = w.highest
        lowest = w.lowest
        v = 0.0 if _flat(highest, lowest) else (highest - close) / (highest - lowest) * -100.0
        self._value = v
        return v
