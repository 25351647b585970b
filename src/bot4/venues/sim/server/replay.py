"""Replays recorded market data into the fake exchange, as if it were happening now.

Data files are recognised by name: ``*quotes*.parquet`` (Binance top-of-book quotes) and
``*trades*.parquet`` (Binance public trades), as in the shared data folder. Events are merged in
time order (quotes before trades at the same millisecond, then file order) and re-based so the first
one plays at the moment replay starts. Tests step the replay by hand (``step``); the server paces it
in real time (``run`` with ``speed``), optionally faster.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot4.data.book.loaders import load_binance_quotes_parquet, load_binance_trades_parquet
from bot4.venues.sim.server.exchange import SimExchange


class ReplayError(ValueError):
    """A data file the replay cannot use; the message names the file."""


@dataclass(frozen=True, slots=True)
class MarketEvent:
    ts_ns: int  # recorded time
    kind: Literal["quote", "trade"]
    symbol: str
    a: float  # quote: bid;      trade: price
    b: float  # quote: bid size; trade: qty
    c: float = 0.0  # quote: ask
    d: float = 0.0  # quote: ask size
    trade_id: int = 0
    buyer_maker: bool = False


def load_events(paths: list[Path], symbol: str) -> list[MarketEvent]:
    """Read and merge the files for ``symbol``; unknown file kinds are refused by name."""
    events: list[tuple[int, int, int, MarketEvent]] = []
    for path in paths:
        if not path.is_file():
            raise ReplayError(f"market data file {path} does not exist")
        name = path.name.lower()
        if "quotes" in name and name.endswith(".parquet"):
            for i, q in enumerate(load_binance_quotes_parquet(path, symbol)):
                ev = MarketEvent(q.ts_event, "quote", symbol, q.bid, q.bid_size, q.ask, q.ask_size)
                events.append((q.ts_event, 0, i, ev))
        elif "trades" in name and name.endswith(".parquet"):
            for i, t in enumerate(load_binance_trades_parquet(path, symbol)):
                try:
                    tid = int(t.trade_id)
                except ValueError:
                    raise ReplayError(f"{path.name} row {i + 2}: trade_id {t.trade_id!r} is not an integer") from None
                ev = MarketEvent(
                    t.ts_event, "trade", symbol, t.price, t.size, trade_id=tid, buyer_maker=t.aggressor == "SELL"
                )
                events.append((t.ts_event, 1, i, ev))
        else:
            raise ReplayError(f"market data file {path}: name must contain 'quotes' or 'trades' and end in .parquet")
    events.sort(key=lambda e: e[:3])
    return [e[3] for e in events]


class Replay:
    """Feeds ``events`` to ``exchange`` one by one; ``position`` is how many have been played."""

    def __init__(self, exchange: SimExchange, events: list[MarketEvent]) -> None:
        self.exchange = exchange
        self.events = events
        self.position = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.events)

    def step(self, n: int = 1) -> int:
        """Play the next ``n`` events (fewer at the end); returns how many were played."""
        played = 0
        while played < n and not self.done:
            self._apply(self.events[self.position])
            self.position += 1
            played += 1
        return played

    def step_until(self, kind: str) -> bool:
        """Play events up to and including the next one of ``kind``; False if none was left."""
        while not self.done:
            ev = self.events[self.position]
            self.step()
            if ev.kind == kind:
                return True
        return False

    def _apply(self, ev: MarketEvent) -> None:
        if ev.kind == "quote":
            self.exchange.on_quote(ev.symbol, ev.a, ev.b, ev.c, ev.d)
        else:
            self.exchange.on_trade(ev.symbol, ev.trade_id, ev.a, ev.b, ev.buyer_maker)

    async def run(self, speed: float) -> None:
        """Play the rest in recorded rhythm, ``speed`` times faster (the loop's monotonic time)."""
        if speed <= 0:
            raise ValueError(f"speed: must be > 0 (got {speed})")
        loop = asyncio.get_running_loop()
        if self.done:
            return
        t0_data, t0_loop = self.events[self.position].ts_ns, loop.time()
        while not self.done:
            due = t0_loop + (self.events[self.position].ts_ns - t0_data) / 1e9 / speed
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.step()
