"""Price paths for pattern tests: hand-built from pivot prices, and real candles from shared data."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from bot4.indicators.base import FloatArray
from bot4.indicators.patterns import Swing, ZigZag

BARS_PER_LEG = 10
T = TypeVar("T")


def pivot_path(pivots: Sequence[float], bars_per_leg: int = BARS_PER_LEG) -> FloatArray:
    """Close prices moving in a straight line between pivots; pivot i sits at bar i * bars_per_leg."""
    out = [float(pivots[0])]
    for a, b in itertools.pairwise(pivots):
        out.extend(a + (b - a) * k / bars_per_leg for k in range(1, bars_per_leg + 1))
    return np.array(out)


def hlc(path: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Zero-range bars: high = low = close = the path, so extremes fall exactly on the pivots."""
    return path, path.copy(), path.copy()


def first_reversal_bar(path: FloatArray, start: int, deviation: float) -> int:
    """The first bar after ``start`` whose price has moved ``deviation`` away from ``path[start]``."""
    base = path[start]
    moved = np.abs(path[start + 1 :] - base) >= base * deviation
    return start + 1 + int(np.argmax(moved))


def load_candles(shared_data: Path, name: str = "BITTREX_ETH_BTC_5m.csv") -> pd.DataFrame:
    return pd.read_csv(shared_data / "ohlcv" / name)


def stream_bars(
    bars: tuple[FloatArray, FloatArray, FloatArray],
    on_swing: Callable[[Swing], list[T]],
    **zigzag_params: Any,
) -> list[T]:
    """Run a streaming ZigZag bar by bar and feed each confirmed swing to a streaming detector."""
    zz = ZigZag(**zigzag_params)
    found: list[T] = []
    for high, low, close in zip(*(a.tolist() for a in bars), strict=True):
        swing = zz.update(high, low, close)
        if swing is not None:
            found.extend(on_swing(swing))
    return found
