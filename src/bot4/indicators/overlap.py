"""Overlap studies (moving averages and bands), streaming and vectorized, matching TA-Lib.

Strategies and features need the same moving averages live (one bar at a time) and in research (whole
arrays), and they must agree with TA-Lib, the reference most users compare against. Each TA-Lib study
here reproduces TA-Lib's own seeding and warm-up; ``make_ma``/``ma`` pick a moving average by TA-Lib's
MA type code for the studies elsewhere that take a ``matype``. HMA and ZLEMA, which TA-Lib lacks,
follow their published formulas.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

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
from bot4.indicators.fused import SPLIT, split

NAN = math.nan


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

    @property
    def value(self) -> float:
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

    @property
    def value(self) -> float:
        return self._value



# ---------------------------------------------------------------------------------------------------
# Shared helpers.

#: TA-Lib's "is zero" band (TA_IS_ZERO in ta_utility.h), used by KAMA's efficiency ratio.
TA_EPSILON = 1e-14


def _check_real(value: float, param: str, low: float = -math.inf, high: float = math.inf) -> float:
    """Refuse a non-numeric, non-finite or out-of-range real parameter, naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise IndicatorError(f"{param} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < low or v > high:
        raise IndicatorError(f"{param} must be a finite number in [{low}, {high}], got {value!r}")
    return v


def _bad(name: str, x: float) -> IndicatorError:
    """The streaming forms' error for a NaN or infinite input."""
    return IndicatorError(f"{name} input is {x!r}; inputs must be finite numbers")


def _pad(values: FloatArray, lead: int, n: int) -> FloatArray:
    """Prefix ``lead`` NaNs so a result computed on ``x[lead:]`` lines up with ``x``."""
    out = np.full(n, NAN)
    out[lead:] = values
    return out


# ---------------------------------------------------------------------------------------------------
# Moving-average selection by TA-Lib MA type code (used by BBANDS here and MACDEXT/PPO/APO/STOCH elsewhere).

#: TA-Lib's MA type codes.
MA_SMA, MA_EMA, MA_WMA, MA_DEMA, MA_TEMA, MA_TRIMA, MA_KAMA, MA_MAMA, MA_T3 = range(9)
MA_NAMES = {0: "SMA", 1: "EMA", 2: "WMA", 3: "DEMA", 4: "TEMA", 5: "TRIMA", 6: "KAMA", 7: "MAMA", 8: "T3"}


def check_matype(matype: int, param: str = "matype") -> int:
    """Refuse an MA type code outside TA-Lib's 0..8, and MAMA (7), which takes limits, not a period."""
    if isinstance(matype, bool) or not isinstance(matype, (int, np.integer)):
        raise IndicatorError(f"{param} must be an integer TA-Lib MA type code, got {matype!r}")
    if matype == MA_MAMA:
        raise IndicatorError(f"{param}=7 (MAMA) is not supported: it takes fast/slow limits, not a period")
    if matype not in MA_NAMES:
        codes = sorted(set(MA_NAMES) - {MA_MAMA})
        raise IndicatorError(f"{param} must be one of the TA-Lib codes {codes}, got {matype}")
    return int(matype)


def make_ma(matype: int, timeperiod: int) -> Indicator:
    """Streaming moving average for a TA-Lib MA type code, as TA-Lib's ``MA`` picks it.

    Like TA-Lib's ``MA``, a period of 1 passes the input through unchanged whatever the type, and T3 uses
    its default volume factor 0.7.
    """
    code = check_matype(matype)
    p = check_period(timeperiod, "timeperiod", 1)
    if p == 1:
        return Identity()
    return _MA_CLASSES[code](timeperiod=p)


def ma(close: FloatArray, timeperiod: int = 30, matype: int = 0) -> FloatArray:
    """Vectorized moving average by TA-Lib MA type code (TA-Lib ``MA``)."""
    x = check_series(close, "close")
    code = check_matype(matype)
    p = check_period(timeperiod, "timeperiod", 1, len(x))
    # talib's stub says MA_Type, but the wrapper takes (and its MA_Type holds) plain int codes.
    return np.asarray(talib.MA(x, timeperiod=p, matype=code), dtype=np.float64)  # type: ignore[arg-type]


class Identity(Indicator):
    """The input unchanged: what TA-Lib's ``MA`` gives for a period of 1."""

    name = "IDENTITY"
    __slots__ = ("_value", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("MA", x)
        self.count += 1
        self._value = x
        return x

    @property
    def value(self) -> float:
        return self._value


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
    __slots__ = ("_buf", "_divider", "_period", "_since", "_sub", "_sum", "_trailing", "_value",
                 "count", "lookback", "timeperiod")

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

    @property
    def value(self) -> float:
        return self._value


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
    __slots__ = ("_e1", "_e2", "_k", "_n2", "_period", "_s1", "_s2", "_value", "count", "lookback",
                 "timeperiod")

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

    @property
    def value(self) -> float:
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
    __slots__ = ("_e1", "_e2", "_e3", "_k", "_n2", "_n3", "_period", "_s1", "_s2", "_s3", "_value",
                 "count", "lookback", "timeperiod")

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

    @property
    def value(self) -> float:
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
    __slots__ = ("_add", "_factor", "_newer", "_num", "_odd", "_older", "_period", "_sub", "_value",
                 "count", "lookback", "timeperiod")

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

    @property
    def value(self) -> float:
        return self._value


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
    __slots__ = ("_acc", "_c1", "_c2", "_c3", "_c4", "_e", "_e1", "_e2", "_e3", "_e4", "_e5", "_e6",
                 "_k", "_n", "_omk", "_period", "_stage", "_value", "count", "lookback", "timeperiod",
                 "vfactor")

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

    @property
    def value(self) -> float:
        return self._value


_MA_CLASSES: dict[int, Callable[..., Indicator]] = {
    MA_SMA: SMA,
    MA_EMA: EMA,
    MA_WMA: WMA,
    MA_DEMA: DEMA,
    MA_TEMA: TEMA,
    MA_TRIMA: TRIMA,
    MA_KAMA: KAMA,
    MA_T3: T3,
}


# ---------------------------------------------------------------------------------------------------
# BBANDS


def bbands(
    close: FloatArray, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands (TA-Lib BBANDS): MA of type ``matype`` +/- population stddev times nbdev."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    up = _check_real(nbdevup, "nbdevup")
    dn = _check_real(nbdevdn, "nbdevdn")
    code = check_matype(matype)
    upper, middle, lower = talib.BBANDS(
        x, timeperiod=p, nbdevup=up, nbdevdn=dn, matype=code  # type: ignore[arg-type]  # int code, see ma()
    )
    return (np.asarray(upper, dtype=np.float64), np.asarray(middle, dtype=np.float64),
            np.asarray(lower, dtype=np.float64))


#: Recompute BBANDS' sums exactly when var*n falls below this fraction of the squares they have seen.
_BB_RESCUE = 1e-7


@register("BBANDS", bbands)
class BBANDS(Indicator):
    """Bollinger Bands: middle = MA(matype), bands = middle +/- nbdev * population stddev of the window.

    TA-Lib (0.8) computes the deviation about the window mean without the cancellation of
    ``mean(x^2) - mean^2`` (a flat window gives exactly 0, a 1e-13-wide one a 1e-13-sized deviation).
    To stay O(1) and still agree closely, the streaming form keeps sums of deviations from a centre
    ``c`` (the window mean when last recomputed), var = S2/n - (S1/n)^2, and recomputes them exactly
    (two passes, O(n)) once every n updates -- O(1) amortised, so round-off cannot accumulate -- and
    also whenever var has become so small against the squares added and removed since (``mag``) that
    their round-off could show. The SMA middle band uses TA-Lib's running sum.
    """

    name = "BBANDS"
    outputs = ("upperband", "middleband", "lowerband")
    __slots__ = ("_buf", "_c", "_dn", "_lower", "_ma", "_mag", "_middle", "_period", "_s1", "_s2",
                 "_since", "_sum", "_up", "_upper", "count", "lookback", "matype", "nbdevdn", "nbdevup",
                 "timeperiod")

    def __init__(self, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0,
                 matype: int = 0) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.nbdevup = self._up = _check_real(nbdevup, "nbdevup")
        self.nbdevdn = self._dn = _check_real(nbdevdn, "nbdevdn")
        self.matype = check_matype(matype)
        p = self._period = self.timeperiod
        self._ma: Indicator | None = None if self.matype == MA_SMA else make_ma(self.matype, p)
        self.lookback = p - 1 if self._ma is None else max(self._ma.lookback, p - 1)
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._c = self._s1 = self._s2 = self._mag = 0.0
        self._since = 0
        self._upper = self._middle = self._lower = NAN
        self.count = 0

    def _recentre(self) -> float:
        """Recompute the deviation sums exactly about the window mean; return the variance."""
        buf = self._buf
        p = self._period
        c = 0.0
        for v in buf:
            c += v
        c /= p
        s1 = s2 = 0.0
        for v in buf:
            d = v - c
            s1 += d
            s2 += d * d
        self._c, self._s1, self._s2, self._mag, self._since = c, s1, s2, s2, 0
        m1 = s1 / p
        return s2 / p - m1 * m1

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("BBANDS", x)
        count = self.count = self.count + 1
        buf = self._buf
        buf.append(x)
        p = self._period
        ma = self._ma
        if ma is None:
            if count < p:
                self._sum += x
                return NAN
            # TA-Lib's SMA: add the newest to the running total, divide, then drop the oldest.
            total = self._sum + x
            mid = total / p
        else:
            mid = ma.update(x)
            if count < p:
                return NAN
        if count > p:
            leaving = buf.popleft()
            c = self._c
            d = x - c
            dl = leaving - c
            sq = d * d
            sql = dl * dl
            s1 = self._s1 = self._s1 + (d - dl)
            s2 = self._s2 = self._s2 + (sq - sql)
            mag = self._mag = self._mag + sq + sql
            since = self._since = self._since + 1
            m1 = s1 / p
            var = s2 / p - m1 * m1
            if since >= p or var * p < _BB_RESCUE * mag:
                var = self._recentre()
        else:
            var = self._recentre()
        if ma is None:
            self._sum = total - buf[0]
        elif count <= self.lookback:
            return NAN
        std = math.sqrt(var) if var > 0.0 else 0.0
        self._middle = mid
        self._lower = mid - std * self._dn
        up = self._upper = mid + std * self._up
        return up

    @property
    def value(self) -> float:
        return self._upper

    def values(self) -> dict[str, float]:
        return {"upperband": self._upper, "middleband": self._middle, "lowerband": self._lower}


# ---------------------------------------------------------------------------------------------------
# MIDPOINT / MIDPRICE: rolling extremes with monotonic deques.


class _RollingMax:
    """Maximum of the last ``period`` pushed values in amortised O(1) (monotonic deque)."""

    __slots__ = ("_i", "_idx", "_period", "_vals")

    def __init__(self, period: int) -> None:
        self._period = period
        self._vals: deque[float] = deque()
        self._idx: deque[int] = deque()
        self._i = 0

    def push(self, x: float) -> float:
        vals = self._vals
        idx = self._idx
        while vals and vals[-1] <= x:
            vals.pop()
            idx.pop()
        i = self._i
        vals.append(x)
        idx.append(i)
        self._i = i + 1
        if idx[0] <= i - self._period:
            vals.popleft()
            idx.popleft()
        return vals[0]


class _RollingMin(_RollingMax):
    """Minimum of the last ``period`` pushed values (a max over negated values, kept exact)."""

    __slots__ = ()

    def push(self, x: float) -> float:
        return -_RollingMax.push(self, -x)


def midpoint(close: FloatArray, timeperiod: int = 14) -> FloatArray:
    """(highest + lowest) / 2 of ``close`` over the period (TA-Lib MIDPOINT)."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    return np.asarray(talib.MIDPOINT(x, timeperiod=p), dtype=np.float64)


@register("MIDPOINT", midpoint)
class MIDPOINT(Indicator):
    """Midpoint of the highest and lowest input over the last ``timeperiod`` inputs."""

    name = "MIDPOINT"
    __slots__ = ("_max", "_min", "_period", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._period = self.timeperiod
        self.lookback = self.timeperiod - 1
        self._max = _RollingMax(self.timeperiod)
        self._min = _RollingMin(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x != x or x in (math.inf, -math.inf):
            raise _bad("MIDPOINT", x)
        self.count += 1
        hi = self._max.push(x)
        lo = self._min.push(x)
        if self.count < self._period:
            return NAN
        self._value = (hi + lo) / 2.0
        return self._value

    @property
    def value(self) -> float:
        return self._value


def midprice(high: FloatArray, low: FloatArray, timeperiod: int = 14) -> FloatArray:
    """(highest high + lowest low) / 2 over the period (TA-Lib MIDPRICE)."""
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    return np.asarray(talib.MIDPRICE(h, lo, timeperiod=p), dtype=np.float64)


@register("MIDPRICE", midprice)
class MIDPRICE(Indicator):
    """Midpoint of the highest high and lowest low over the last ``timeperiod`` bars."""

    name = "MIDPRICE"
    inputs = ("high", "low")
    __slots__ = ("_max", "_min", "_period", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._period = self.timeperiod
        self.lookback = self.timeperiod - 1
        self._max = _RollingMax(self.timeperiod)
        self._min = _RollingMin(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        if high != high or high in (math.inf, -math.inf):
            raise _bad("MIDPRICE high", high)
        if low != low or low in (math.inf, -math.inf):
            raise _bad("MIDPRICE low", low)
        self.count += 1
        hi = self._max.push(high)
        lo = self._min.push(low)
        if self.count < self._period:
            return NAN
        self._value = (hi + lo) / 2.0
        return self._value

    @property
    def value(self) -> float:
        return self._value


# ---------------------------------------------------------------------------------------------------
# SAR


def sar(high: FloatArray, low: FloatArray, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Wilder's parabolic SAR (TA-Lib SAR)."""
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    acc = _check_real(acceleration, "acceleration", 0.0)
    mx = _check_real(maximum, "maximum", 0.0)
    if len(h) < 2:
        raise IndicatorError(f"SAR needs at least 2 bars, got {len(h)}")
    return np.asarray(talib.SAR(h, lo, acceleration=acc, maximum=mx), dtype=np.float64)


@register("SAR", sar)
class SAR(Indicator):
    """Parabolic SAR following TA-Lib's rules.

    The first direction comes from bar 1's directional movement against bar 0: short if its -DM is
    positive (the low fell further than the high rose), else long. The first SAR is bar 0's low (long)
    or high (short) with bar 1's extreme as the extreme point, and on that first step the "previous" bar
    is bar 1 itself. The acceleration factor starts at ``acceleration`` (capped at ``maximum``), grows by
    it on each new extreme up to ``maximum``, and resets on a reversal, where the SAR jumps to the old
    extreme point. The SAR is never allowed inside the previous or current bar's range.
    """

    name = "SAR"
    inputs = ("high", "low")
    __slots__ = ("_acc", "_af", "_ep", "_long", "_max", "_phigh", "_plow", "_sar", "_value",
                 "acceleration", "count", "lookback", "maximum")

    def __init__(self, acceleration: float = 0.02, maximum: float = 0.2) -> None:
        self.acceleration = _check_real(acceleration, "acceleration", 0.0)
        self.maximum = _check_real(maximum, "maximum", 0.0)
        self._max = self.maximum
        self._acc = min(self.acceleration, self.maximum)
        self.lookback = 1
        self._af = self._acc
        self._ep = self._sar = NAN
        self._long = True
        self._phigh = self._plow = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        if high != high or high in (math.inf, -math.inf):
            raise _bad("SAR high", high)
        if low != low or low in (math.inf, -math.inf):
            raise _bad("SAR low", low)
        self.count += 1
        if self.count <= 2:
            if self.count == 1:
                self._phigh, self._plow = high, low
                return NAN
            self._start(high, low)
        prev_high, prev_low = self._phigh, self._plow
        self._phigh, self._plow = high, low
        s = self._sar
        ep = self._ep
        if self._long:
            if low <= s:  # reversal to short
                self._long = False
                s = max(ep, prev_high, high)
                out = s
                af = self._af = self._acc
                ep = low
                s = max(s + af * (ep - s), prev_high, high)
            else:
                out = s
                if high > ep:
                    ep = high
                    self._af = min(self._af + self._acc, self._max)
                s = min(s + self._af * (ep - s), prev_low, low)
        elif high >= s:  # reversal to long
            self._long = True
            s = min(ep, prev_low, low)
            out = s
            af = self._af = self._acc
            ep = high
            s = min(s + af * (ep - s), prev_low, low)
        else:
            out = s
            if low < ep:
                ep = low
                self._af = min(self._af + self._acc, self._max)
            s = max(s + self._af * (ep - s), prev_high, high)
        self._sar = s
        self._ep = ep
        self._value = out
        return out

    def _start(self, high: float, low: float) -> None:
        h0, l0 = self._phigh, self._plow
        diff_plus = high - h0
        diff_minus = l0 - low
        self._long = not (diff_minus > 0 and diff_plus < diff_minus)
        if self._long:
            self._ep, self._sar = high, l0
        else:
            self._ep, self._sar = low, h0
        # TA-Lib's first step treats bar 1 as its own previous bar.
        self._phigh, self._plow = high, low

    @property
    def value(self) -> float:
        return self._value


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
    raw = 2.0 * np.asarray(talib.WMA(x, timeperiod=half)) - np.asarray(talib.WMA(x, timeperiod=p))
    tail = raw[p - 1 :]
    if len(tail) < root:
        return np.full(len(x), NAN)
    return _pad(np.asarray(talib.WMA(tail, timeperiod=root), dtype=np.float64), p - 1, len(x))


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

    @property
    def value(self) -> float:
        return self._value


def zlema(close: FloatArray, timeperiod: int = 30) -> FloatArray:
    """Zero-lag EMA: EMA(2*x[t] - x[t-lag], n) with lag = (n-1)//2; see ``ZLEMA``."""
    x = check_series(close, "close")
    p = check_period(timeperiod, "timeperiod", 2, len(x))
    lag = (p - 1) // 2
    delagged = 2.0 * x[lag:] - x[: len(x) - lag]
    if len(delagged) < p:
        return np.full(len(x), NAN)
    return _pad(np.asarray(talib.EMA(delagged, timeperiod=p), dtype=np.float64), lag, len(x))


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

    @property
    def value(self) -> float:
        return self._value
