"""``GET /api/v3/klines`` for the local exchange, served from real candle files.

Downloaders (``bot4 data download``) need a venue that pages, refuses and rate-limits like Binance
without reaching the internet. The candles come from OHLCV files given to the server (the symbol and
timeframe are read from the file name, e.g. ``BINANCE-USDM_BTC_USDT_5m.csv``). An interval with no
file of its own is aggregated from a finer file whose timeframe divides it, the way the venue builds
its own bars; one with no such file is refused. The files hold only OHLCV, so quote volume, trade
count and taker volumes are sent as 0 rather than invented.

Binance semantics kept: ``limit`` 1..1000 (default 500); ``startTime`` alone gives the first
``limit`` bars from it, ``endTime`` alone the last ``limit`` bars up to it, neither the most recent
``limit`` bars; both bound the open time inclusively. Faults (429, 5xx, drops, a canned body with
rows missing via ``status`` with ``code = 200`` and a ``body``) come from the fault plan like every
other endpoint; see ``faults.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot4.data.bars import NS_PER_MS
from bot4.data.loaders import load_ohlcv
from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.signing import ApiError, mandatory

# Binance spot intervals in milliseconds ("1M" is calendar-based and not served here).
INTERVALS_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
_WEEK_ORIGIN_MS = 4 * 86_400_000  # Binance weeks open on Monday; 1970-01-05 was the first Monday


@dataclass(frozen=True, slots=True)
class Candles:
    """One symbol's bars at one timeframe; ``ts`` are open times in epoch milliseconds."""

    tf_ms: int
    ts: npt.NDArray[np.int64]
    ohlcv: npt.NDArray[np.float64]  # shape (n, 5): open, high, low, close, volume


@dataclass
class KlineBook:
    """Candle sets by exchange symbol id (``BTCUSDT``) and timeframe; ``served`` logs each request."""

    sets: dict[str, dict[int, Candles]] = field(default_factory=dict)
    served: list[tuple[str, str, int | None, int | None, int]] = field(default_factory=list)
    _derived: dict[tuple[str, int], Candles] = field(default_factory=dict)

    def load(self, paths: list[Path]) -> None:
        """Add candle files; a bad file raises ``DataError`` naming it."""
        for path in paths:
            series = load_ohlcv(path)
            symbol_id = series.symbol.split(":")[0].replace("/", "")
            tf_ms = series.timeframe_ns // NS_PER_MS
            block = np.column_stack([series.open, series.high, series.low, series.close, series.volume])
            self.sets.setdefault(symbol_id, {})[tf_ms] = Candles(tf_ms, series.ts_open // NS_PER_MS, block)

    async def handle(self, _account: Account | None, p: dict[str, str]) -> Any:
        symbol = p.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        interval = p.get("interval")
        if not interval:
            raise mandatory("interval")
        limit = _int(p, "limit") or 500
        if not 1 <= limit <= 1000:
            raise ApiError(
                400, -1100, f"Illegal characters found in parameter 'limit'; legal range is 1-1000, got {limit}."
            )
        start, end = _int(p, "startTime"), _int(p, "endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(400, -1023, "Start time is greater than end time.")
        self.served.append((symbol, interval, start, end, limit))
        return self.query(symbol, interval, start, end, limit)

    def query(self, symbol: str, interval: str, start: int | None, end: int | None, limit: int) -> list[list[Any]]:
        """Kline rows as the venue sends them (also used by tests to build canned fault bodies)."""
        if symbol not in self.sets:
            raise ApiError(400, -1121, "Invalid symbol.")
        if interval not in INTERVALS_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        candles = self._candles(symbol, INTERVALS_MS[interval])
        ts = candles.ts
        lo = 0 if start is None else int(np.searchsorted(ts, start, side="left"))
        hi = len(ts) if end is None else int(np.searchsorted(ts, end, side="right"))
        if start is not None:
            hi = min(hi, lo + limit)
        else:  # endTime alone or nothing: the latest bars up to it
            lo = max(lo, hi - limit)
        return [_row(int(ts[i]), candles.ohlcv[i], candles.tf_ms) for i in range(lo, hi)]

    def _candles(self, symbol: str, tf_ms: int) -> Candles:
        have = self.sets[symbol]
        if tf_ms in have:
            return have[tf_ms]
        if (symbol, tf_ms) in self._derived:
            return self._derived[symbol, tf_ms]
        finer = [t for t in have if tf_ms % t == 0]
        if not finer:
            served = ", ".join(_name(t) for t in sorted(have))
            raise ApiError(
                400, -1120, f"Invalid interval: this local server has {symbol} candles at {served} and multiples only."
            )
        candles = self._derived[symbol, tf_ms] = _aggregate(have[max(finer)], tf_ms)
        return candles


def _aggregate(base: Candles, tf_ms: int) -> Candles:
    """Coarser bars from finer ones: first open, max high, min low, last close, summed volume."""
    origin = _WEEK_ORIGIN_MS if tf_ms == INTERVALS_MS["1w"] else 0
    bucket = (base.ts - origin) // tf_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    o, h, lo, c, v = (base.ohlcv[:, k] for k in range(5))
    high, low = np.maximum.reduceat(h, starts), np.minimum.reduceat(lo, starts)
    block = np.column_stack([o[starts], high, low, c[ends], np.add.reduceat(v, starts)])
    return Candles(tf_ms, bucket[starts] * tf_ms + origin, block)


def _row(ts: int, v: npt.NDArray[np.float64], tf_ms: int) -> list[Any]:
    o, h, lo, c, vol = (f"{x:.8f}" for x in v)
    return [ts, o, h, lo, c, vol, ts + tf_ms - 1, "0.00000000", 0, "0.00000000", "0.00000000", "0"]


def _name(tf_ms: int) -> str:
    return next((k for k, v in INTERVALS_MS.items() if v == tf_ms), f"{tf_ms}ms")


def _int(p: dict[str, str], name: str) -> int | None:
    raw = p.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; got {raw!r}.") from None


__all__ = ["INTERVALS_MS", "Candles", "KlineBook"]
