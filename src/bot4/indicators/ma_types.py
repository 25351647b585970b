"""Moving-average selection by TA-Lib's MA type code (``matype``).

BBANDS, MACD's relatives (PPO/APO) and the stochastics take a TA-Lib ``matype``; this module maps a code
to the streaming class (``make_ma``) or the vectorized TA-Lib ``MA`` (``ma``) in one place, with the
same checks, so every study that takes a ``matype`` refuses the same codes the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import talib

from bot4.indicators.adaptive_averages import KAMA, T3
from bot4.indicators.base import FloatArray, Indicator, IndicatorError, check_period, check_series
from bot4.indicators.moving_averages import DEMA, EMA, SMA, TEMA, TRIMA, WMA
from bot4.indicators.overlap_shared import _bad

NAN = math.nan


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
