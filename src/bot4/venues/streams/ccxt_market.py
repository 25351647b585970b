"""Market data for exchanges other than Binance, through ccxt.pro, behind ``MarketFeed``'s interface.

ccxt.pro keeps each venue's book in sync itself (``watch_order_book``) and delivers public trades
(``watch_trades``); this class turns them into ``L2Book``s, ``QuoteTick``s and ``TradeTick``s with the
same health rules (a refused level or a ccxt error invalidates the book, silence makes it stale).
Binance does not use it: ccxt's binance snapshot handling accepts a too-old snapshot (see
``market.py``), so Binance goes through our own ``BinanceDepthSync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot4.data.book.errors import BookError
from bot4.data.book.l2 import L2Book, Level
from bot4.data.book.scale import Scale
from bot4.model.events import QuoteTick, TradeTick
from bot4.venues.streams.backoff import Backoff, MonotonicClock
from bot4.venues.streams.binance_messages import MS
from bot4.venues.streams.health import FeedHealth, StateCallback
from bot4.venues.streams.market import check_feed_args

log = logging.getLogger(__name__)


class CcxtMarketFeed:
    """``exchange`` is a ccxt.pro instance; ``symbols`` maps instrument_id -> ccxt symbol ("BTC/USDT")."""

    def __init__(
        self,
        exchange: Any,
        symbols: dict[str, str],
        scales: dict[str, Scale],
        clock: MonotonicClock,
        *,
        on_trade: Callable[[TradeTick], None],
        on_quote: Callable[[QuoteTick], None],
        on_state: StateCallback,
        stale_after_s: float = 10.0,
        backoff: Backoff | None = None,
        depth_limit: int | None = None,
    ) -> None:
        check_feed_args(symbols, scales, stale_after_s)
        self.exchange = exchange
        self.symbols = dict(symbols)
        self.scales = dict(scales)
        self.clock = clock
        self._on_trade, self._on_quote = on_trade, on_quote
        self._health = FeedHealth(list(symbols), clock, stale_after_s, on_state)
        self.stats = self._health.stats
        self._backoff = backoff or Backoff()
        self._limit = depth_limit
        self._books = {iid: L2Book() for iid in symbols}
        self._top: dict[str, tuple[Level, Level]] = {}
        self._trade_ids: dict[str, OrderedDict[str, None]] = {iid: OrderedDict() for iid in symbols}

    def book(self, instrument_id: str) -> L2Book | None:
        """The book, or None while invalid or stale: no order may be priced from it then."""
        return self._books[instrument_id] if self._health.healthy(instrument_id) else None

    def healthy(self, instrument_id: str) -> bool:
        return self._health.healthy(instrument_id)

    async def run(self) -> None:
        """Watch every book and trade stream until cancelled (ccxt reconnects; we back off on errors)."""
        tasks = [asyncio.create_task(self._health.watch())]
        for iid in self.symbols:
            tasks.append(asyncio.create_task(self._watch_books(iid)))
            tasks.append(asyncio.create_task(self._watch_trades(iid)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch_books(self, iid: str) -> None:
        sym = self.symbols[iid]
        while True:
            try:
                ob = await self.exchange.watch_order_book(sym, self._limit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # ccxt raises its own tree (NetworkError, ExchangeError...)
                await self._failed(iid, f"watch_order_book {sym}: {type(exc).__name__}: {exc}")
                continue
            self.stats.messages += 1
            self._health.watchdog.touch(iid)
            try:
                self._load(iid, ob)
            except (BookError, KeyError, TypeError, ValueError) as exc:
                self.stats.rejected_messages += 1
                self._top.pop(iid, None)
                self._health.set_book(iid, False, f"rejected order book from ccxt: {exc}")
                continue
            self._health.set_book(iid, True)
            self._quote(iid, int(ob.get("timestamp") or 0) * MS or self.clock.now_ns())

    def _load(self, iid: str, ob: dict[str, Any]) -> None:
        sc, book = self.scales[iid], self._books[iid]
        bids = [(sc.ticks(p, "bid price"), sc.lots(q, "bid size")) for p, q, *_ in ob["bids"]]
        asks = [(sc.ticks(p, "ask price"), sc.lots(q, "ask size")) for p, q, *_ in ob["asks"]]
        book.load_snapshot(bids, asks, int(ob.get("nonce") or 0))

    async def _watch_trades(self, iid: str) -> None:
        sym, seen = self.symbols[iid], self._trade_ids[iid]
        while True:
            try:
                trades = await self.exchange.watch_trades(sym)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(iid, f"watch_trades {sym}: {type(exc).__name__}: {exc}")
                continue
            self.stats.messages += 1
            for t in trades:
                tid = str(t.get("id"))
                if tid in seen:
                    continue
                seen[tid] = None
                if len(seen) > 10_000:
                    seen.popitem(last=False)
                try:
                    price, size = float(t["price"]), float(t["amount"])
                    if not (price > 0 and size > 0):  # also refuses NaN
                        raise ValueError(f"price {price} / amount {size} must be positive")
                    side = str(t.get("side") or "").upper()
                    tick = TradeTick(
                        iid, int(t["timestamp"]) * MS, price, size, side if side in ("BUY", "SELL") else "", tid
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    self.stats.rejected_messages += 1
                    log.warning("ccxt trade %s dropped: %s", sym, exc)
                    continue
                self._health.call(self._on_trade, tick)

    async def _failed(self, iid: str, reason: str) -> None:
        self.stats.reconnects += 1
        self._top.pop(iid, None)
        self._health.set_book(iid, False, reason)
        delay = self._backoff.next_delay()
        log.warning("market data %s: %s; retrying in %.2f s", iid, reason, delay)
        await asyncio.sleep(delay)

    def _quote(self, iid: str, ts_ns: int) -> None:
        book = self._books[iid]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None or self._top.get(iid) == (bid, ask):
            return
        self._top[iid] = (bid, ask)
        sc = self.scales[iid]
        tick = QuoteTick(
            iid, ts_ns, float(sc.price(bid[0])), float(sc.size(bid[1])), float(sc.price(ask[0])), float(sc.size(ask[1]))
        )
        self._health.call(self._on_quote, tick)
