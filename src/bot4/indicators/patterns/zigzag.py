"""Zig-zag swing points, each reported only once a reversal has confirmed it.

A swing high is a price extreme that counts only after price has fallen from it by the reversal
threshold; until then a higher high may still replace it. Each swing keeps both the bar of its extreme
(``index``) and the bar that confirmed it (``confirmed_at``), so the patterns built on swings can be
reported at the bar where they became knowable and a backtest never trades on a swing it could not
have seen.

The threshold is a percentage of the extreme's price (``deviation``), a multiple of Wilder's ATR
(``atr_multiple``), or both (then the larger distance must be covered). The streaming :class:`ZigZag`
and the array function :func:`zigzag` are separate implementations of the same rules and agree exactly.

Rules, applied at the close of each bar (intra-bar order of high and low is unknown, so it is never
guessed):

* While seeking a high, a bar whose high exceeds the candidate high extends it (and cannot also
  confirm it); otherwise the candidate is confirmed when the bar's low is at or below
  ``candidate - distance`` (and strictly below the candidate). That bar's low becomes the candidate
  low. Seeking a low mirrors this.
* Before the first swing, both the running highest high and lowest low are candidates; the first one
  whose reversal is reached is confirmed (the high first if both are, on the same bar).
* Ties do not extend: the earliest bar of an equal extreme keeps it.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from bot4.indicators.base import FloatArray, IndicatorError, check_period, check_series, check_value

SwingKind = Literal["high", "low"]

_SEEK_EITHER = 0
_SEEK_HIGH = 1
_SEEK_LOW = -1


@dataclass(frozen=True, slots=True)
class Swing:
    """A confirmed swing point: its extreme (bar ``index``, ``price``, ``ts``) and when it was known."""

    kind: SwingKind
    index: int
    price: float
    confirmed_at: int
    ts: int | None = None

    @property
    def is_high(self) -> bool:
        return self.kind == "high"


def check_chain(swings: Sequence[Swing]) -> None:
    """Refuse swings that are not a zig-zag: kinds must alternate and bars must move forward."""
    for prev, cur in itertools.pairwise(swings):
        if cur.kind == prev.kind:
            raise IndicatorError(
                f"swings must alternate high/low; got two {cur.kind}s at bars {prev.index}, {cur.index}"
            )
        if cur.index <= prev.index or cur.confirmed_at < prev.confirmed_at:
            raise IndicatorError(
                f"swings must be in bar order; swing at bar {cur.index} (confirmed {cur.confirmed_at}) "
                f"follows one at bar {prev.index} (confirmed {prev.confirmed_at})"
            )


def check_params(
    deviation: float | None, atr_multiple: float | None, atr_period: int
) -> tuple[float | None, float | None, int]:
    """Validate the reversal threshold; ``deviation`` is a fraction (0.05 = 5 %), never a percent."""
    if deviation is None and atr_multiple is None:
        raise IndicatorError("zig-zag needs deviation (a fraction, 0.05 = 5 %) and/or atr_multiple")
    dev = None if deviation is None else _positive(deviation, "deviation")
    if dev is not None and dev >= 1.0:
        raise IndicatorError(f"deviation must be a fraction in (0, 1): 0.05 means a 5 % reversal; got {deviation!r}")
    mult = None if atr_multiple is None else _positive(atr_multiple, "atr_multiple")
    return dev, mult, check_period(atr_period, "atr_period", 1)


def _positive(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise IndicatorError(f"{param} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x <= 0.0:
        raise IndicatorError(f"{param} must be a positive finite number, got {value!r}")
    return x


class _WilderATR:
    """Wilder's average true range, seeded with the mean of the first ``period`` true ranges.

    The seed and lookback follow TA-Lib's ATR (values agree to rounding, not always bit for bit); both
    zig-zag forms use this one implementation so their thresholds are identical.
    """

    __slots__ = ("_bars", "_period", "_prev_close", "_sum", "value")

    def __init__(self, period: int) -> None:
        self._period = period
        self._bars = 0
        self._prev_close = math.nan
        self._sum = 0.0
        self.value = math.nan

    def update(self, high: float, low: float, close: float) -> float:
        self._bars += 1
        prev_close = self._prev_close
        self._prev_close = close
        if self._bars == 1:
            return self.value
        tr = high - low
        up = abs(prev_close - high)
        if up > tr:
            tr = up
        down = abs(prev_close - low)
        if down > tr:
            tr = down
        n = self._period
        if self._bars <= n + 1:
            self._sum += tr
            if self._bars == n + 1:
                self.value = self._sum / n
        else:
            self.value = (self.value * (n - 1) + tr) / n
        return self.value


class ZigZag:
    """Streaming zig-zag: feed one bar at a time, get back the swing that bar confirmed (if any).

    O(1) time and memory per bar; ``swings`` keeps only the last ``history`` confirmed swings.
    At most one swing is confirmed per bar.
    """

    __slots__ = (
        "_atr",
        "_dev",
        "_ext",
        "_ext_idx",
        "_ext_ts",
        "_low",
        "_low_idx",
        "_low_ts",
        "_mode",
        "_mult",
        "_swings",
        "atr_multiple",
        "atr_period",
        "count",
        "deviation",
    )

    def __init__(
        self,
        deviation: float | None = None,
        *,
        atr_multiple: float | None = None,
        atr_period: int = 14,
        history: int = 64,
    ) -> None:
        self._dev, self._mult, self.atr_period = check_params(deviation, atr_multiple, atr_period)
        self.deviation = self._dev
        self.atr_multiple = self._mult
        self._atr = _WilderATR(self.atr_period) if self._mult is not None else None
        self._swings: deque[Swing] = deque(maxlen=check_period(history, "history", 1))
        self._mode = _SEEK_EITHER
        # While seeking a high (or either) _ext is the candidate high; while seeking a low it is the
        # candidate low. _low is the running lowest low, used only before the first swing.
        self._ext = math.nan
        self._ext_idx = -1
        self._ext_ts: int | None = None
        self._low = math.nan
        self._low_idx = -1
        self._low_ts: int | None = None
        self.count = 0

    @property
    def swings(self) -> tuple[Swing, ...]:
        """The most recent confirmed swings, oldest first (at most ``history``)."""
        return tuple(self._swings)

    def _distance(self, price: float, atr: float) -> float:
        d = price * self._dev if self._dev is not None else 0.0
        if self._mult is not None:
            a = self._mult * atr if atr == atr else math.inf
            if a > d:
                d = a
        return d

    def update(self, high: float, low: float, close: float, ts: int | None = None) -> Swing | None:
        """Consume one bar; return the swing it confirmed, else ``None``."""
        t = self.count
        check_value(high, "high")
        check_value(low, "low")
        check_value(close, "close")
        if high < low:
            raise IndicatorError(f"bar {t}: high {high!r} is below low {low!r}")
        if self._dev is not None and low <= 0.0:
            raise IndicatorError(f"bar {t}: low {low!r} is not positive; a percentage deviation needs prices > 0")
        self.count = t + 1
        atr = self._atr.update(high, low, close) if self._atr is not None else math.nan
        mode = self._mode
        if mode == _SEEK_HIGH:
            ext = self._ext
            if high > ext:
                self._ext, self._ext_idx, self._ext_ts = high, t, ts
            elif low < ext and low <= ext - self._distance(ext, atr):
                return self._confirm("high", ext, self._ext_idx, self._ext_ts, t, low, ts)
            return None
        if mode == _SEEK_LOW:
            ext = self._ext
            if low < ext:
                self._ext, self._ext_idx, self._ext_ts = low, t, ts
            elif high > ext and high >= ext + self._distance(ext, atr):
                return self._confirm("low", ext, self._ext_idx, self._ext_ts, t, high, ts)
            return None
        return self._first_swing(t, high, low, atr, ts)

    def _first_swing(self, t: int, high: float, low: float, atr: float, ts: int | None) -> Swing | None:
        if t == 0:
            self._ext, self._ext_idx, self._ext_ts = high, 0, ts
            self._low, self._low_idx, self._low_ts = low, 0, ts
            return None
        if high > self._ext:
            self._ext, self._ext_idx, self._ext_ts = high, t, ts
        if low < self._low:
            self._low, self._low_idx, self._low_ts = low, t, ts
        top, bottom = self._ext, self._low
        if self._ext_idx < t and low < top and low <= top - self._distance(top, atr):
            return self._confirm("high", top, self._ext_idx, self._ext_ts, t, low, ts)
        if self._low_idx < t and high > bottom and high >= bottom + self._distance(bottom, atr):
            return self._confirm("low", bottom, self._low_idx, self._low_ts, t, high, ts)
        return None

    def _confirm(
        self,
        kind: SwingKind,
        price: float,
        index: int,
        ext_ts: int | None,
        t: int,
        opposite: float,
        ts: int | None,
    ) -> Swing:
        swing = Swing(kind, index, price, t, ext_ts)
        self._swings.append(swing)
        self._mode = _SEEK_LOW if kind == "high" else _SEEK_HIGH
        self._ext, self._ext_idx, self._ext_ts = opposite, t, ts
        return swing


def zigzag(
    high: Any,
    low: Any,
    close: Any,
    *,
    deviation: float | None = None,
    atr_multiple: float | None = None,
    atr_period: int = 14,
    timestamps: Any = None,
) -> list[Swing]:
    """All confirmed swings over whole arrays (same rules and results as :class:`ZigZag`).

    Each leg is found with array operations: a running extreme over a window from the current
    candidate, then the first bar that reverses from it. Windows grow geometrically, so the work is
    linear in the number of bars.
    """
    h = check_series(high, "high")
    n = len(h)
    lo = check_series(low, "low", n)
    c = check_series(close, "close", n)
    dev, mult, period = check_params(deviation, atr_multiple, atr_period)
    ts = None if timestamps is None else _check_timestamps(timestamps, n)
    bad = lo > h
    if bad.any():
        i = int(np.argmax(bad))
        raise IndicatorError(f"bar {i}: high {float(h[i])!r} is below low {float(lo[i])!r}")
    if dev is not None and n and lo.min() <= 0.0:
        i = int(np.argmax(lo <= 0.0))
        raise IndicatorError(f"bar {i}: low {float(lo[i])!r} is not positive; a percentage deviation needs prices > 0")
    atr_reach = _atr_reach(h, lo, c, mult, period)

    def distance(price: FloatArray, start: int, stop: int) -> FloatArray:
        d = price * dev if dev is not None else np.zeros_like(price)
        if atr_reach is not None:
            d = np.maximum(d, atr_reach[start:stop])
        return d

    swings: list[Swing] = []
    mode, s = _SEEK_EITHER, 0
    while s < n - 1:
        found = _next_swing(h, lo, s, mode, distance)
        if found is None:
            break
        kind, index, price, t = found
        stamp = None if ts is None else int(ts[index])
        swings.append(Swing(kind, index, price, t, stamp))
        mode, s = (_SEEK_LOW if kind == "high" else _SEEK_HIGH), t
    return swings


def _check_timestamps(timestamps: Any, n: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(timestamps)
    if arr.ndim != 1 or len(arr) != n:
        raise IndicatorError(f"timestamps has shape {arr.shape}, expected ({n},) like the prices")
    if not np.issubdtype(arr.dtype, np.integer):
        raise IndicatorError(f"timestamps must be integers (e.g. epoch ms), got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _atr_reach(h: FloatArray, lo: FloatArray, c: FloatArray, mult: float | None, period: int) -> FloatArray | None:
    """``atr_multiple * ATR`` per bar, ``inf`` before ATR exists (no ATR reversal can be confirmed)."""
    if mult is None:
        return None
    atr = _WilderATR(period)
    reach = mult * np.array([atr.update(*bar) for bar in zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)])
    reach[np.isnan(reach)] = np.inf
    return reach


_Distance = Callable[[FloatArray, int, int], FloatArray]


def _next_swing(
    h: FloatArray, lo: FloatArray, s: int, mode: int, distance: _Distance
) -> tuple[SwingKind, int, float, int] | None:
    """Find the first swing confirmed after bar ``s`` (the bar that set the current candidate)."""
    n = len(h)
    width = 32
    while True:
        e = min(n, s + 1 + width)
        hh, ll = h[s + 1 : e], lo[s + 1 : e]
        hit_high = hit_low = None
        top = bottom = None
        if mode != _SEEK_LOW:
            top = np.maximum.accumulate(h[s : e - 1])
            hit_high = (hh <= top) & (ll < top) & (ll <= top - distance(top, s + 1, e))
        if mode != _SEEK_HIGH:
            bottom = np.minimum.accumulate(lo[s : e - 1])
            hit_low = (ll >= bottom) & (hh > bottom) & (hh >= bottom + distance(bottom, s + 1, e))
        hit = hit_high if hit_low is None else hit_low if hit_high is None else hit_high | hit_low
        assert hit is not None
        if hit.any():
            k = int(np.argmax(hit))
            t = s + 1 + k
            if hit_high is not None and top is not None and hit_high[k]:
                return "high", s + int(np.argmax(h[s:t])), float(top[k]), t
            assert bottom is not None
            return "low", s + int(np.argmin(lo[s:t])), float(bottom[k]), t
        if e == n:
            return None
        width *= 2
