"""Channel and chart-style indicators beyond classic TA-Lib: Keltner and Donchian channels,
SuperTrend, Ichimoku, Heikin-Ashi.

Each has a streaming class (O(1) per bar) and a vectorized function; the docstrings give the
formula and where it was published. The vectorized forms are built from TA-Lib primitives (EMA,
ATR, MAX/MIN, MIDPRICE) or, where TA-Lib 0.8 ships the same definition (SUPERTREND, HA), call it;
the streaming forms reproduce those values bit for bit. Every output is a value *knowable at the
close of its bar*: nothing reads a later bar (see Ichimoku for what that means for its forward-
and backward-plotted lines).
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
from bot4.indicators.overlap import EMA
from bot4.indicators.trend import hlc_arrays, refuse_bad
from bot4.indicators.volatility import ATR

NAN = math.nan


def _check_multiplier(value: float, param: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0.0 < value < math.inf):
        raise IndicatorError(f"{param} must be a positive finite number, got {value!r}")
    return float(value)


def _enough(n: int, lookback: int, what: str) -> None:
    if lookback + 1 > n:
        raise IndicatorError(f"{what} needs {lookback + 1} values; data has {n}")


# ---------------------------------------------------------------------------------------------------
# Keltner channels


def keltner(
    high: Any,
    low: Any,
    close: Any,
    timeperiod: int = 20,
    atrperiod: int = 10,
    multiplier: float = 2.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Keltner channels ``(upperband, middleband, lowerband)``; see ``KELTNER``."""
    h, lo, c = hlc_arrays(high, low, close)
    p = check_period(timeperiod, "timeperiod", 1, len(c))
    ap = check_period(atrperiod, "atrperiod", 1, len(c))
    m = _check_multiplier(multiplier, "multiplier")
    _enough(len(c), max(p - 1, ap), f"KELTNER(timeperiod={p}, atrperiod={ap})")
    mid = np.asarray(talib.EMA(c, timeperiod=p), dtype=np.float64)
    width = m * np.asarray(talib.ATR(h, lo, c, timeperiod=ap), dtype=np.float64)
    mid[: max(p - 1, ap)] = NAN  # all three bands start together
    return mid + width, mid, mid - width


@register("KELTNER", keltner)
class KELTNER(Indicator):
    """Keltner channels: EMA(close, timeperiod) +/- multiplier x ATR(atrperiod).

    The ATR is Wilder's, exactly TA-Lib's ATR; the middle line is TA-Lib's EMA (SMA-seeded).
    Source: the modern form popularized by Linda Bradford Raschke (EMA 20, ATR 10, x2), replacing
    Chester Keltner's 10-day SMA of typical price +/- the 10-day average range in "How to Make
    Money in Commodities" (1960). TA-Lib 0.8's KC differs on purpose: it centres on an EMA of the
    typical price (TTR/ta4j style), so its bands are not these.
    """

    name = "KELTNER"
    inputs = ("high", "low", "close")
    outputs = ("upperband", "middleband", "lowerband")
    benchmark_peer = "KC"
    __slots__ = (
        "_atr",
        "_ema",
        "_lo",
        "_mid",
        "_up",
        "atrperiod",
        "count",
        "lookback",
        "multiplier",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 20, atrperiod: int = 10, multiplier: float = 2.0) -> None:
        self._ema = EMA(check_period(timeperiod, "timeperiod", 1))
        self._atr = ATR(check_period(atrperiod, "atrperiod", 1))
        self._atr._label = "KELTNER"
        self.timeperiod = self._ema.timeperiod
        self.atrperiod = self._atr.timeperiod
        self.multiplier = _check_multiplier(multiplier, "multiplier")
        self.lookback = max(self._ema.lookback, self._atr.lookback)
        self._up = self._mid = self._lo = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        a = self._atr.update(high, low, close)  # validates all three inputs first
        mid = self._ema.update(close)
        self.count += 1
        if self.count <= self.lookback:
            return NAN
        width = self.multiplier * a
        self._mid = mid
        self._up = mid + width
        self._lo = mid - width
        return self._up

    @property
    def value(self) -> float:
        return self._up

    def values(self) -> dict[str, float]:
        return {"upperband": self._up, "middleband": self._mid, "lowerband": self._lo}


# ---------------------------------------------------------------------------------------------------
# Donchian channels


