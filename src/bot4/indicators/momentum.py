"""Momentum indicators, streaming and vectorized, matching TA-Lib value for value.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib's arithmetic in TA-Lib's order: the same seeds for the Wilder- and EMA-smoothed
indicators (whose values depend on all history since bar 0), the same zero tests, the same running
sums. Vectorized functions validate their input and then call TA-Lib itself.

Facts about TA-Lib 0.8.1 (the C library bundled with the ``ta-lib`` wheel) that the streaming forms
reproduce, taken from its C source and confirmed bit for bit against the library itself:

* Every EMA step is the fused ``fma(x - prev, k, prev)`` (MACD, TRIX). MACD seeds the slow EMA with the
  SMA of the first ``slowperiod`` prices and the fast EMA with the SMA of the last ``fastperiod`` of
  those, so both start on the same bar; the signal EMA starts from the SMA of the first
  ``signalperiod`` MACD values. A slow period shorter than the fast one is swapped. (The fixed
  0.15/0.075 factors belong to period 0, which MACD's 2.. range excludes.)
* RSI and CMO seed Wilder's averages with the mean of the first ``timeperiod`` changes; RSI then
  scales by a precomputed ``1 / timeperiod``, CMO divides. Both give 0 only when gain + loss is 0.
* PPO/APO run the fast and slow MA independently from bar 0; PPO is 0 where ``|slow MA| < 1e-14``.
* Fast %K is ``(close - lowest) / (highest - lowest) * 100`` (WILLR: ``* -100``), 0 when the range is
  within ``1e-14 * (|highest| + |lowest|)``. STOCH smooths it with its own MA type into slow %K, then
  slow %K into slow %D; a 1-bar MA passes its input through, whatever the type. STOCHRSI is STOCHF
  over RSI values.
* CCI uses the mean deviation about the window mean; both deviations count as 0 within
  ``1e-14 * |mean|``. MFI ignores a typical-price move within ``1e-14 * (|tp| + |prev tp|)`` and
  resets its sums after a window without money flow. ULTOSC sorts its three periods (weights 4, 2, 1
  from shortest to longest) and resets its sums after a window without range. BOP needs a positive
  bar range.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

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
from bot4.indicators.fused import ema_step, split
from bot4.indicators.overlap import check_matype, make_ma

NAN = math.nan

#: TA-Lib's zero band (``TA_EPSILON`` in ta_utility.h).
TA_EPSILON = 1e-14

#: TA-Lib's stubs type ``matype`` as their ``MA_Type`` enum, but the compiled functions take the integer
#: code (an enum member is refused at run time), so calls that pass a matype go through this alias.
_talib_int_matype: Any = talib


def _bad(name: str, fields: tuple[str, ...], values: tuple[float, ...]) -> IndicatorError:
    """The error for a streaming input that is NaN or infinite, naming the first offending field."""
    for field, x in zip(fields, values, strict=True):
        if not math.isfinite(x):
            return IndicatorError(f"{name} {field} input is {x!r}; inputs must be finite numbers")
    return IndicatorError(f"{name} inputs {values!r} must be finite numbers")  # pragma: no cover


_split = split
_ema_step = ema_step


def _hlc(high: FloatArray, low: FloatArray, close: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    h = check_series(high, "high")
    n = len(h)
    return h, check_series(low, "low", n), check_series(close, "close", n)


def _f64(values: object) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


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
# MACD


def macd(
    close: FloatArray, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Moving average convergence/divergence (TA-Lib MACD): ``(macd, macdsignal, macdhist)``."""
    x = check_series(close, "close")
    n = len(x)
    f = check_period(fastperiod, "fastperiod", 2, n)
    s = check_period(slowperiod, "slowperiod", 2, n)
    g = check_period(signalperiod, "signalperiod", 1, n)
    m, sig, hist = talib.MACD(x, fastperiod=f, slowperiod=s, signalperiod=g)
    return _f64(m), _f64(sig), _f64(hist)


