"""Volume indicators: TA-Lib's OBV, Chaikin A/D line and oscillator, and session-anchored VWAP.

VWAP is the one indicator here that reads the bar's timestamp: it restarts at every session
boundary, so it takes ``ts`` (UTC integer nanoseconds of the bar's open, as ``BarSeries.ts_open``)
as its last input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import talib

from bot4.data.bars import parse_timeframe
from bot4.indicators.base import (
    FloatArray,
    Indicator,
    IndicatorError,
    check_period,
    check_series,
    register,
)
from bot4.indicators.fused import split
from bot4.indicators.trend import refuse_bad
from bot4.indicators.volatility import fma_const

NAN = math.nan


def obv(close: Any, volume: Any) -> FloatArray:
    """On-balance volume (TA-Lib OBV); starts at the first bar's volume."""
    c = check_series(close, "close")
    v = check_series(volume, "volume", len(c))
    return np.asarray(talib.OBV(c, v), dtype=np.float64)


def _hlcv(high: Any, low: Any, close: Any, volume: Any) -> tuple[FloatArray, ...]:
    h = check_series(high, "high")
    n = len(h)
    return h, check_series(low, "low", n), check_series(close, "close", n), check_series(volume, "volume", n)


def ad(high: Any, low: Any, close: Any, volume: Any) -> FloatArray:
    """Chaikin accumulation/distribution line (TA-Lib AD)."""
    return np.asarray(talib.AD(*_hlcv(high, low, close, volume)), dtype=np.float64)


def adosc(high: Any, low: Any, close: Any, volume: Any, fastperiod: int = 3, slowperiod: int = 10) -> FloatArray:
    """Chaikin A/D oscillator: EMA(fast) - EMA(slow) of the A/D line (TA-Lib ADOSC)."""
    h, lo, c, v = _hlcv(high, low, close, volume)
    f = check_period(fastperiod, "fastperiod", 2, len(h))
    s = check_period(slowperiod, "slowperiod", 2, len(h))
    return np.asarray(talib.ADOSC(h, lo, c, v, fastperiod=f, slowperiod=s), dtype=np.float64)


