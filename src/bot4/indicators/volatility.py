"""Volatility measures: TA-Lib's range/deviation indicators and range-based volatility estimators.

The TA-Lib ones (TRANGE, ATR, NATR, STDDEV, VAR) replay TA-Lib's seeding and running sums exactly.
The range-based estimators (Parkinson, Garman-Klass, Rogers-Satchell, Yang-Zhang) squeeze more
information out of OHLC bars than close-to-close deviation does; they are per-bar volatilities of
log prices unless ``periods_per_year`` asks for annualizing.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt
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
from bot4.indicators.trend import hlc_arrays, refuse_bad

NAN = math.nan
_INF = math.inf
_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------------
# TA-Lib: true range, ATR, NATR, STDDEV, VAR


def trange(high: Any, low: Any, close: Any) -> FloatArray:
    """True range (TA-Lib TRANGE); the first bar has no previous close, so it is NaN."""
    h, lo, c = hlc_arrays(high, low, close)
    return np.asarray(talib.TRANGE(h, lo, c), dtype=np.float64)


def _atr_args(high: Any, low: Any, close: Any, timeperiod: int) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    h, lo, c = hlc_arrays(high, low, close)
    p = check_period(timeperiod, "timeperiod", 1, len(h))
    if p + 1 > len(h):
        raise IndicatorError(f"timeperiod={p} needs {p + 1} values; data has {len(h)}")
    return h, lo, c, p


def atr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Average true range (TA-Lib ATR: Wilder smoothing seeded with the mean of the first TRs)."""
    h, lo, c, p = _atr_args(high, low, close, timeperiod)
    return np.asarray(talib.ATR(h, lo, c, timeperiod=p), dtype=np.float64)


def natr(high: Any, low: Any, close: Any, timeperiod: int = 14) -> FloatArray:
    """Normalized ATR, percent of close (TA-Lib NATR)."""
    h, lo, c, p = _atr_args(high, low, close, timeperiod)
    return np.asarray(talib.NATR(h, lo, c, timeperiod=p), dtype=np.float64)


