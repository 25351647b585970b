"""OHLCV bars held as columns: the shape every loader returns and the backtest driver consumes.

Bars are market data, so prices are floats here; they become exact Decimals only when an order or a
fill is priced from them. Timestamps are UTC integer nanoseconds of the bar's *open*; a bar is
knowable only at its close, ``ts_open + timeframe_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

NS_PER_MS = 1_000_000
NS_PER_MINUTE = 60_000_000_000

_TIMEFRAME_UNITS = {"s": 1_000_000_000, "m": NS_PER_MINUTE, "h": 60 * NS_PER_MINUTE, "d": 1440 * NS_PER_MINUTE}


def parse_timeframe(text: str) -> int:
    """Turn ``1m``/``5m``/``1h``/``8h``/``1d`` into nanoseconds, or fail naming the text."""
    t = text.strip()
    if len(t) >= 2 and t[:-1].isdigit() and t[-1] in _TIMEFRAME_UNITS and int(t[:-1]) > 0:
        return int(t[:-1]) * _TIMEFRAME_UNITS[t[-1]]
    raise ValueError(f"bad timeframe {text!r}: expected a positive number and one of s, m, h, d (e.g. 5m)")


def format_timeframe(ns: int) -> str:
    """Inverse of ``parse_timeframe`` for whole units."""
    for unit in ("d", "h", "m", "s"):
        size = _TIMEFRAME_UNITS[unit]
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


@dataclass(frozen=True, eq=False)
class BarSeries:
    """Validated, time-sorted OHLCV bars of one instrument at one timeframe."""

    symbol: str
    timeframe_ns: int
    ts_open: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]
    source: str = ""

    def __len__(self) -> int:
        return len(self.ts_open)

    @property
    def ts_close(self) -> npt.NDArray[np.int64]:
        """When each bar became knowable."""
        return self.ts_open + self.timeframe_ns

    @property
    def timeframe(self) -> str:
        return format_timeframe(self.timeframe_ns)

    def to_frame(self) -> pd.DataFrame:
        """A pandas view with a UTC DatetimeIndex of bar open times."""
        index = pd.to_datetime(self.ts_open, unit="ns", utc=True)
        return pd.DataFrame(
            {"open": self.open, "high": self.high, "low": self.low, "close": self.close, "volume": self.volume},
            index=index,
        )

    def slice(self, start: int, stop: int) -> BarSeries:
        """Bars ``[start, stop)`` as a new series sharing nothing mutable."""
        return BarSeries(
            self.symbol,
            self.timeframe_ns,
            self.ts_open[start:stop].copy(),
            self.open[start:stop].copy(),
            self.high[start:stop].copy(),
            self.low[start:stop].copy(),
            self.close[start:stop].copy(),
            self.volume[start:stop].copy(),
            self.source,
        )