@register("MACD", macd)
class MACD(Indicator):
    """MACD with TA-Lib's seeding: both price EMAs become live on the slow period's last bar.

    The slow EMA starts from the SMA of the first ``slowperiod`` prices and the fast EMA from the SMA
    of the last ``fastperiod`` of them; the signal EMA starts from the SMA of the first
    ``signalperiod`` MACD values (a signal period of 1 is no smoothing: signal = MACD). Sums are
    accumulated during warm-up, so no buffer is kept. Every EMA step is TA-Lib's fused
    ``fma(x - prev, k, prev)``.
    """

    name = "MACD"
    outputs = ("macd", "macdsignal", "macdhist")
    __slots__ = (
        "_fast",
        "_fast_from",
        "_fastk",
        "_fastn",
        "_fastsum",
        "_fk_hi",
        "_fk_lo",
        "_gk_hi",
        "_gk_lo",
        "_hist",
        "_macd",
        "_sigk",
        "_sign",
        "_signal",
        "_sk_hi",
        "_sk_lo",
        "_slow",
        "_slowk",
        "_slown",
        "_slowsum",
        "_steady_from",
        "count",
        "fastperiod",
        "lookback",
        "signalperiod",
        "slowperiod",
    )

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> None:
        self.fastperiod = check_period(fastperiod, "fastperiod", 2)
        self.slowperiod = check_period(slowperiod, "slowperiod", 2)
        self.signalperiod = check_period(signalperiod, "signalperiod", 1)
        fast, slow = sorted((self.fastperiod, self.slowperiod))  # TA-Lib swaps a slower "fast"
        self._fastn = fast
        self._slown = slow
        self._sign = self.signalperiod
        self._fastk = 2.0 / (fast + 1)
        self._slowk = 2.0 / (slow + 1)
        self._sigk = 2.0 / (self.signalperiod + 1)
        self._fk_hi, self._fk_lo = _split(self._fastk)
        self._sk_hi, self._sk_lo = _split(self._slowk)
        self._gk_hi, self._gk_lo = _split(self._sigk)
        self._fast_from = slow - fast  # the fast seed window opens after this many bars
        self.lookback = (slow - 1) + (self.signalperiod - 1)
        self._steady_from = self.lookback + 2  # first bar (1-based) past the signal seed
        self._fastsum = 0.0
        self._slowsum = 0.0
        self._fast = NAN
        self._slow = NAN
        self._signal = NAN
        self._macd = NAN
        self._hist = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise _bad("MACD", ("close",), args)
        n = self.count + 1
        self.count = n
        if n < self._steady_from:
            return self._warm_up(x, n)
        fast = _ema_step(x, self._fast, self._fastk, self._fk_hi, self._fk_lo)
        slow = _ema_step(x, self._slow, self._slowk, self._sk_hi, self._sk_lo)
        m = fast - slow
        sig = m if self._sign == 1 else _ema_step(m, self._signal, self._sigk, self._gk_hi, self._gk_lo)
        self._fast = fast
        self._slow = slow
        self._signal = sig
        self._macd = m
        self._hist = m - sig
        return m

    def _warm_up(self, x: float, n: int) -> float:
        slow_n = self._slown
        if n <= slow_n:
            self._slowsum += x
            if n > self._fast_from:
                self._fastsum += x
            if n < slow_n:
                return NAN
            self._slow = self._slowsum / slow_n
            self._fast = self._fastsum / self._fastn
            m = self._fast - self._slow
            self._signal = 0.0 + m  # the signal seed sum, accumulated from 0.0 as TA-Lib does
        else:
            self._fast = _ema_step(x, self._fast, self._fastk, self._fk_hi, self._fk_lo)
            self._slow = _ema_step(x, self._slow, self._slowk, self._sk_hi, self._sk_lo)
            m = self._fast - self._slow
            self._signal += m
        if n <= self.lookback:
            return NAN
        self._signal = self._signal / self._sign
        self._macd = m
        self._hist = m - self._signal
        return m

    @property
    def value(self) -> float:
        return self._macd if self.count > self.lookback else NAN

    def values(self) -> dict[str, float]:
        if self.count > self.lookback:
            return {"macd": self._macd, "macdsignal": self._signal, "macdhist": self._hist}
        return {"macd": NAN, "macdsignal": NAN, "macdhist": NAN}