@register("TRANGE", trange)
class TRANGE(Indicator):
    """True range: max(high - low, |high - previous close|, |low - previous close|)."""

    name = "TRANGE"
    inputs = ("high", "low", "close")
    __slots__ = ("_pc", "_value", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 1
        self._pc = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        s = high + low + close
        if s - s != 0.0:
            refuse_bad("TRANGE", self.inputs, (high, low, close))
        self.count += 1
        pc = self._pc
        self._pc = close
        if self.count == 1:
            return NAN
        tr = high - low
        t = abs(high - pc)
        if t > tr:
            tr = t
        t = abs(low - pc)
        if t > tr:
            tr = t
        self._value = tr
        return tr


def fma_const(b: float, b_hi: float, b_lo: float, x: float, y: float) -> float:
    """``b * x + y`` rounded once, as a fused multiply-add would (TA-Lib's compiled binary fuses).

    The general sibling of ``bot4.indicators.fused.ema_step``. Python 3.11 has no ``math.fma``:
    Dekker's error-free product (with ``b`` pre-split by ``fused.split``)
    gives ``b * x = p + e`` exactly, Knuth's two-sum gives ``p + y = s + t`` exactly, and
    ``s + (t + e)`` rounds the sum once except in vanishingly rare double-rounding ties.
    """
    p = b * x
    c = SPLIT * x
    hi = c - (c - x)
    lo = x - hi
    e = ((b_hi * hi - p) + b_hi * lo + b_lo * hi) + b_lo * lo
    s = p + y
    bb = s - p
    return s + (((p - (s - bb)) + (y - bb)) + e)


@register("ATR", atr)
class ATR(Indicator):
    """Average true range, bit-identical to TA-Lib C 0.8.

    The first value is the mean of the first ``timeperiod`` true ranges (bars 2..timeperiod+1).
    TA-Lib 0.8 then steps ``atr = fma(b, atr, a * tr)`` with ``b = (n - 1) / n`` and ``a = 1 - b``
    (its compiled binary fuses the multiply-add). Python 3.11 has no ``math.fma``, so the fused step
    is emulated exactly with Dekker's error-free product (Veltkamp split) and Knuth's two-sum; on
    800k real bars at several periods it reproduced every TA-Lib value bit for bit.
    """

    name = "ATR"
    inputs = ("high", "low", "close")
    __slots__ = (
        "_a",
        "_b",
        "_b_hi",
        "_b_lo",
        "_label",
        "_n",
        "_pc",
        "_sum",
        "_value",
        "count",
        "lookback",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 14) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self._n = float(self.timeperiod)
        self._b = (self.timeperiod - 1) / self.timeperiod
        self._a = 1.0 - self._b
        self._b_hi, self._b_lo = split(self._b)
        self.lookback = self.timeperiod
        self._label = self.name  # a wrapping indicator (KELTNER, SUPERTREND) puts its own name here
        self._pc = NAN
        self._sum = 0.0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close = args
        s = high + low + close
        if s - s != 0.0:
            refuse_bad(self._label, self.inputs, (high, low, close))
        count = self.count = self.count + 1
        pc = self._pc
        self._pc = close
        if count == 1:
            return NAN
        tr = high - low
        t = abs(high - pc)
        if t > tr:
            tr = t
        t = abs(low - pc)
        if t > tr:
            tr = t
        if count > self.lookback + 1:
            prev = self._value
            # fma(b, prev, a * tr), inlined ``fma_const`` for speed.
            prod = self._b * prev
            c = SPLIT * prev
            hi = c - (c - prev)
            lo = prev - hi
            b_hi = self._b_hi
            b_lo = self._b_lo
            err = ((b_hi * hi - prod) + b_hi * lo + b_lo * hi) + b_lo * lo
            q = self._a * tr
            total = prod + q
            bb = total - prod
            self._value = total + (((prod - (total - bb)) + (q - bb)) + err)
            return self._value
        self._sum += tr
        if count == self.lookback + 1:
            self._value = self._sum / self._n
            return self._value
        return NAN


@register("NATR", natr)
class NATR(ATR):
    """ATR as a percentage of the close: ``(atr / close) * 100``, 0 where the close is zero.

    TA-Lib quirk kept for agreement: with ``timeperiod=1`` NATR returns the raw true range, not a
    percentage (TA-Lib short-cuts period 1 to TRANGE).
    """

    name = "NATR"
    __slots__ = ("_natr",)

    def __init__(self, timeperiod: int = 14) -> None:
        super().__init__(timeperiod)
        self._natr = NAN

    def update(self, *args: float) -> float:
        a = ATR.update(self, *args)
        if a != a:
            return NAN
        close = args[2]
        if self.timeperiod == 1:
            self._natr = a
        else:
            self._natr = (a / close) * 100.0 if not (-1e-14 < close < 1e-14) else 0.0
        return self._natr

    @property
    def value(self) -> float:
        return self._natr


def _var_args(close: Any, timeperiod: int, minimum: int) -> tuple[FloatArray, int]:
    x = check_series(close, "close")
    return x, check_period(timeperiod, "timeperiod", minimum, len(x))


def _check_nbdev(nbdev: float) -> float:
    if isinstance(nbdev, bool) or not isinstance(nbdev, (int, float)) or not math.isfinite(nbdev):
        raise IndicatorError(f"nbdev must be a finite number, got {nbdev!r}")
    return float(nbdev)


def var(close: Any, timeperiod: int = 5, nbdev: float = 1.0) -> FloatArray:
    """Population variance over ``timeperiod`` (TA-Lib VAR; like TA-Lib, ``nbdev`` has no effect)."""
    _check_nbdev(nbdev)
    x, p = _var_args(close, timeperiod, 1)
    return np.asarray(talib.VAR(x, timeperiod=p, nbdev=nbdev), dtype=np.float64)


def stddev(close: Any, timeperiod: int = 5, nbdev: float = 1.0) -> FloatArray:
    """Population standard deviation times ``nbdev`` (TA-Lib STDDEV)."""
    nb = _check_nbdev(nbdev)
    x, p = _var_args(close, timeperiod, 2)
    return np.asarray(talib.STDDEV(x, timeperiod=p, nbdev=nb), dtype=np.float64)


class RunningVar:
    """TA-Lib's rolling population variance, step for step (TA-Lib C 0.8 ``var.c``).

    TA-Lib measures deviations against a *shift* (first the series' first value, later the window
    mean) so the running sums stay at variance scale instead of cancelling two ~mean^2 totals. It
    rebuilds the sums with a fresh two-pass over the window ("reseed") when the variance has shrunk
    below 1e-6 of the mean squared deviation, when the value just dropped dwarfs the remaining sum,
    or at the latest every ``32 * n`` bars; after a reseed a variance under 1e-12 of that scale is 0.
    Reseeding costs O(n) but is rare on real prices (amortized O(1)); replaying it is what makes
    streaming values bit-identical to TA-Lib's. ``push`` returns the variance once ``n`` values
    have arrived, else NaN.
    """

    __slots__ = ("_buf", "_countdown", "_inv", "_s1", "_s2", "_shift", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self._inv = 1.0 / n
        self._buf: deque[float] = deque()
        self._s1 = 0.0
        self._s2 = 0.0
        self._shift = NAN
        self._countdown = 32 * n

    def push(self, x: float) -> float:
        buf = self._buf
        if not buf and self._shift != self._shift:
            self._shift = x
        buf.append(x)
        d = x - self._shift
        s1 = self._s1 + d
        s2 = self._s2 + d * d
        if len(buf) < self.n:
            self._s1, self._s2 = s1, s2
            return NAN
        inv = self._inv
        m1 = s1 * inv
        variance = s2 * inv - m1 * m1
        old = buf.popleft()
        d = old - self._shift
        s1 -= d
        d *= d
        s2 -= d
        self._countdown -= 1
        if variance < 0.000001 * (s2 * inv) or d > 1000000.0 * s2 or self._countdown <= 0:
            variance = self._reseed(old)
        else:
            self._s1, self._s2 = s1, s2
        return variance

    def _reseed(self, old: float) -> float:
        """Re-anchor the shift on the window mean and rebuild the sums (window = ``old`` + deque)."""
        self._countdown = 32 * self.n
        inv = self._inv
        buf = self._buf
        total = old
        for v in buf:
            total += v
        shift = total * inv
        d = old - shift
        s1 = d
        s2 = d * d
        for v in buf:
            d = v - shift
            s1 += d
            s2 += d * d
        m1 = s1 * inv
        variance = s2 * inv - m1 * m1
        if variance < 0.000000000001 * (s2 * inv):
            variance = 0.0
        d = old - shift
        s1 -= d
        s2 -= d * d
        self._shift, self._s1, self._s2 = shift, s1, s2
        return variance


@register("VAR", var)
class VAR(Indicator):
    """Population variance over ``timeperiod`` inputs (``nbdev`` accepted and ignored, as in TA-Lib)."""

    name = "VAR"
    __slots__ = ("_rv", "_value", "count", "lookback", "nbdev", "timeperiod")

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 1)
        self.nbdev = _check_nbdev(nbdev)
        self.lookback = self.timeperiod - 1
        self._rv = RunningVar(self.timeperiod)
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise IndicatorError(f"{self.name} close input is {x!r}; inputs must be finite numbers")
        self.count += 1
        v = self._rv.push(x)
        if v == v:
            self._value = v
        return v


@register("STDDEV", stddev)
class STDDEV(VAR):
    """``sqrt(variance) * nbdev``; TA-Lib's variance is never negative, so no clamp is needed."""

    name = "STDDEV"
    __slots__ = ()

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        check_period(timeperiod, "timeperiod", 2)
        super().__init__(timeperiod, nbdev)

    def update(self, *args: float) -> float:
        (x,) = args
        if x - x != 0.0:
            raise IndicatorError(f"STDDEV close input is {x!r}; inputs must be finite numbers")
        self.count += 1
        v = self._rv.push(x)
        if v != v:
            return NAN
        v = math.sqrt(v) * self.nbdev if self.nbdev != 1.0 else math.sqrt(v)
        self._value = v
        return v


# ---------------------------------------------------------------------------------------------------
# Range-based volatility estimators (not in TA-Lib).


def _check_ppy(periods_per_year: float) -> float:
    ok = isinstance(periods_per_year, (int, float)) and not isinstance(periods_per_year, bool)
    if not ok or not (0.0 < periods_per_year < _INF):
        raise IndicatorError(f"periods_per_year must be a positive finite number, got {periods_per_year!r}")
    return float(periods_per_year)


def _positive(values: Any, field: str, n: int | None = None) -> FloatArray:
    """A finite, strictly positive price series (logs of prices follow); fast path via min/max."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1 and len(arr) and (n is None or len(arr) == n) and arr.min() > 0.0 and arr.max() < _INF:
        return arr
    arr = check_series(arr, field, n)
    bad = arr <= 0.0
    if bad.any():
        i = int(np.argmax(bad))
        raise IndicatorError(f"{field}[{i}] is {float(arr[i])!r}; prices must be > 0 for log-range volatility")
    return arr


def _ohlc(open_: Any, high: Any, low: Any, close: Any) -> tuple[FloatArray, ...]:
    o = _positive(open_, "open")
    n = len(o)
    return o, _positive(high, "high", n), _positive(low, "low", n), _positive(close, "close", n)


def _finish(variance: FloatArray, periods_per_year: float) -> FloatArray:
    """Clamp rounding-negative variances to zero, annualize, take the root (NaN stays NaN); in place."""
    np.maximum(variance, 0.0, out=variance)
    if periods_per_year != 1.0:
        variance *= periods_per_year
    return np.sqrt(variance, out=variance)


def _rolling_mean(terms: FloatArray, p: int) -> FloatArray:
    """TA-Lib's running-sum SMA (the streaming ``_RunningMean``'s order), exactly 0 on all-zero windows.

    A running sum keeps a rounding residue after large terms leave; on a window of flat bars (every
    term 0) that residue would surface as a spurious tiny volatility, so those windows are forced
    to 0 in both forms. A window is all zeros exactly when it lies inside a run of at least ``p``
    zero terms; with fewer than ``p`` zero terms in the whole series no window can, and the check is
    skipped.
    """
    mean = np.asarray(talib.SMA(terms, timeperiod=p), dtype=np.float64)
    zero = terms == 0.0
    if np.count_nonzero(zero) >= p:
        mean[_all_zero_window_ends(zero, p)] = 0.0
    return mean


def _all_zero_window_ends(zero: npt.NDArray[np.bool_], p: int) -> npt.NDArray[np.intp]:
    """Indices ``i`` whose window ``i-p+1 .. i`` is all zero terms: the tails of zero runs of length >= p.

    Found from the runs of zero positions (one pass over the mask, then work in proportion to the
    zeros) instead of a rolling maximum of the absolute terms; a window lies inside one run, so it ends
    at ``start + p - 1 .. end - 1`` of a run.
    """
    idx = np.flatnonzero(zero)
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.concatenate(([0], breaks))]
    ends = idx[np.concatenate((breaks - 1, [len(idx) - 1]))] + 1
    first = starts + (p - 1)
    keep = first < ends
    first, ends = first[keep], ends[keep]
    lengths = ends - first
    offsets = np.cumsum(lengths) - lengths
    window_ends: npt.NDArray[np.intp] = np.arange(int(lengths.sum())) + np.repeat(first - offsets, lengths)
    return window_ends


class _RunningMean:
    """Running-sum mean in TA-Lib SMA's order (add newest, divide, drop oldest); 0 when every term
    in the window is 0 (see ``_rolling_mean``)."""

    __slots__ = ("_buf", "_n", "_nonzero", "_sum", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self._n = float(n)
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._nonzero = 0

    def push(self, x: float) -> float:
        buf = self._buf
        buf.append(x)
        if x != 0.0:
            self._nonzero += 1
        total = self._sum + x
        if len(buf) < self.n:
            self._sum = total
            return NAN
        old = buf.popleft()
        self._sum = total - old
        mean = total / self._n if self._nonzero else 0.0
        if old != 0.0:
            self._nonzero -= 1
        return mean


def _vol_period(timeperiod: int, n: int, extra: int) -> int:
    p = check_period(timeperiod, "timeperiod", 2, n)
    if p + extra > n:
        raise IndicatorError(f"timeperiod={p} needs {p + extra} values; data has {n}")
    return p


def _log_ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """ln(num / den) in one fresh array (the division first, as the streaming forms do)."""
    r = np.divide(num, den)
    return np.log(r, out=r)


def parkinson(high: Any, low: Any, timeperiod: int = 20, periods_per_year: float = 1.0) -> FloatArray:
    """Parkinson volatility over ``timeperiod`` bars; see ``PARKINSON``."""
    ppy = _check_ppy(periods_per_year)
    h = _positive(high, "high")
    lo = _positive(low, "low", len(h))
    p = _vol_period(timeperiod, len(h), 0)
    u = _log_ratio(h, lo)
    u *= u
    mean = _rolling_mean(u, p)
    mean /= 4.0 * _LN2
    return _finish(mean, ppy)


def garman_klass(
    open_: Any, high: Any, low: Any, close: Any, timeperiod: int = 20, periods_per_year: float = 1.0
) -> FloatArray:
    """Garman-Klass volatility over ``timeperiod`` bars; see ``GARMAN_KLASS``."""
    ppy = _check_ppy(periods_per_year)
    o, h, lo, c = _ohlc(open_, high, low, close)
    p = _vol_period(timeperiod, len(o), 0)
    terms = _log_ratio(h, lo)
    terms *= terms
    terms *= 0.5
    co = _log_ratio(c, o)
    co *= co
    co *= 2.0 * _LN2 - 1.0
    terms -= co
    return _finish(_rolling_mean(terms, p), ppy)


def _rs_terms(o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Rogers-Satchell per-bar terms (u - c) u + (d - c) d, and c = ln(C/O) (Yang-Zhang reuses it)."""
    u = _log_ratio(h, o)
    d = _log_ratio(lo, o)
    co = _log_ratio(c, o)
    terms = np.subtract(u, co)
    terms *= u
    np.subtract(d, co, out=u)
    u *= d
    terms += u
    return terms, co