@register("OBV", obv)
class OBV(Indicator):
    """On-balance volume: add the volume on an up close, subtract it on a down close."""

    name = "OBV"
    inputs = ("close", "volume")
    __slots__ = ("_pc", "_value", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._pc = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        close, volume = args
        s = close + volume
        if s - s != 0.0:
            refuse_bad("OBV", self.inputs, (close, volume))
        self.count += 1
        if self.count == 1:
            self._value = volume
        elif close > self._pc:
            self._value += volume
        elif close < self._pc:
            self._value -= volume
        self._pc = close
        return self._value


def _money_flow(high: float, low: float, close: float, volume: float) -> float:
    """One bar's A/D contribution: close location value times volume, 0 for a bar with no range."""
    rng = high - low
    if rng > 0.0:
        return (((close - low) - (high - close)) / rng) * volume
    return 0.0


@register("AD", ad)
class AD(Indicator):
    """Chaikin A/D line: running sum of ((close - low) - (high - close)) / (high - low) * volume."""

    name = "AD"
    inputs = ("high", "low", "close", "volume")
    __slots__ = ("_value", "count", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._value = 0.0
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close, volume = args
        s = high + low + close + volume
        if s - s != 0.0:
            refuse_bad("AD", self.inputs, (high, low, close, volume))
        self.count += 1
        rng = high - low
        if rng > 0.0:
            self._value += (((close - low) - (high - close)) / rng) * volume
        return self._value

    @property
    def value(self) -> float:
        return self._value if self.count else NAN


class _FusedEma:
    """TA-Lib 0.8.1 ADOSC's EMA step ``ema = fma(1 - k, ema, k * x)`` with k = 2 / (period + 1)."""

    __slots__ = ("_k", "_om", "_om_hi", "_om_lo")

    def __init__(self, period: int) -> None:
        self._k = 2.0 / (period + 1)
        self._om = 1.0 - self._k
        self._om_hi, self._om_lo = split(self._om)

    def step(self, ema: float, x: float) -> float:
        return fma_const(self._om, self._om_hi, self._om_lo, ema, self._k * x)


@register("ADOSC", adosc)
class ADOSC(Indicator):
    """Chaikin oscillator. Both EMAs are seeded with the *first A/D value* (not an SMA), as TA-Lib
    and MetaStock do, and update as ``k * ad + (1 - k) * ema`` with k = 2 / (period + 1); output
    starts after the slower period's EMA lookback. TA-Lib's binary fuses that update into one
    multiply-add, which ``_FusedEma`` reproduces exactly."""

    name = "ADOSC"
    inputs = ("high", "low", "close", "volume")
    __slots__ = (
        "_ad",
        "_fast",
        "_fast_ema",
        "_slow",
        "_slow_ema",
        "_value",
        "count",
        "fastperiod",
        "lookback",
        "slowperiod",
    )

    def __init__(self, fastperiod: int = 3, slowperiod: int = 10) -> None:
        self.fastperiod = check_period(fastperiod, "fastperiod", 2)
        self.slowperiod = check_period(slowperiod, "slowperiod", 2)
        self.lookback = max(self.fastperiod, self.slowperiod) - 1
        self._fast_ema = _FusedEma(self.fastperiod)
        self._slow_ema = _FusedEma(self.slowperiod)
        self._ad = 0.0
        self._fast = self._slow = NAN
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close, volume = args
        s = high + low + close + volume
        if s - s != 0.0:
            refuse_bad("ADOSC", self.inputs, (high, low, close, volume))
        self.count += 1
        rng = high - low
        if rng > 0.0:
            self._ad += (((close - low) - (high - close)) / rng) * volume
        a = self._ad
        if self.count == 1:
            self._fast = self._slow = a
        else:
            self._fast = self._fast_ema.step(self._fast, a)
            self._slow = self._slow_ema.step(self._slow, a)
        if self.count <= self.lookback:
            return NAN
        self._value = self._fast - self._slow
        return self._value


# ---------------------------------------------------------------------------------------------------
# Session-anchored VWAP (not in TA-Lib).


def session_ns(session: str) -> int:
    """Session length in nanoseconds from ``1d``/``4h``/``30m``-style text, or IndicatorError."""
    if not isinstance(session, str):
        raise IndicatorError(f"session must be text like '1d', got {session!r}")
    try:
        return parse_timeframe(session)
    except ValueError as exc:
        raise IndicatorError(f"session: {exc}") from None


def vwap(high: Any, low: Any, close: Any, volume: Any, ts: Any, session: str = "1d") -> FloatArray:
    """Session-anchored VWAP; see ``VWAP``. ``ts`` is UTC integer nanoseconds of each bar's open."""
    h, lo, c, v = _hlcv(high, low, close, volume)
    size = session_ns(session)
    t = np.asarray(ts)
    if t.ndim != 1 or len(t) != len(h):
        raise IndicatorError(f"ts has shape {t.shape}, expected ({len(h)},) like the prices")
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise IndicatorError(f"ts must be integer nanoseconds or datetime64, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    neg = v < 0.0
    if neg.any():
        i = int(np.argmax(neg))
        raise IndicatorError(f"volume[{i}] is {float(v[i])!r}; volume must be >= 0")
    back = np.diff(t) < 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise IndicatorError(f"ts[{i}]={t[i]} is earlier than ts[{i - 1}]={t[i - 1]}; bars must be in time order")
    n = len(h)
    if n == 0:
        return np.full(0, NAN)
    starts = _session_starts(t, size)
    lengths = np.diff(starts, append=n)
    if len(starts) * 32 <= n:
        # Long sessions: TA-Lib 0.8's (whole-series) VWAP per session gives the streaming form's
        # values bit for bit; only its 0 for "no volume yet" becomes NaN here. The sessions tile the
        # bars, so every value of ``out`` is written.
        out = np.empty(n)
        vwap_fn = talib.VWAP
        for start, end in zip(starts.tolist(), (starts + lengths).tolist(), strict=True):
            out[start:end] = vwap_fn(h[start:end], lo[start:end], c[start:end], v[start:end])
        idle = v[starts] == 0.0
        for start, length in zip(starts[idle].tolist(), lengths[idle].tolist(), strict=True):
            traded = np.flatnonzero(v[start : start + length])
            out[start : start + (int(traded[0]) if traded.size else length)] = NAN
        return out
    out = np.full(n, NAN)
    pv = h + lo
    pv += c
    pv /= 3.0
    pv *= v
    spv = _session_cumsum(pv, starts, lengths)
    sv = _session_cumsum(v, starts, lengths)
    np.divide(spv, sv, out=out, where=sv > 0.0)
    return out


def _session_starts(t: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.intp]:
    """Index of each session's first bar in time-ordered ``t`` (bars grouped by ``t // size``).

    With fewer sessions than bars, the boundaries ``k * size`` are binary-searched in ``t`` (no pass
    over every bar); sessions without bars give repeated indices, which are dropped. Otherwise each
    bar's session number is compared with its predecessor's.
    """
    first, last = int(t[0]) // size, int(t[-1]) // size
    if last - first < len(t):
        bounds = np.arange(first + 1, last + 1, dtype=np.int64) * size
        found = np.searchsorted(t, bounds, side="left")
        starts = np.concatenate((np.zeros(1, dtype=np.intp), found.astype(np.intp)))
        return starts[np.concatenate(([True], np.diff(starts) > 0))]
    sid = t // size
    new_session = np.empty(len(t), dtype=bool)
    new_session[0] = True
    np.not_equal(sid[1:], sid[:-1], out=new_session[1:])
    return np.flatnonzero(new_session)


def _session_cumsum(x: FloatArray, starts: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]) -> FloatArray:
    """Running sum restarting at each session start, added in bar order like the streaming form.

    Sessions are laid out as rows of a zero-padded grid and summed along the rows, so every value
    is the same sequential sum the streaming class accumulates (no global cumsum minus an offset,
    which would lose digits to cancellation). A grid far larger than the data (very uneven
    sessions) falls back to one cumsum per session.
    """
    n = len(x)
    rows = len(starts)
    width = int(lengths.max())
    if rows * width == n:
        return np.cumsum(x.reshape(rows, width), axis=1).ravel()
    if rows * width > 4 * n + 4096:
        out = np.empty(n)
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            np.cumsum(x[start : start + length], out=out[start : start + length])
        return out
    flat = np.arange(n) + np.repeat(np.arange(rows) * width - starts, lengths)
    grid = np.zeros(rows * width)
    grid[flat] = x
    np.cumsum(grid.reshape(rows, width), axis=1, out=grid.reshape(rows, width))
    return grid[flat]


@register("VWAP", vwap)
class VWAP(Indicator):
    """Volume-weighted average price anchored to UTC sessions.

    VWAP_t = sum(tp_i * volume_i) / sum(volume_i) over the bars i of the current session up to t,
    with the typical price tp = (high + low + close) / 3. Sessions are consecutive windows of
    ``session`` length counted from the Unix epoch, so ``"1d"`` restarts at 00:00 UTC; a bar
    belongs to the session containing its *open* time. Before any volume trades in a session the
    value is NaN (a price with no volume behind it is not a VWAP).
    Source: S. Berkowitz, D. Logue and E. Noser, "The Total Cost of Transactions on the NYSE",
    Journal of Finance 43(1), 1988 (VWAP as the execution benchmark); typical-price bars as in
    common charting practice.

    Streaming form: ``update(high, low, close, volume, ts_ns)`` with ``ts_ns`` the bar's open time
    in UTC integer nanoseconds; ``stream()`` supplies it from a ``ts`` column or the frame's
    DatetimeIndex. Timestamps must not go backwards. TA-Lib 0.8's VWAP is the one-session special
    case (it also writes 0 instead of NaN before any volume); both forms here reproduce its sums
    bit for bit within each session.
    """

    name = "VWAP"
    inputs = ("high", "low", "close", "volume", "ts")
    benchmark_peer = "VWAP"
    __slots__ = ("_last_ts", "_pv", "_session", "_size", "_v", "_value", "count", "lookback", "session")

    def __init__(self, session: str = "1d") -> None:
        self._size = session_ns(session)
        self.session = session
        self.lookback = 0
        self._session: int | None = None
        self._last_ts: int | None = None
        self._pv = 0.0
        self._v = 0.0
        self._value = NAN
        self.count = 0

    def update(self, *args: float) -> float:
        high, low, close, volume, ts = args
        s = high + low + close + volume
        if s - s != 0.0:
            refuse_bad("VWAP", self.inputs[:4], (high, low, close, volume))
        if volume < 0.0:
            raise IndicatorError(f"VWAP volume input is {volume!r}; volume must be >= 0")
        t = int(ts)
        last = self._last_ts
        if last is not None and t < last:
            raise IndicatorError(f"VWAP ts input {t} is earlier than the previous bar's {last}")
        self._last_ts = t
        self.count += 1
        sid = t // self._size
        if sid != self._session:
            self._session = sid
            self._pv = 0.0
            self._v = 0.0
        self._pv += ((high + low + close) / 3.0) * volume
        self._v += volume
        self._value = self._pv / self._v if self._v > 0.0 else NAN
        return self._value

    def update_bar(
        self, open_: float, high: float, low: float, close: float, volume: float, ts_ns: int | None = None
    ) -> float:
        """Feed one bar; VWAP needs the bar's open time too, so ``ts_ns`` is required here."""
        if ts_ns is None:
            raise IndicatorError("VWAP.update_bar needs ts_ns (the bar's open time, UTC ns)")
        return self.update(high, low, close, volume, ts_ns)