class RollingExtremes:
    """Highest and lowest value over the last ``size`` inputs via monotonic deques (O(1) amortized)."""

    __slots__ = ("_hi", "_i", "_lo", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._i = 0
        self._hi: deque[tuple[int, float]] = deque()
        self._lo: deque[tuple[int, float]] = deque()

    def push(self, high: float, low: float) -> tuple[float, float]:
        i = self._i
        self._i = i + 1
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
        return hi[0][1], lo[0][1]


def donchian(high: Any, low: Any, timeperiod: int = 20) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Donchian channels ``(upperband, middleband, lowerband)``; see ``DONCHIAN``.

    Built from TA-Lib MAX/MIN, which gives the same values as TA-Lib 0.8's DONCHIAN in less time.
    """
    h = check_series(high, "high")
    lo = check_series(low, "low", len(h))
    p = check_period(timeperiod, "timeperiod", 2, len(h))
    upper = np.asarray(talib.MAX(h, timeperiod=p), dtype=np.float64)
    lower = np.asarray(talib.MIN(lo, timeperiod=p), dtype=np.float64)
    return upper, (upper + lower) / 2.0, lower


@register("DONCHIAN", donchian)
class DONCHIAN(Indicator):
    """Donchian channels: highest high and lowest low of the last ``timeperiod`` bars (this bar
    included) and their midpoint.

    Source: Richard Donchian's "4-week rule" (Commodity Trend Timing, 1960s); the breakout system
    later used by the Turtle traders.
    """

    name = "DONCHIAN"
    inputs = ("high", "low")
    outputs = ("upperband", "middleband", "lowerband")
    __slots__ = ("_ext", "_lo", "_mid", "_up", "count", "lookback", "timeperiod")

    def __init__(self, timeperiod: int = 20) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.lookback = self.timeperiod - 1
        self._ext = RollingExtremes(self.timeperiod)
        self._up = self._mid = self._lo = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low = args
        s = high + low
        if s - s != 0.0:
            refuse_bad("DONCHIAN", self.inputs, (high, low))
        self.count += 1
        up, lo = self._ext.push(high, low)
        if self.count <= self.lookback:
            return NAN
        self._up, self._lo = up, lo
        self._mid = (up + lo) / 2.0
        return up

    @property
    def value(self) -> float:
        return self._up

    def values(self) -> dict[str, float]:
        return {"upperband": self._up, "middleband": self._mid, "lowerband": self._lo}


# ---------------------------------------------------------------------------------------------------
# SuperTrend


def supertrend(
    high: Any, low: Any, close: Any, timeperiod: int = 10, multiplier: float = 3.0
) -> tuple[FloatArray, FloatArray]:
    """SuperTrend ``(supertrend, trend)`` via TA-Lib 0.8's SUPERTREND; see ``SUPERTREND``."""
    h, lo, c = hlc_arrays(high, low, close)
    p = check_period(timeperiod, "timeperiod", 2, len(c))
    m = _check_multiplier(multiplier, "multiplier")
    _enough(len(c), p, f"SUPERTREND(timeperiod={p})")
    line, trend = talib.SUPERTREND(h, lo, c, timeperiod=p, multiplier=m)
    direction = np.asarray(trend, dtype=np.float64)
    direction[:p] = NAN
    return np.asarray(line, dtype=np.float64), direction


@register("SUPERTREND", supertrend)
class SUPERTREND(Indicator):
    """SuperTrend: an ATR trailing stop that flips sides when the close crosses it.

    With hl2 = (high + low) / 2 and ATR = Wilder's ATR(timeperiod) (exactly TA-Lib's ATR, same
    seed): basic bands ub = hl2 + multiplier x ATR, lb = hl2 - multiplier x ATR; the final upper
    band only ratchets down (it takes ub if ub < the previous final upper or the previous close
    broke above it), the final lower band only ratchets up (mirror rule). The trend turns up when
    the close exceeds the final upper band and down when it falls below the final lower band;
    ``supertrend`` is the final lower band in an uptrend and the final upper band in a downtrend;
    ``trend`` is +1 (up) or -1 (down). The first bar starts in an uptrend (ta4j's and TA-Lib 0.8's
    convention; TradingView starts down, which differs only until the first flip).
    Source: Olivier Seban's SuperTrend; rules as in TA-Lib 0.8 SUPERTREND / TradingView
    ``ta.supertrend``. TA-Lib 0.8 ships it, so the vectorized form calls TA-Lib and the streaming
    form reproduces it bit for bit.
    """

    name = "SUPERTREND"
    inputs = ("high", "low", "close")
    outputs = ("supertrend", "trend")
    __slots__ = ("_atr", "_dir", "_fl", "_fu", "_pc", "_st", "count", "lookback", "multiplier", "timeperiod")

    def __init__(self, timeperiod: int = 10, multiplier: float = 3.0) -> None:
        self._atr = ATR(check_period(timeperiod, "timeperiod", 2))  # TA-Lib's minimum
        self._atr._label = "SUPERTREND"
        self.timeperiod = self._atr.timeperiod
        self.multiplier = _check_multiplier(multiplier, "multiplier")
        self.lookback = self._atr.lookback
        self._fu = self._fl = self._pc = NAN
        self._st = self._dir = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        a = self._atr.update(high, low, close)
        self.count += 1
        if a != a:
            return NAN
        width = self.multiplier * a
        hl2 = (high + low) / 2.0
        bu = hl2 + width
        bl = hl2 - width
        if self._dir != self._dir:
            self._fu, self._fl, self._dir = bu, bl, 1.0
        else:
            pc = self._pc
            if bu < self._fu or pc > self._fu:
                self._fu = bu
            if bl > self._fl or pc < self._fl:
                self._fl = bl
            if self._dir < 0.0:
                if close > self._fu:
                    self._dir = 1.0
            elif close < self._fl:
                self._dir = -1.0
        self._pc = close
        self._st = self._fl if self._dir > 0.0 else self._fu
        return self._st

    @property
    def value(self) -> float:
        return self._st

    def values(self) -> dict[str, float]:
        return {"supertrend": self._st, "trend": self._dir}


# ---------------------------------------------------------------------------------------------------
# Ichimoku


def _ichimoku_params(tenkan: int, kijun: int, senkou: int, displacement: int) -> tuple[int, int, int, int]:
    t = check_period(tenkan, "tenkan", 1)
    k = check_period(kijun, "kijun", 1)
    s = check_period(senkou, "senkou", 1)
    d = check_period(displacement, "displacement", 0)
    return t, k, s, d


def _midpoint(h: FloatArray, lo: FloatArray, p: int) -> FloatArray:
    """(highest high + lowest low) / 2 over ``p`` bars: TA-Lib's MIDPRICE."""
    if p == 1:
        return (h + lo) / 2.0
    return np.asarray(talib.MIDPRICE(h, lo, timeperiod=p), dtype=np.float64)


def _shift(x: FloatArray, d: int) -> FloatArray:
    if d == 0:
        return x
    out = np.full(len(x), NAN)
    out[d:] = x[:-d]
    return out


def ichimoku(
    high: Any,
    low: Any,
    close: Any,
    tenkan: int = 9,
    kijun: int = 26,
    senkou: int = 52,
    displacement: int = 26,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Ichimoku ``(tenkan, kijun, senkou_a, senkou_b, chikou)`` as knowable at each bar; see
    ``ICHIMOKU``."""
    h, lo, c = hlc_arrays(high, low, close)
    t, k, s, d = _ichimoku_params(tenkan, kijun, senkou, displacement)
    lookback = max(t, k, s) - 1 + d
    _enough(len(c), lookback, "ICHIMOKU")
    tk = _midpoint(h, lo, t)
    kj = _midpoint(h, lo, k)
    sa = _shift((tk + kj) / 2.0, d)
    sb = _shift(_midpoint(h, lo, s), d)
    outs = [tk, kj, sa, sb, c.copy()]
    for o in outs:
        o[:lookback] = NAN
    return tk, kj, sa, sb, outs[4]


@register("ICHIMOKU", ichimoku)
class ICHIMOKU(Indicator):
    """Ichimoku Kinko Hyo, every line given as *knowable at the bar* (no look-ahead).

    mid(n) = (highest high + lowest low) / 2 over the last n bars. tenkan = mid(tenkan),
    kijun = mid(kijun). On a chart senkou A = (tenkan + kijun) / 2 and senkou B = mid(senkou) are
    drawn ``displacement`` bars *ahead*; here ``senkou_a``/``senkou_b`` at bar t are the values
    computed at bar t - displacement, i.e. the cloud as drawn *under* bar t. The chikou line is the
    close drawn ``displacement`` bars *behind*; its value drawn at bar t would be a future close, so
    ``chikou`` at bar t is the newest point of that line (close[t], which the chart places at
    t - displacement). Compare it with the close/cloud ``displacement`` bars ago yourself.
    All five outputs are NaN until senkou B is available (lookback max(periods) - 1 +
    displacement), like TA-Lib multi-output indicators share one lookback. TradingView draws the
    spans ``displacement - 1`` bars ahead: pass ``displacement=25`` to line up with its chart.
    Source: Goichi Hosoda, "Ichimoku Kinko Hyo" (1969); standard settings 9/26/52/26.
    """

    name = "ICHIMOKU"
    inputs = ("high", "low", "close")
    outputs = ("tenkan", "kijun", "senkou_a", "senkou_b", "chikou")
    benchmark_peer = "MIDPRICE"
    __slots__ = (
        "_ext_k",
        "_ext_s",
        "_ext_t",
        "_out",
        "_pending",
        "count",
        "displacement",
        "kijun",
        "lookback",
        "senkou",
        "tenkan",
    )

    def __init__(self, tenkan: int = 9, kijun: int = 26, senkou: int = 52, displacement: int = 26) -> None:
        self.tenkan, self.kijun, self.senkou, self.displacement = _ichimoku_params(tenkan, kijun, senkou, displacement)
        self.lookback = max(self.tenkan, self.kijun, self.senkou) - 1 + self.displacement
        self._ext_t = RollingExtremes(self.tenkan)
        self._ext_k = RollingExtremes(self.kijun)
        self._ext_s = RollingExtremes(self.senkou)
        self._pending: deque[tuple[float, float]] = deque()
        self._out = dict.fromkeys(self.outputs, NAN)
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        s = high + low + close
        if s - s != 0.0:
            refuse_bad("ICHIMOKU", self.inputs, (high, low, close))
        self.count += 1
        hi, lo = self._ext_t.push(high, low)
        tk = (hi + lo) / 2.0
        hi, lo = self._ext_k.push(high, low)
        kj = (hi + lo) / 2.0
        hi, lo = self._ext_s.push(high, low)
        pending = self._pending
        pending.append(((tk + kj) / 2.0, (hi + lo) / 2.0))
        sa, sb = pending[0]
        if len(pending) > self.displacement:
            pending.popleft()
        if self.count <= self.lookback:
            return NAN
        out = self._out
        out["tenkan"] = tk
        out["kijun"] = kj
        out["senkou_a"] = sa
        out["senkou_b"] = sb
        out["chikou"] = close
        return tk

    @property
    def value(self) -> float:
        return self._out["tenkan"]

    def values(self) -> dict[str, float]:
        return dict(self._out)


# ---------------------------------------------------------------------------------------------------
# Heikin-Ashi


def heikin_ashi(open_: Any, high: Any, low: Any, close: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Heikin-Ashi candles ``(ha_open, ha_high, ha_low, ha_close)``; see ``HEIKIN_ASHI``.

    TA-Lib 0.8's HA computes exactly these values (same seed, same operation order), so the
    vectorized form validates and calls it.
    """
    o = check_series(open_, "open")
    n = len(o)
    h = check_series(high, "high", n)
    lo = check_series(low, "low", n)
    c = check_series(close, "close", n)
    if n == 0:
        raise IndicatorError("HEIKIN_ASHI needs at least one bar; data is empty")
    ha_open, ha_high, ha_low, ha_close = talib.HA(o, h, lo, c)
    return (
        np.asarray(ha_open, dtype=np.float64),
        np.asarray(ha_high, dtype=np.float64),
        np.asarray(ha_low, dtype=np.float64),
        np.asarray(ha_close, dtype=np.float64),
    )


@register("HEIKIN_ASHI", heikin_ashi)
class HEIKIN_ASHI(Indicator):
    """Heikin-Ashi candles.

    ha_close = (open + high + low + close) / 4; ha_open = (previous ha_open + previous ha_close) / 2,
    seeded with (open + close) / 2 on the first bar; ha_high = max(high, ha_open, ha_close);
    ha_low = min(low, ha_open, ha_close).
    Source: Dan Valcu, "Using the Heikin-Ashi Technique", Technical Analysis of Stocks &
    Commodities, February 2004. TA-Lib 0.8 names it HA with outputs haopen/hahigh/halow/haclose.
    """

    name = "HEIKIN_ASHI"
    inputs = ("open", "high", "low", "close")
    outputs = ("ha_open", "ha_high", "ha_low", "ha_close")
    benchmark_peer = "HA"
    __slots__ = ("_c", "_h", "_l", "_o", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._o = self._h = self._l = self._c = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        o, h, lo, c = args
        s = o + h + lo + c
        if s - s != 0.0:
            refuse_bad("HEIKIN_ASHI", self.inputs, (o, h, lo, c))
        self.count += 1
        ha_open = (o + c) / 2.0 if self.count == 1 else (self._o + self._c) / 2.0
        ha_close = (o + h + lo + c) / 4.0
        self._o = ha_open
        self._c = ha_close
        self._h = max(h, ha_open, ha_close)
        self._l = min(lo, ha_open, ha_close)
        return ha_open

    @property
    def value(self) -> float:
        return self._o

    def values(self) -> dict[str, float]:
        return {"ha_open": self._o, "ha_high": self._h, "ha_low": self._l, "ha_close": self._c}