def rogers_satchell(
    open_: Any, high: Any, low: Any, close: Any, timeperiod: int = 20, periods_per_year: float = 1.0
) -> FloatArray:
    """Rogers-Satchell volatility over ``timeperiod`` bars; see ``ROGERS_SATCHELL``."""
    ppy = _check_ppy(periods_per_year)
    o, h, lo, c = _ohlc(open_, high, low, close)
    p = _vol_period(timeperiod, len(o), 0)
    rs, _ = _rs_terms(o, h, lo, c)
    return _finish(_rolling_mean(rs, p), ppy)


def yang_zhang_k(n: int) -> float:
    """Yang and Zhang's weight minimizing the estimator's variance, with their alpha = 1.34."""
    return 0.34 / (1.34 + (n + 1) / (n - 1))


def yang_zhang(
    open_: Any, high: Any, low: Any, close: Any, timeperiod: int = 20, periods_per_year: float = 1.0
) -> FloatArray:
    """Yang-Zhang volatility over ``timeperiod`` bars; see ``YANG_ZHANG``."""
    ppy = _check_ppy(periods_per_year)
    o, h, lo, c = _ohlc(open_, high, low, close)
    p = _vol_period(timeperiod, len(o), 1)
    rs, co = _rs_terms(o, h, lo, c)
    # Bar 0 has no previous close: every term is dropped there so all windows cover bars 1..n.
    scale = p / (p - 1.0)
    k = yang_zhang_k(p)
    out = np.empty(len(o))
    out[0] = NAN
    body = out[1:]
    body[:] = talib.VAR(_log_ratio(o[1:], c[:-1]), timeperiod=p)
    body *= scale
    var_c = np.asarray(talib.VAR(co[1:], timeperiod=p), dtype=np.float64)
    var_c *= scale
    var_c *= k
    body += var_c
    var_rs = _rolling_mean(rs[1:], p)
    var_rs *= 1.0 - k
    body += var_rs
    return _finish(out, ppy)


