"""Technical indicators: each in a streaming (O(1) per bar) and a vectorized form that agree.

``stream(name, frame, **params)`` runs the streaming form over an OHLCV frame.
"""

from bot4.indicators import custom, momentum, overlap, statistic, trend, volatility, volume
from bot4.indicators.base import REGISTRY, Indicator, IndicatorError, get, stream
from bot4.indicators.overlap import EMA, SMA, ema, sma

__all__ = [
    "EMA",
    "REGISTRY",
    "SMA",
    "Indicator",
    "IndicatorError",
    "custom",
    "ema",
    "get",
    "momentum",
    "overlap",
    "sma",
    "statistic",
    "stream",
    "trend",
    "volatility",
    "volume",
]