# ---------------------------------------------------------------------------------------------------
# PPO / APO: fast MA against slow MA, both run independently from bar 0.


def _po_params(fastperiod: int, slowperiod: int, matype: int, n: int | None) -> tuple[int, int, int]:
    f = check_period(fastperiod, "fastperiod", 2, n)
    s = check_period(slowperiod, "slowperiod", 2, n)
    return f, s, check_matype(matype, "matype")


def ppo(close: FloatArray, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> FloatArray:
    """Percentage price oscillator (TA-Lib PPO)."""
    x = check_series(close, "close")
    f, s, t = _po_params(fastperiod, slowperiod, matype, len(x))
    return _f64(_talib_int_matype.PPO(x, fastperiod=f, slowperiod=s, matype=t))


def apo(close: FloatArray, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> FloatArray:
    """Absolute price oscillator (TA-Lib APO)."""
    x = check_series(close, "close")
    f, s, t = _po_params(fastperiod, slowperiod, matype, len(x))
    return _f64(_talib_int_matype.APO(x, fastperiod=f, slowperiod=s, matype=t))


class _PriceOscillator(Indicator):
    """Shared PPO/APO state: two moving averages of one MA type over the same closes."""

    __slots__ = ("_fast", "_slow", "_value", "count", "fastperiod", "lookback", "matype", "slowperiod")

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> None:
        self.fastperiod, self.slowperiod, self.matype = _po_params(fastperiod, slowperiod, matype, None)
        fast, slow = sorted((self.fastperiod, self.slowperiod))
        self._fast = make_ma(self.matype, fast)
        self._slow = make_ma(self.matype, slow)
        self.lookback = self._slow.lookback
        self._value = NAN
        self.count = 0

    def _both(self, args: tuple[float, ...]) -> tuple[float, float]:
        (x,) = args
        if x - x != 0.0:
            raise _bad(self.name, ("close",), args)
        self.count += 1
        return self._fast.update(x), self._slow.update(x)

    @property
    def value(self) -> float:
        return self._value


@register("PPO", ppo)
class PPO(_PriceOscillator):
    """(fast MA - slow MA) / slow MA * 100; 0 where the slow MA is within TA-Lib's zero band."""

    name = "PPO"
    __slots__ = ()

    def update(self, *args: float) -> float:
        fast, slow = self._both(args)
        if slow != slow:
            return NAN
        v = (fast - slow) / slow * 100.0 if (slow >= TA_EPSILON or slow <= -TA_EPSILON) else 0.0
        self._value = v
        return v


@register("APO", apo)
class APO(_PriceOscillator):
    """Fast MA minus slow MA."""

    name = "APO"
    __slots__ = ()

    def update(self, *args: float) -> float:
        fast, slow = self._both(args)
        if slow != slow:
            return NAN
        v = fast - slow
        self._value = v
        return v


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

    @property
    def value(self) -> float:
        return self._value


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

    @property
    def value(self) -> float:
        return self._value


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
# WILLR / CCI


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

    @property
    def value(self) -> float:
        return self._value


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

    @property
    def value(self) -> float:
        return self._value


# ---------------------------------------------------------------------------------------------------
# MFI


def mfi(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, timeperiod: int = 14
) -> FloatArray:
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

    @property
    def value(self) -> float:
        return self._value


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

    @property
    def value(self) -> float:
        return self._value


# ---------------------------------------------------------------------------------------------------
# TRIX / BOP


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

    @property
    def value(self) -> float:
        return self._value


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

    @property
    def value(self) -> float:
        return self._value