class _RangeVol(Indicator):
    """Shared streaming shell: a positive-price guard, a running mean of per-bar terms, the root."""

    __slots__ = ("_mean", "_ppy", "_value", "count", "lookback", "periods_per_year", "timeperiod")

    def __init__(self, timeperiod: int = 20, periods_per_year: float = 1.0) -> None:
        self.timeperiod = check_period(timeperiod, "timeperiod", 2)
        self.periods_per_year = self._ppy = _check_ppy(periods_per_year)
        self.lookback = self.timeperiod - 1
        self._mean = _RunningMean(self.timeperiod)
        self._value = NAN
        self.count = 0

    def _refuse(self, values: tuple[float, ...]) -> None:
        refuse_bad(self.name, self.inputs, values)
        for field, v in zip(self.inputs, values, strict=True):
            if v <= 0.0:
                raise IndicatorError(f"{self.name} {field} input is {v!r}; prices must be > 0")

    def _emit(self, variance: float) -> float:
        if variance != variance:
            return NAN
        if variance < 0.0:
            variance = 0.0
        if self._ppy != 1.0:
            variance *= self._ppy
        self._value = math.sqrt(variance)
        return self._value


@register("PARKINSON", parkinson)
class PARKINSON(_RangeVol):
    """Parkinson (1980) high-low volatility.

    sigma^2 = 1 / (4 ln 2) * mean over the window of ln(H/L)^2.
    Source: M. Parkinson, "The Extreme Value Method for Estimating the Variance of the Rate of
    Return", Journal of Business 53(1), 1980. Assumes driftless Brownian motion and continuous
    trading; uses no open or close, so it ignores gaps between bars.
    """

    name = "PARKINSON"
    inputs = ("high", "low")
    outputs = ("real",)
    benchmark_peer = "STDDEV"
    __slots__ = ()

    def update(self, *args: float) -> float:
        high, low = args
        if not (0.0 < high < _INF and 0.0 < low < _INF):
            self._refuse((high, low))
        self.count += 1
        u = math.log(high / low)
        m = self._mean.push(u * u)
        return self._emit(m / (4.0 * _LN2))


