"""Small builders for tests: bars, instruments and configs made by hand, exact and readable."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from bot4.data.bars import NS_PER_MINUTE, BarSeries
from bot4.engine.backtest import Feed
from bot4.model.instrument import Instrument

T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z, a round start for hand-made bars


def make_instrument(symbol: str = "BTC/USDT", **kw: object) -> Instrument:
    defaults: dict[str, object] = {
        "tick_size": "0.01",
        "step_size": "0.001",
        "maker_fee": "0.001",
        "taker_fee": "0.002",
    }
    defaults.update(kw)
    return Instrument.spot("SIM", symbol, **defaults)  # type: ignore[arg-type]


def make_bars(
    ohlc: Sequence[tuple[float, float, float, float]],
    symbol: str = "BTC/USDT",
    start: int = T0,
    step: int = NS_PER_MINUTE,
    volume: float = 10.0,
) -> BarSeries:
    """Bars from (open, high, low, close) rows, one minute apart."""
    arr = np.asarray(ohlc, dtype=np.float64).reshape(-1, 4)
    n = len(arr)
    return BarSeries(
        symbol,
        step,
        start + np.arange(n, dtype=np.int64) * step,
        arr[:, 0].copy(),
        arr[:, 1].copy(),
        arr[:, 2].copy(),
        arr[:, 3].copy(),
        np.full(n, volume),
        "test",
    )


def make_feed(ohlc: Sequence[tuple[float, float, float, float]], symbol: str = "BTC/USDT", **kw: object) -> Feed:
    return Feed(make_instrument(symbol, **kw), make_bars(ohlc, symbol))


def d(x: str | int) -> Decimal:
    return Decimal(x)
