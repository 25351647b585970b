"""Binance market data for the live node: L2 books kept in sync over a WebSocket, plus trades and quotes.

Why our own sync and not ccxt.pro here: ccxt 4.5.90's binance ``fetch_order_book_snapshot`` accepts a
snapshot whose ``lastUpdateId`` is older than the buffered diffs; it applies nothing and resolves a
stale book, so reliability.md D1 ("re-fetch a too-old snapshot") fails with it. This feed runs the
documented procedure through ``BinanceDepthSync`` instead (buffer diffs, snapshot, refuse a stale
one, drop ``u <= lastUpdateId``, chain on ``U``), over plain aiohttp. Other exchanges use the generic
``CcxtMarketFeed`` (``ccxt_market.py``) behind the same interface.

A book is handed out only while healthy: synced and no depth silence longer than ``stale_after_s``. A gap, a bad
level ("abc", NaN, negative, off-grid) or a crossed result invalidates it at once and starts a resync;
a frame that is not JSON is dropped and counted; a lost connection reconnects after a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from bot4.data.book.errors import BookError, SequenceGap, StaleSnapshot
from bot4.data.book.l2 import L2Book, Level
from bot4.data.book.scale import Scale
from bot4.data.book.sync import BinanceDepthSync
from bot4.model.events import QuoteTick, TradeTick
from bot4.venues.streams.backoff import Backoff, MonotonicClock
from bot4.venues.streams.binance_messages import (
    MS,
    MessageError,
    parse_depth_snapshot,
    parse_depth_update,
    parse_trade,
)
from bot4.venues.streams.health import FeedHealth, FeedStats, StateCallback
from bot4.venues.streams.permit import MayRequest, wait_for_permit

log = logging.getLogger(__name__)

NS = 1_000_000_000


class MarketDataFeed(Protocol):
    """What the node codes against, whichever venue feeds it."""

    stats: FeedStats

    async def run(self) -> None: ...

    def book(self, instrument_id: str) -> L2Book | None: ...

    def healthy(self, instrument_id: str) -> bool: ...


def check_feed_args(symbols: dict[str, str], scales: dict[str, Scale], stale_after_s: float) -> None:
    """Refuse a feed configuration that could not work, naming the field."""
    if not symbols:
        raise ValueError("symbols: give at least one instrument_id -> venue symbol")
    missing = sorted(set(symbols) - set(scales))
    if missing:
        raise ValueError(f"scales: no Scale for instrument(s) {missing}")
    if stale_after_s <= 0:
        raise ValueError(f"stale_after_s: must be > 0 (got {stale_after_s})")


class MarketFeed:
    """Depth diffs + trades for ``symbols`` (instrument_id -> "BTCUSDT") on one combined stream."""

    def __init__(
        self,
        ws_base: str,
        rest_base: str,
        symbols: dict[str, str],
        scales: dict[str, Scale],
        clock: MonotonicClock,
        *,
        on_trade: Callable[[TradeTick], None],
        on_quote: Callable[[QuoteTick], None],
        on_state: StateCallback,
        stale_after_s: float = 10.0,
        backoff: Backoff | None = None,
        snapshot_limit: int = 5000,
        depth_stream: str = "depth@100ms",
        heartbeat_s: float = 20.0,
        request_timeout_s: float = 5.0,
        max_connection_age_s: float = 23.5 * 3600,
        may_request: MayRequest | None = None,
    ) -> None:
        check_feed_args(symbols, scales, stale_after_s)
        if not ws_base.startswith(("ws://", "wss://")):
            raise ValueError(f"ws_base: expected ws://host:port or wss://… (got {ws_base!r})")
        if not rest_base.startswith(("http://", "https://")):
            raise ValueError(f"rest_base: expected http://host:port or https://… (got {rest_base!r})")
        if not 1 <= snapshot_limit <= 5000:
            raise ValueError(f"snapshot_limit: Binance serves 1..5000 levels (got {snapshot_limit})")
        self.ws_base, self.rest_base = ws_base.rstrip("/"), rest_base.rstrip("/")
        self.symbols = dict(symbols)
        self.scales = dict(scales)
        self.clock = clock
        self._by_symbol = {sym: iid for iid, sym in symbols.items()}
        self._on_trade, self._on_quote = on_trade, on_quote
        self._health = FeedHealth(list(symbols), clock, stale_after_s, on_state)
        self.stats = self._health.stats
        self._backoff = backoff or Backoff()
        self._snap_backoff = Backoff(0.1, 5.0, rng=random.Random(self._backoff.rng.random()))
        self._limit = snapshot_limit
        self._depth_stream = depth_stream
        self._heartbeat_s = heartbeat_s
        self._timeout_s = request_timeout_s
        self._max_age_s = max_connection_age_s
        self._syncs = {iid: BinanceDepthSync() for iid in symbols}
        self._buffered = {iid: asyncio.Event() for iid in symbols}
        self._resyncs: dict[str, asyncio.Task[None]] = {}
        self._top: dict[str, tuple[Level, Level]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._close_reason = ""
        self._closing: asyncio.Task[bool] | None = None
        self._may_request = may_request  # the venue's 429/418 wait: no connect or snapshot during a ban (E2)

    # -- public ------------------------------------------------------------------------------------

    def book(self, instrument_id: str) -> L2Book | None:
        """The synced book, or None while invalid or stale: no order may be priced from it then."""
        return self._syncs[instrument_id].book if self._health.healthy(instrument_id) else None

    def healthy(self, instrument_id: str) -> bool:
        return self._health.healthy(instrument_id)

    @property
    def stream_url(self) -> str:
        names = [f"{s.lower()}@{kind}" for s in self.symbols.values() for kind in (self._depth_stream, "trade")]
        return f"{self.ws_base}/stream?streams={'/'.join(names)}"

    async def run(self) -> None:
        """Connect, subscribe, sync and deliver until cancelled; reconnect with backoff on any loss."""
        async with aiohttp.ClientSession() as session:
            self._session = session
            watch = asyncio.create_task(self._health.watch())
            try:
                while True:
                    reason = await self._connection(session)
                    self._lost(reason)
                    self.stats.reconnects += 1
                    delay = self._backoff.next_delay()
                    log.warning("market stream: %s; reconnecting in %.2f s", reason, delay)
                    await asyncio.sleep(delay)
            finally:
                watch.cancel()
                self._lost("feed stopped")
                with contextlib.suppress(asyncio.CancelledError):
                    await watch

    # -- connection --------------------------------------------------------------------------------

    async def _connection(self, session: aiohttp.ClientSession) -> str:
        """One connection's life; returns why it ended."""
        url = self.stream_url
        await wait_for_permit(self._may_request, "market data connect")
        try:
            ws = await asyncio.wait_for(session.ws_connect(url, heartbeat=self._heartbeat_s), self._timeout_s)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"connect to {self.ws_base} failed ({type(exc).__name__}: {exc})"
        self._ws, self._close_reason = ws, ""
        self._syncs = {iid: BinanceDepthSync() for iid in self.symbols}
        age_limit = asyncio.get_running_loop().call_later(self._max_age_s, self._close, "connection age limit")
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self.stats.messages += 1
                    self.stats.malformed += 1
                else:
                    break
        except (aiohttp.ClientError, OSError) as exc:
            self._close_reason = self._close_reason or f"read failed ({type(exc).__name__}: {exc})"
        finally:
            age_limit.cancel()
            self._ws = None
            await ws.close()
        return self._close_reason or f"disconnected (close code {ws.close_code})"

    def _close(self, reason: str) -> None:
        if self._ws is not None and not self._ws.closed:
            self._close_reason = reason
            self._closing = asyncio.get_running_loop().create_task(self._ws.close())

    def _lost(self, reason: str) -> None:
        for task in self._resyncs.values():
            task.cancel()
        self._resyncs.clear()
        self._top.clear()
        for iid in self.symbols:
            self._health.set_book(iid, False, reason)

    # -- messages ----------------------------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        self.stats.messages += 1
        try:
            frame = json.loads(text)
        except ValueError:
            self.stats.malformed += 1
            log.warning("market stream %s: dropped a frame that is not JSON (%d chars)", self.ws_base, len(text))
            return
        data = frame.get("data", frame) if isinstance(frame, dict) else None
        if not isinstance(data, dict):
            self.stats.malformed += 1
            log.warning("market stream %s: dropped a frame that is not an object: %.80s", self.ws_base, text)
            return
        kind = data.get("e")
        if kind == "serverShutdown":
            self._close("serverShutdown")
            return
        if kind not in ("depthUpdate", "trade"):
            return  # subscription acks and events we do not use
        iid = self._by_symbol.get(str(data.get("s")))
        if iid is None:
            self.stats.rejected_messages += 1
            log.warning("market stream: %s for unknown symbol %r dropped", kind, data.get("s"))
            return
        if kind == "trade":
            self._trade(iid, data)
            return
        # only depth keeps a book fresh: trades resuming after a silence say nothing about missed diffs
        self._health.watchdog.touch(iid)
        self._depth(iid, data)
        self._health.check(iid)

    def _trade(self, iid: str, data: dict[str, Any]) -> None:
        try:
            tick = parse_trade(data, iid)
        except MessageError as exc:
            self.stats.rejected_messages += 1
            log.warning("market stream: trade dropped: %s", exc)
            return
        self._health.call(self._on_trade, tick)

    def _depth(self, iid: str, data: dict[str, Any]) -> None:
        sync = self._syncs[iid]
        try:
            diff = parse_depth_update(data, self.scales[iid])
        except MessageError as exc:
            self.stats.rejected_messages += 1
            self._invalidate(iid, f"rejected depth message: {exc}")
            return
        if sync.needs_resync:
            sync.on_diff(diff)  # buffered for the snapshot being fetched
            self._buffered[iid].set()
            self._ensure_resync(iid)
            return
        try:
            sync.on_diff(diff)
        except SequenceGap as exc:
            self.stats.gaps += 1
            self._invalidate(iid, f"sequence gap: {exc}")
            return
        except BookError as exc:  # crossed book, invalid level
            self.stats.rejected_messages += 1
            self._invalidate(iid, f"rejected depth message: {exc}")
            return
        self._quote(iid, diff.ts_ms * MS)

    def _invalidate(self, iid: str, reason: str) -> None:
        sync = self._syncs[iid]
        sync.needs_resync, sync.book.valid = True, False
        sync.buffer.clear()
        self._top.pop(iid, None)
        log.warning("market data %s: book invalid: %s", iid, reason)
        self._health.set_book(iid, False, reason)
        self._ensure_resync(iid)

    def _quote(self, iid: str, ts_ns: int) -> None:
        book = self._syncs[iid].book
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None or self._top.get(iid) == (bid, ask):
            return
        self._top[iid] = (bid, ask)
        sc = self.scales[iid]
        tick = QuoteTick(
            iid, ts_ns, float(sc.price(bid[0])), float(sc.size(bid[1])), float(sc.price(ask[0])), float(sc.size(ask[1]))
        )
        self._health.call(self._on_quote, tick)

    # -- resync ------------------------------------------------------------------------------------

    def _ensure_resync(self, iid: str) -> None:
        task = self._resyncs.get(iid)
        if task is None or task.done():
            self._resyncs[iid] = asyncio.get_running_loop().create_task(self._resync(iid))

    async def _resync(self, iid: str) -> None:
        """Binance's procedure: wait for a buffered diff, fetch a snapshot, refetch while it is too old."""
        sync, buffered = self._syncs[iid], self._buffered[iid]
        stale = 0
        while sync.needs_resync:
            while not sync.buffer:
                buffered.clear()
                await buffered.wait()
            try:
                snap = await self._snapshot(iid)
            except (MessageError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.stats.snapshot_errors += 1
                delay = self._snap_backoff.next_delay()
                log.warning("market data %s: snapshot failed (%s); retrying in %.2f s", iid, exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                sync.on_snapshot(snap)
            except StaleSnapshot as exc:
                self.stats.stale_snapshots += 1
                stale += 1
                log.info("market data %s: %s", iid, exc)
                await asyncio.sleep(min(0.05 * stale, 1.0))
            except SequenceGap as exc:
                self.stats.gaps += 1
                log.warning("market data %s: buffered diffs do not chain onto the snapshot: %s", iid, exc)
            except BookError as exc:
                self.stats.rejected_messages += 1
                sync.needs_resync, sync.book.valid = True, False
                log.warning("market data %s: snapshot refused: %s", iid, exc)
        self.stats.resyncs += 1
        self._snap_backoff.reset()
        self._backoff.reset()  # the connection delivered a usable book: it is not flapping
        self._health.set_book(iid, True)
        self._quote(iid, self.clock.now_ns())

    async def _snapshot(self, iid: str) -> Any:
        sym = self.symbols[iid]
        assert self._session is not None
        await wait_for_permit(self._may_request, f"GET /api/v3/depth {sym}")
        url = f"{self.rest_base}/api/v3/depth"
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        params = {"symbol": sym, "limit": str(self._limit)}
        async with self._session.get(url, params=params, timeout=timeout) as resp:
            text = await resp.text()
            if resp.status in (418, 429):
                retry = resp.headers.get("Retry-After", "")
                wait = float(retry) if retry.isdigit() else 60.0
                log.error("GET /api/v3/depth %s: HTTP %d, waiting %g s (Retry-After)", sym, resp.status, wait)
                await asyncio.sleep(wait)
                raise MessageError(f"GET /api/v3/depth {sym}: rate limited (HTTP {resp.status})")
            if resp.status != 200:
                raise MessageError(f"GET /api/v3/depth {sym}: HTTP {resp.status}: {text[:120]}")
        try:
            body = json.loads(text)
        except ValueError:
            raise MessageError(f"GET /api/v3/depth {sym}: body is not JSON ({len(text)} chars)") from None
        return parse_depth_snapshot(body, self.scales[iid], sym)