@register("GARMAN_KLASS", garman_klass)
class GARMAN_KLASS(_RangeVol):
    """Garman-Klass (1980) OHLC volatility.

    sigma^2 = mean over the window of [0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2].
    Source: M. Garman and M. Klass, "On the Estimation of Security Price Volatilities from
    Historical Data", Journal of Business 53(1), 1980. Assumes zero drift; ignores the gap from the
    previous close to the open.
    """

    name = "GARMAN_KLASS"
    inputs = ("open", "high", "low", "close")
    benchmark_peer = "STDDEV"
    __slots__ = ()

    def update(self, *args: float) -> float:
        o, h, lo, c = args
        if not (0.0 < o < _INF and 0.0 < h < _INF and 0.0 < lo < _INF and 0.0 < c < _INF):
            self._refuse((o, h, lo, c))
        self.count += 1
        hl = math.log(h / lo)
        co = math.log(c / o)
        m = self._mean.push(0.5 * (hl * hl) - (2.0 * _LN2 - 1.0) * (co * co))
        return self._emit(m)


@register("ROGERS_SATCHELL", rogers_satchell)
class ROGERS_SATCHELL(_RangeVol):
    """Rogers-Satchell (1991) drift-independent OHLC volatility.

    sigma^2 = mean over the window of [ln(H/C) ln(H/O) + ln(L/C) ln(L/O)], computed here as
    (u - c) u + (d - c) d with u = ln(H/O), d = ln(L/O), c = ln(C/O).
    Source: L. C. G. Rogers and S. E. Satchell, "Estimating Variance from High, Low and Closing
    Prices", Annals of Applied Probability 1(4), 1991.
    """

    name = "ROGERS_SATCHELL"
    inputs = ("open", "high", "low", "close")
    benchmark_peer = "STDDEV"
    __slots__ = ()

    def update(self, *args: float) -> float:
        o, h, lo, c = args
        if not (0.0 < o < _INF and 0.0 < h < _INF and 0.0 < lo < _INF and 0.0 < c < _INF):
            self._refuse((o, h, lo, c))
        self.count += 1
        u = math.log(h / o)
        d = math.log(lo / o)
        co = math.log(c / o)
        return self._emit(self._mean.push((u - co) * u + (d - co) * d))


