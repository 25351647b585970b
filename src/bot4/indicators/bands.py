"""Bollinger Bands (BBANDS), streaming and vectorized, matching TA-Lib.

Bands combine a moving average of any TA-Lib type with a running population variance, which needs its
own care (running sums rescued from cancellation), so they live apart from the plain averages.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import talib

from bot4.indicators.base import FloatArray, Indicator, check_period, check_series, register
from bot4.indicators.ma_types import MA_SMA, check_matype, make_ma
from bot4.indicators.overlap_shared import _bad, _check_real

NAN = math.nan


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
        x,
        timeperiod=p,
        nbdevup=up,
        nbdevdn=dn,
        matype=code,  # type: ignore[arg-type]  # int code, see ma()
    )
    return (
        np.asarray(upper, dtype=np.float64),
        np.asarray(middle, dtype=np.float64),
        np.asarray(lower, dtype=np.float64),
    )


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
    __slots__ = (
        "_buf",
        "_c",
        "_dn",
        "_lower",
        "_ma",
        "_mag",
        "_middle",
        "_period",
        "_s1",
        "_s2",
        "_since",
        "_sum",
        "_up",
        "_upper",
        "count",
        "lookback",
        "matype",
        "nbdevdn",
        "nbdevup",
        "timeperiod",
    )

    def __init__(self, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0) -> None:
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
