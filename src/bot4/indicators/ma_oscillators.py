"""Moving-average oscillators (MACD, PPO, APO), streaming and vectorized, matching TA-Lib.

Strategies read these bar by bar, research reads them over whole arrays, and a backtest is only
trustworthy if both agree with the reference implementation everyone else uses. So each streaming
class replays TA-Lib 0.8.1's arithmetic in TA-Lib's order (taken from its C source and confirmed bit for
bit against the library); the vectorized functions validate their input and then call TA-Lib itself.

* Every EMA step is the fused ``fma(x - prev, k, prev)``. MACD seeds the slow EMA with the SMA of the
  first ``slowperiod`` prices and the fast EMA with the SMA of the last ``fastperiod`` of those, so both
  start on the same bar; the signal EMA starts from the SMA of the first ``signalperiod`` MACD values. A
  slow period shorter than the fast one is swapped. (The fixed 0.15/0.075 factors belong to period 0,
  which MACD's 2.. range excludes.)
* PPO/APO run the fast and slow MA independently from bar 0; PPO is 0 where ``|slow MA| < 1e-14``.
"""

from __future__ import annotations

import math

import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.ma_types import check_matype, make_ma
from bot4.indicators.momentum_shared import TA_EPSILON, _bad, _ema_step, _f64, _split, _talib_int_matype

NAN = math.nan


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
