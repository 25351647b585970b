"""Overlap studies (moving averages, bands, SAR): the historical import path, kept as re-exports.

Strategies and other code import ``bot4.indicators.overlap.EMA``, ``SMA``, ``make_ma``, ``ma`` and the
rest from here. The studies themselves live in small modules by concept: ``moving_averages`` (SMA, EMA,
WMA, DEMA, TEMA, TRIMA), ``adaptive_averages`` (KAMA, T3), ``ma_types`` (selection by TA-Lib MA type
code), ``bands`` (BBANDS), ``price_extremes`` (MIDPOINT, MIDPRICE), ``parabolic_sar`` (SAR) and
``lag_reduced_averages`` (HMA, ZLEMA, which TA-Lib lacks). They are imported in that order, which is the
order they register in.
"""

from __future__ import annotations

from bot4.indicators.moving_averages import (
    DEMA,
    EMA,
    SMA,
    TEMA,
    TRIMA,
    WMA,
    dema,
    ema,
    sma,
    tema,
    trima,
    wma,
)

from bot4.indicators.adaptive_averages import KAMA, T3, kama, t3  # isort: skip
from bot4.indicators.ma_types import (  # isort: skip
    MA_DEMA,
    MA_EMA,
    MA_KAMA,
    MA_MAMA,
    MA_NAMES,
    MA_SMA,
    MA_T3,
    MA_TEMA,
    MA_TRIMA,
    MA_WMA,
    Identity,
    check_matype,
    ma,
    make_ma,
)
from bot4.indicators.bands import BBANDS, bbands  # isort: skip
from bot4.indicators.price_extremes import MIDPOINT, MIDPRICE, midpoint, midprice  # isort: skip
from bot4.indicators.parabolic_sar import SAR, sar  # isort: skip
from bot4.indicators.lag_reduced_averages import HMA, ZLEMA, hma, zlema  # isort: skip
from bot4.indicators.overlap_shared import TA_EPSILON  # isort: skip

__all__ = [
    "BBANDS",
    "DEMA",
    "EMA",
    "HMA",
    "KAMA",
    "MA_DEMA",
    "MA_EMA",
    "MA_KAMA",
    "MA_MAMA",
    "MA_NAMES",
    "MA_SMA",
    "MA_T3",
    "MA_TEMA",
    "MA_TRIMA",
    "MA_WMA",
    "MIDPOINT",
    "MIDPRICE",
    "SAR",
    "SMA",
    "T3",
    "TA_EPSILON",
    "TEMA",
    "TRIMA",
    "WMA",
    "ZLEMA",
    "Identity",
    "bbands",
    "check_matype",
    "dema",
    "ema",
    "hma",
    "kama",
    "ma",
    "make_ma",
    "midpoint",
    "midprice",
    "sar",
    "sma",
    "t3",
    "tema",
    "trima",
    "wma",
    "zlema",
]
