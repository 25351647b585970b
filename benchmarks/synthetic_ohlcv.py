"""Seeded synthetic 1-minute candles shared by the benchmark scripts, so each measures its code on the
same kind of data (scripts run as ``python benchmarks/<name>.py`` import this from their own folder)."""

from __future__ import annotations

import numpy as np

from bot4.data.bars import NS_PER_MINUTE


def random_walk_ohlcv(n: int, seed: int) -> dict[str, np.ndarray]:
    """A geometric random walk near 30,000 with consistent OHLC (2 decimals), positive volume, 1m stamps."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.empty(n)
    open_[0] = 30_000.0
    open_[1:] = close[:-1]
    spread = np.abs(rng.normal(0.0, 0.0005, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    return {
        "open": open_.round(2),
        "high": high.round(2),
        "low": low.round(2),
        "close": close.round(2),
        "volume": rng.uniform(1.0, 10.0, n),
        "ts": np.arange(n, dtype=np.int64) * NS_PER_MINUTE + 1_600_000_000_000_000_000,
    }
