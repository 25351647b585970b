"""Bars built from the venue's public trades, so live and paper strategies see what a backtest sees.

Trades are bucketed by the *exchange's* trade timestamp, never by when they arrived: a bar must not
depend on network latency, or a backtest over the recorded trades could not reproduce it. A bucket
is emitted when a trade of a later bucket arrives, or when a timer calls ``flush`` after the bucket's
end plus a grace period (quiet markets still close their bars). Empty buckets emit nothing, like the
exchange's own klines with no trades are absent from our candle files. A trade older than the bucket
already emitted is counted and dropped: a closed bar never changes.

``bars_from_trades`` is the same procedure over a recorded list, for the live/backtest parity check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from bot4.data.bars import BarSeries
from bot4.model.errors import ConfigError
from bot4.model.events import Bar, TradeTick

_UNITS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d)$")


def parse_interval(text: str, field: str = "bar_interval") -> int:
    """``"100ms"``, ``"1s"``, ``"5m"``, ``"1h"``, ``"1d"`` in nanoseconds; anything else names the field."""
    m = _INTERVAL.match(text.strip())
    if m is None or int(m.group(1)) <= 0:
        raise ConfigError(f"{field}: {text!r} is not an interval; use e.g. 1s, 5m, 1h (ms, s, m, h, d)")
    return int(m.group(1)) * _UNITS[m.group(2)]


class TradeBarAggregator:
    """OHLCV bars of one instrument from its trades; ``on_bar`` gets each bar once, in time order."""

    __slots__ = (
        "_bucket",
        "_c",
        "_emitted_until",
        "_h",
        "_l",
        "_o",
        "_v",
        "grace_ns",
        "instrument_id",
        "interval_ns",
        "late",
        "on_bar",
    )

    def __init__(
        self, instrument_id: str, interval_ns: int, on_bar: Callable[[Bar], None], *, grace_ns: int = 0
    ) -> None:
        if interval_ns <= 0:
            raise ValueError(f"interval_ns: must be > 0 (got {interval_ns})")
        if grace_ns < 0:
            raise ValueError(f"grace_ns: must be >= 0 (got {grace_ns})")
        self.instrument_id = instrument_id
        self.interval_ns = interval_ns
        self.grace_ns = grace_ns
        self.on_bar = on_bar
        self.late = 0  # trades that arrived after their bucket was emitted
        self._bucket: int | None = None  # open time of the bucket being built
        self._emitted_until = -1
        self._o = self._h = self._l = self._c = self._v = 0.0

    @property
    def open_bucket(self) -> int | None:
        """Open time of the bar being built (None when no trade is waiting)."""
        return self._bucket

    def on_trade(self, ts_ns: int, price: float, size: float) -> None:
        bucket = ts_ns - ts_ns % self.interval_ns
        if bucket <= self._emitted_until:
            self.late += 1
            return
        if self._bucket is not None and bucket < self._bucket:
            self.late += 1  # belongs to a bucket before the one being built: already passed over
            return
        if self._bucket is not None and bucket > self._bucket:
            self._emit()
        if self._bucket is None:
            self._bucket = bucket
            self._o = self._h = self._l = self._c = price
            self._v = size
            return
        if price > self._h:
            self._h = price
        if price < self._l:
            self._l = price
        self._c = price
        self._v += size

    def on_tick(self, tick: TradeTick) -> None:
        self.on_trade(tick.ts_event, tick.price, tick.size)

    def flush(self, now_ns: int) -> bool:
        """Emit the open bar if its end plus the grace period has passed on ``now_ns``; True if emitted."""
        if self._bucket is None or now_ns < self._bucket + self.interval_ns + self.grace_ns:
            return False
        self._emit()
        return True

    def _emit(self) -> None:
        start = self._bucket
        assert start is not None
        self._bucket = None
        self._emitted_until = start
        self.on_bar(
            Bar(self.instrument_id, start, start + self.interval_ns, self._o, self._h, self._l, self._c, self._v)
        )


def bars_from_trades(instrument_id: str, trades: Iterable[TradeTick], interval_ns: int) -> list[Bar]:
    """The bars a live aggregator emits for ``trades`` (in arrival order), the last open one included."""
    out: list[Bar] = []
    agg = TradeBarAggregator(instrument_id, interval_ns, out.append)
    for t in trades:
        agg.on_tick(t)
    if agg.open_bucket is not None:
        agg.flush(agg.open_bucket + interval_ns)
    return out


def bar_series(symbol: str, bars: list[Bar], interval_ns: int, source: str = "live trades") -> BarSeries:
    """Wrap bars as a ``BarSeries`` so the backtest driver can replay exactly what the node traded on."""
    return BarSeries(
        symbol,
        interval_ns,
        np.array([b.ts_open for b in bars], dtype=np.int64),
        np.array([b.open for b in bars], dtype=np.float64),
        np.array([b.high for b in bars], dtype=np.float64),
        np.array([b.low for b in bars], dtype=np.float64),
        np.array([b.close for b in bars], dtype=np.float64),
        np.array([b.volume for b in bars], dtype=np.float64),
        source,
    )