@register("YANG_ZHANG", yang_zhang)
class YANG_ZHANG(_RangeVol):
    """Yang-Zhang (2000) volatility: handles both drift and opening gaps.

    sigma^2 = V_o + k V_c + (1 - k) V_rs over the last n bars, where V_o is the sample variance
    (n - 1 denominator) of ln(O_t / C_{t-1}), V_c the sample variance of ln(C_t / O_t), V_rs the
    Rogers-Satchell mean, and k = 0.34 / (1.34 + (n + 1) / (n - 1)).
    Source: D. Yang and Q. Zhang, "Drift-Independent Volatility Estimation Based on High, Low,
    Open, and Close Prices", Journal of Business 73(3), 2000. Needs the previous close, so the
    first value appears after n + 1 bars (lookback n). Sample variances are TA-Lib's running-sum
    population variances times n / (n - 1).
    """

    name = "YANG_ZHANG"
    inputs = ("open", "high", "low", "close")
    benchmark_peer = "STDDEV"
    __slots__ = ("_k", "_pc", "_scale", "_var_c", "_var_o")

    def __init__(self, timeperiod: int = 20, periods_per_year: float = 1.0) -> None:
        super().__init__(timeperiod, periods_per_year)
        self.lookback = self.timeperiod
        p = self.timeperiod
        self._k = yang_zhang_k(p)
        self._scale = p / (p - 1.0)
        self._var_o = RunningVar(p)
        self._var_c = RunningVar(p)
        self._pc = NAN

    def update(self, *args: float) -> float:
        o, h, lo, c = args
        if not (0.0 < o < _INF and 0.0 < h < _INF and 0.0 < lo < _INF and 0.0 < c < _INF):
            self._refuse((o, h, lo, c))
        self.count += 1
        pc = self._pc
        self._pc = c
        if self.count == 1:
            return NAN
        u = math.log(h / o)
        d = math.log(lo / o)
        co = math.log(c / o)
        rs = self._mean.push((u - co) * u + (d - co) * d)
        vo = self._var_o.push(math.log(o / pc))
        vc = self._var_c.push(co)
        if rs != rs:
            return NAN
        scale = self._scale
        k = self._k
        return self._emit(vo * scale + k * (vc * scale) + (1.0 - k) * rs)
