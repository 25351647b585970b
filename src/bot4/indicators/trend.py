"""Trend-strength indicators (Wilder's directional movement system and Aroon), matching TA-Lib.

Wilder's DI/ADX are "unstable" in TA-Lib's sense: every value depends on all history since bar 0,
through sums seeded over the first bars. The streaming classes replay TA-Lib's exact seeding and
operation order so both forms agree bar for bar, not just asymptotically.
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

NAN = math.nan
_INF = math.inf
#: TA-Lib's TA_IS_ZERO band for DI/DX denominators.
_EPS = 1e-14


def refuse_bad(name: str, fields: tuple[str, ...], values: tuple[float, ...]) -> None:
    """Raise naming the first non-finite field (callers reach this only after a cheap combined test)."""
    for field, v in zip(fields, values, strict=True):
        if v != v or v in (_INF, -_INF):
            raise IndicatorError(f"{name} {field} input is {v!r}; inputs must be finite numbers")


def hlc_arrays(high: Any, low: Any, close: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate a high/low/close triple of equal-length finite series."""
    h = check_series(high, "high")
    n = len(h)
    return h, check_series(low, "low", n), check_series(close, "close", n)


def _hlc_period(
    high: Any, low: Any, close: Any, timeperiod: int, minimum: int
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    h, lo, c = hlc_arrays(high, low, close)
    return h, lo, c, check_period(timeperiod, "timeperiod", minimum, len(h))


def adx(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Average directional index (TA-Lib ADX)."""
    h, lo, c, p = _hlc_period(high, low, close, timeperiod, 2)
    return np.asarray(talib.ADX(h, lo, c, timeperiod=p), dtype=np.float64)


def adxr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Average directional movement rating (TA-Lib ADXR)."""
    h, lo, c, p = _hlc_period(high, low, close, timeperiod, 2)
    return np.asarray(talib.ADXR(h, lo, c, timeperiod=p), dtype=np.float64)


def plus_di(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Plus directional indicator (TA-Lib PLUS_DI)."""
    h, lo, c, p = _hlc_period(high, low, close, timeperiod, 1)
    return np.asarray(talib.PLUS_DI(h, lo, c, timeperiod=p), dtype=np.float64)


def minus_di(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Minus directional indicator (TA-Lib MINUS_DI)."""
    h, lo, c, p = _hlc_period(high, low, close, timeperiod, 1)
    return np.asarray(talib.MINUS_DI(h, lo, c, timeperiod=p), dtype=np.float64)


class _Wilder:
    """Wilder's smoothed +DM, -DM and true range, seeded the way TA-Lib seeds them.

    TA-Lib sums the first ``timeperiod - 1`` raw values (not ``timeperiod``), then on each later bar
    applies ``s = s - s / n + x``. ``step`` advances that state by one bar and reports whether the
    smoothed sums are live (the seeding bars are done).
    """

    __slots__ = ("count", "mdm", "n", "name", "pc", "pdm", "ph", "pl", "timeperiod", "tr")

    def __init__(self, name: str, timeperiod: int) -> None:
        self.name = name
        self.timeperiod = timeperiod
        self.n = float(timeperiod)
        self.ph = self.pl = self.pc = NAN
        self.pdm = self.mdm = self.tr = 0.0
        self.count = 0

    def step(self, high: float, low: float, close: float) -> bool:
        s = high + low + close
        if s - s != 0.0:
            refuse_bad(self.name, ("high", "low", "close"), (high, low, close))
        self.count += 1
        count = self.count
        if count == 1:
            self.ph, self.pl, self.pc = high, low, close
            return False
        diff_p = high - self.ph
        diff_m = self.pl - low
        pc = self.pc
        tr = high - low
        t = abs(high - pc)
        if t > tr:
            tr = t
        t = abs(low - pc)
        if t > tr:
            tr = t
        self.ph, self.pl, self.pc = high, low, close
        if count <= self.timeperiod:  # seeding: plain sums of the first n - 1 bars
            if diff_m > 0 and diff_p < diff_m:
                self.mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                self.pdm += diff_p
            self.tr += tr
            return False
        n = self.n
        mdm = self.mdm
        pdm = self.pdm
        mdm -= mdm / n
        pdm -= pdm / n
        if diff_m > 0 and diff_p < diff_m:
            mdm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            pdm += diff_p
        ptr = self.tr
        self.tr = ptr - (ptr / n) + tr
        self.mdm = mdm
        self.pdm = pdm
        return True


class _SingleDI(Indicator):
    """+DI or -DI. TA-Lib's period-1 form is the raw one-bar ratio *without* the 100 factor."""

    inputs = ("high", "low", "close")
    _plus: bool = True
    __slots__ = ("_value", "_w", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self.lookback = self.timeperiod
        self._w = _Wilder(self.name, self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        w = self._w
        if self.timeperiod == 1:
            return self._update_one(w, high, low, close)
        live = w.step(high, low, close)
        self.count = w.count
        if not live:
            return NAN
        dm = w.pdm if self._plus else w.mdm
        tr = w.tr
        self._value = 100.0 * (dm / tr) if not (-_EPS < tr < _EPS) else 0.0
        return self._value

    def _update_one(self, w: _Wilder, high: float, low: float, close: float) -> float:
        s = high + low + close
        if s - s != 0.0:
            refuse_bad(self.name, self.inputs, (high, low, close))
        self.count += 1
        if self.count == 1:
            w.ph, w.pl, w.pc = high, low, close
            return NAN
        diff_p = high - w.ph
        diff_m = w.pl - low
        pc = w.pc
        w.ph, w.pl, w.pc = high, low, close
        moved = (diff_p > 0 and diff_p > diff_m) if self._plus else (diff_m > 0 and diff_p < diff_m)
        if not moved:
            self._value = 0.0
            return 0.0
        tr = max(high - low, abs(high - pc), abs(low - pc))
        self._value = 0.0 if -_EPS < tr < _EPS else (diff_p if self._plus else diff_m) / tr
        return self._value


@register("PLUS_DI", plus_di)
class PLUS_DI(_SingleDI):
    """Plus directional indicator: 100 x Wilder-smoothed +DM / smoothed true range."""

    name = "PLUS_DI"
    _plus = True
    __slots__ = ()


@register("MINUS_DI", minus_di)
class MINUS_DI(_SingleDI):
    """Minus directional indicator: 100 x Wilder-smoothed -DM / smoothed true range."""

    name = "MINUS_DI"
    _plus = False
    __slots__ = ()


@register("ADX", adx)
class ADX(Indicator):
    """Average directional index, seeded exactly as TA-Lib: the mean of the first ``timeperiod`` DX.

    A bar whose smoothed true range or DI sum is zero leaves the ADX unchanged (TA-Lib skips it).
    """

    name = "ADX"
    inputs = ("high", "low", "close")
    __slots__ = (
        "_label",
        "_mdm",
        "_n",
        "_nm1",
        "_pc",
        "_pdm",
        "_ph",
        "_pl",
        "_sum_dx",
        "_tr",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self._n = float(self.timeperiod)
        self._nm1 = float(self.timeperiod - 1)
        self.lookback = 2 * self.timeperiod - 1
        self._label = "ADX"  # a wrapping indicator (ADXR) puts its own name in input errors
        self._ph = self._pl = self._pc = NAN
        self._pdm = self._mdm = self._tr = self._sum_dx = 0.0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        s = high + low + close
        if s - s != 0.0:
            refuse_bad(self._label, self.inputs, (high, low, close))
        self.count += 1
        count = self.count
        if count == 1:
            self._ph, self._pl, self._pc = high, low, close
            return NAN
        diff_p = high - self._ph
        diff_m = self._pl - low
        pc = self._pc
        tr = high - low
        t = abs(high - pc)
        if t > tr:
            tr = t
        t = abs(low - pc)
        if t > tr:
            tr = t
        self._ph, self._pl, self._pc = high, low, close
        period = self.timeperiod
        if count <= period:
            if diff_m > 0 and diff_p < diff_m:
                self._mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                self._pdm += diff_p
            self._tr += tr
            return NAN
        n = self._n
        mdm = self._mdm
        pdm = self._pdm
        mdm -= mdm / n
        pdm -= pdm / n
        if diff_m > 0 and diff_p < diff_m:
            mdm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            pdm += diff_p
        ptr = self._tr
        ptr = ptr - (ptr / n) + tr
        self._tr = ptr
        self._mdm = mdm
        self._pdm = pdm
        dx = NAN
        if not (-_EPS < ptr < _EPS):
            minus = 100.0 * (mdm / ptr)
            plus = 100.0 * (pdm / ptr)
            total = minus + plus
            if not (-_EPS < total < _EPS):
                dx = 100.0 * (abs(minus - plus) / total)
        if count > 2 * period:
            if dx == dx:
                self._value = ((self._value * self._nm1) + dx) / n
            return self._value
        if dx == dx:
            self._sum_dx += dx
        if count == 2 * period:
            self._value = self._sum_dx / n
            return self._value
        return NAN


@register("ADXR", adxr)
class ADXR(Indicator):
    """Average directional movement rating: (ADX now + ADX ``timeperiod - 1`` bars ago) / 2."""

    name = "ADXR"
    inputs = ("high", "low", "close")
    __slots__ = ("_adx", "_hist", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self._adx = ADX(timeperiod)
        self._adx._label = "ADXR"
        self.timeperiod = self._adx.timeperiod
        self.lookback = self._adx.lookback + self.timeperiod - 1
        self._hist: deque[float] = deque(maxlen=self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        a = self._adx.update(*args)
        self.count = self._adx.count
        if a != a:
            return NAN
        hist = self._hist
        hist.append(a)
        if len(hist) < self.timeperiod:
            return NAN
        self._value = (a + hist[0]) / 2.0
        return self._value


def _hl_period(high: Any, low: Any, timeperiod: int) -> tuple[FloatArray, FloatArray, int]:
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    if p + 1 > len(h):
        raise IndicatorError(f"timeperiod={p} needs {p + 1} values; data has {len(h)}")
    return h, lo, p


def aroon(high: Any, low: Any, timeperiod: int = 14) -> tuple[FloatArray, FloatArray]:
    """Aroon down and up (TA-Lib AROON), returned as ``(aroondown, aroonup)`` like TA-Lib."""
    h, lo, p = _hl_period(high, low, timeperiod)
    down, up = talib.AROON(h, lo, timeperiod=p)
    return np.asarray(down, dtype=np.float64), np.asarray(up, dtype=np.float64)


def aroonosc(high: Any, low: Any, timeperiod: int = 14) -> FloatArray:
    """Aroon oscillator (TA-Lib AROONOSC)."""
    h, lo, p = _hl_period(high, low, timeperiod)
    return np.asarray(talib.AROONOSC(h, lo, timeperiod=p), dtype=np.float64)


class _Extremes:
    """Index of the highest high and lowest low over the last ``size`` bars via monotonic deques.

    Ties go to the most recent bar, as in TA-Lib's Aroon (``>=``/``<=`` comparisons).
    """

    __slots__ = ("_hi", "_lo", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._hi: deque[tuple[int, float]] = deque()
        self._lo: deque[tuple[int, float]] = deque()

    def push(self, i: int, high: float, low: float) -> tuple[int, int]:
        hi = self._hi
        while hi and hi[-1][1] <= high:
            hi.pop()
        hi.append((i, high))
        lo = self._lo
        while lo and lo[-1][1] >= low:
            lo.pop()
        lo.append((i, low))
        oldest = i - self.size
        if hi[0][0] <= oldest:
            hi.popleft()
        if lo[0][0] <= oldest:
            lo.popleft()
        return hi[0][0], lo[0][0]


@register("AROON", aroon)
class AROON(Indicator):
    """Aroon: how many bars since the highest high / lowest low of the last ``timeperiod + 1`` bars."""

    name = "AROON"
    inputs = ("high", "low")
    outputs = ("aroondown", "aroonup")
    __slots__ = ("_down", "_ext", "_factor", "_up", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod
        self._factor = 100.0 / self.timeperiod
        self._ext = _Extremes(self.timeperiod + 1)
        self._down = self._up = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        s = high + low
        if s - s != 0.0:
            refuse_bad("AROON", self.inputs, (high, low))
        i = self.count
        self.count = i + 1
        hi_idx, lo_idx = self._ext.push(i, high, low)
        if i < self.timeperiod:
            return NAN
        p = self.timeperiod
        self._up = self._factor * (p - (i - hi_idx))
        self._down = self._factor * (p - (i - lo_idx))
        return self._down

    @property
    def value(self) -> float:
        return self._down

    def values(self) -> dict[str, float]:
        return {"aroondown": self._down, "aroonup": self._up}


@register("AROONOSC", aroonosc)
class AROONOSC(Indicator):
    """Aroon up minus Aroon down, computed as TA-Lib does from the two extreme indices."""

    name = "AROONOSC"
    inputs = ("high", "low")
    __slots__ = ("_ext", "_factor", "_value", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod
        self._factor = 100.0 / self.timeperiod
        self._ext = _Extremes(self.timeperiod + 1)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        s = high + low
        if s - s != 0.0:
            refuse_bad("AROONOSC", self.inputs, (high, low))
        i = self.count
        self.count = i + 1
        hi_idx, lo_idx = self._ext.push(i, high, low)
        if i < self.timeperiod:
            return NAN
        self._value = self._factor * (hi_idx - lo_idx)
        return self._value
