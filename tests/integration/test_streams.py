"""Market-data and user-data streams against the local Binance-spot server (reliability.md C1, C4, C5, D1-D3, E5).

The server replays the recorded BTCUSDT quotes and trades (``shared_data``); a pump task steps the
replay so the diff stream moves, and fault-plan rules break the streams. Books are compared with the
server's own ``GET /api/v3/depth`` once the feed has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot4.data.book.l2 import Level
from bot4.data.book.scale import Scale
from bot4.engine.clock import LiveClock
from bot4.execution.records import ExecReport
from bot4.execution.states import OmsStatus
from bot4.model.events import QuoteTick, TradeTick
from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, ServerConfig, sign
from bot4.venues.streams import Backoff, CcxtMarketFeed, MarketFeed, UserStream

SYM, IID = "BTCUSDT", "BTCUSDT.BINANCE"
KEY, SECRET = "alice-key", "alice-secret"


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))


async def until(cond: Callable[[], bool], timeout: float = 4.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serving(shared_data: Path, plan: FaultPlan | None = None) -> AsyncIterator[ExchangeServer]:
    d = shared_data / "nautilus_trader" / "binance"
    account = Account("alice", KEY, SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")})
    files = [d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"]
    server = ExchangeServer(ServerConfig(accounts=[account], data=files, faults=plan or FaultPlan()))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def running(coro: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Pump:
    """Steps the replay every ``every`` seconds while ``on`` is set (market data keeps moving)."""

    def __init__(self, srv: ExchangeServer, every: float = 0.01) -> None:
        self.srv, self.every, self.on = srv, every, True

    async def run(self) -> None:
        while True:
            if self.on:
                self.srv.replay.step(1)
            await asyncio.sleep(self.every)


class Market:
    """A ``MarketFeed`` on the server plus everything its callbacks said."""

    def __init__(self, srv: ExchangeServer, stale_after_s: float = 5.0) -> None:
        self.srv = srv
        self.scale: Scale = srv.exchange.scales[SYM]
        self.states: list[tuple[bool, str, bool]] = []  # (healthy, reason, book() was None at that moment)
        self.quotes: list[QuoteTick] = []
        self.trades: list[TradeTick] = []
        self.feed = MarketFeed(
            srv.ws_url, srv.url, {IID: SYM}, {IID: self.scale}, LiveClock(),
            on_trade=self.trades.append, on_quote=self.quotes.append, on_state=self._state,
            stale_after_s=stale_after_s, backoff=Backoff(0.05, 0.5),
        )  # fmt: skip

    def _state(self, iid: str, healthy: bool, reason: str) -> None:
        assert iid == IID
        self.states.append((healthy, reason, self.feed.book(iid) is None))

    async def synced_with_server(self, pump: Pump) -> None:
        """Stop the market, let the feed catch up, and check its book is the server's depth, level by level."""
        pump.on = False
        await until(lambda: self.feed.healthy(IID), what="a healthy book")
        target = self.srv.exchange.update_ids[SYM]
        await until(lambda: (b := self.feed.book(IID)) is not None and b.last_update_id == target, what="catch-up")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.srv.url}/api/v3/depth?symbol={SYM}&limit=5000") as r,
        ):
            depth = await r.json()
        book = self.feed.book(IID)
        assert book is not None
        assert book.last_update_id == depth["lastUpdateId"]
        assert book.bid_levels() == self._levels(depth["bids"]) and book.ask_levels() == self._levels(depth["asks"])
        assert book.bid_levels() and book.ask_levels()

    def _levels(self, rows: list[list[str]]) -> list[Level]:
        return [(self.scale.ticks(p), self.scale.lots(q)) for p, q in rows]


def test_market_feed_when_streaming_then_book_quotes_and_trades_follow_the_server(shared_data: Path) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv:
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: len(m.trades) >= 3 and len(m.quotes) >= 3, what="trades and quotes")
                await m.synced_with_server(pump)
            assert m.states[0][:2] == (True, "book in sync, data fresh")
            assert m.feed.stats.gaps == m.feed.stats.rejected_messages == m.feed.stats.malformed == 0
            assert m.quotes[-1].bid == float(srv.exchange.depth(SYM, 1)["bids"][0][0])
            assert all(t.instrument_id == IID and t.price > 0 and t.aggressor in ("BUY", "SELL") for t in m.trades)
            assert len({t.trade_id for t in m.trades}) == len(m.trades)

    run(scenario)


def test_market_feed_when_update_id_skipped_then_book_invalid_at_once_and_resynced_equal_to_server_d1(
    shared_data: Path,
) -> None:
    """D1: a gap in U/u drops the book (book() is None from that moment) and resyncs to the server's book."""

    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:depth", "skip_update_id", count=1, skip=10)
        async with serving(shared_data, plan) as srv:
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: m.feed.stats.gaps == 1 and m.feed.healthy(IID), what="gap and resync")
                await m.synced_with_server(pump)
            healthy = [s[0] for s in m.states]
            assert healthy[:3] == [True, False, True]
            assert m.states[1][1].startswith("sequence gap") and m.states[1][2], "book() must be None once invalid"
            assert m.feed.stats.resyncs == 2

    run(scenario)


def test_market_feed_when_snapshot_too_old_then_fetched_again_and_book_equals_server_d1(shared_data: Path) -> None:
    """D1: the server serves a snapshot older than the buffered diffs once; the feed must refuse it and refetch."""

    async def scenario() -> None:
        plan = FaultPlan()
        async with serving(shared_data, plan) as srv:
            old = srv.exchange.depth(SYM, 5000)
            srv.replay.step(60)
            assert srv.exchange.update_ids[SYM] > old["lastUpdateId"] + 5
            plan.add("GET /api/v3/depth", "status", code=200, body=old, count=1)
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: m.feed.healthy(IID), what="a healthy book")
                assert m.feed.stats.stale_snapshots == 1
                book = m.feed.book(IID)
                assert book is not None and book.last_update_id > old["lastUpdateId"]
                await m.synced_with_server(pump)
            assert m.feed.stats.resyncs == 1 and m.feed.stats.gaps == 0

    run(scenario)


@pytest.mark.parametrize(
    ("side", "price", "qty", "what"),
    [
        ("b", "abc", "1", "not a number"),
        ("b", "NaN", "1", "must be finite"),
        ("a", "1000", "-1", "non-negative"),
        ("b", "CROSS", "0.5", "best bid"),  # a bid above the best ask: the message crosses the book
    ],
)
def test_market_feed_when_level_invalid_or_crossed_then_message_rejected_counted_and_resynced_d2(
    shared_data: Path, side: str, price: str, qty: str, what: str
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        async with serving(shared_data, plan) as srv:
            bad = price
            if price == "CROSS":
                bad = str(Decimal(srv.exchange.depth(SYM, 1)["asks"][0][0]) + 50)
            plan.add("ws:depth", "inject_level", side=side, price=bad, qty=qty, count=1, skip=8)
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: m.feed.stats.rejected_messages == 1, what="the rejection")
                await until(lambda: m.feed.stats.resyncs == 2 and m.feed.healthy(IID), what="the resync")
                await m.synced_with_server(pump)
            assert [s[0] for s in m.states[:3]] == [True, False, True]
            assert "rejected depth message" in m.states[1][1] and what in m.states[1][1] and m.states[1][2]

    run(scenario)


def test_market_feed_when_stream_silent_then_unhealthy_within_stale_after_and_healthy_on_fresh_data_d3(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        async with serving(shared_data, plan) as srv:
            m, pump = Market(srv, stale_after_s=0.4), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: m.feed.healthy(IID), what="a healthy book")
                silent = time.monotonic()
                for endpoint in ("ws:depth", "ws:trade"):
                    plan.add(endpoint, "silent_stream", duration_ms=1500)
                await until(lambda: len(m.states) >= 2, timeout=2.0, what="the stale signal")
                detected = time.monotonic() - silent
                assert m.states[1][:1] == (False,) and m.states[1][1].startswith("stale") and m.states[1][2]
                assert m.feed.book(IID) is None
                await until(lambda: m.feed.healthy(IID), timeout=4.0, what="recovery on fresh data")
                await m.synced_with_server(pump)
            assert 0.4 <= detected <= 0.4 + 0.5, detected
            assert m.feed.stats.stale == 1

    run(scenario)


def test_market_feed_when_frame_malformed_then_dropped_counted_and_loop_survives_e5(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:depth", "malformed_body", count=1, skip=8)
        async with serving(shared_data, plan) as srv:
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()) as task, running(pump.run()):
                await until(lambda: m.feed.stats.malformed == 1, what="the malformed frame")
                await until(lambda: m.feed.stats.resyncs == 2 and m.feed.healthy(IID), what="resync after the loss")
                await m.synced_with_server(pump)
                assert not task.done()
            assert m.feed.stats.gaps == 1 and m.feed.stats.reconnects == 0

    run(scenario)


@pytest.mark.parametrize("action", ["disconnect_at", "server_shutdown"])
def test_market_feed_when_connection_closes_then_reconnects_with_backoff_and_resyncs(
    shared_data: Path, action: str
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:depth", action, count=1, skip=8)
        async with serving(shared_data, plan) as srv:
            m, pump = Market(srv), Pump(srv)
            async with running(m.feed.run()), running(pump.run()):
                await until(lambda: m.feed.stats.reconnects == 1 and m.feed.healthy(IID), what="the reconnect")
                await m.synced_with_server(pump)
            assert [s[0] for s in m.states[:3]] == [True, False, True]
            want = "serverShutdown" if action == "server_shutdown" else "disconnected"
            assert want in m.states[1][1]

    run(scenario)


def test_ccxt_market_feed_when_watching_local_server_then_book_and_trades_follow(shared_data: Path) -> None:
    """The generic ccxt.pro path, as far as the local (Binance-shaped) server allows."""
    import ccxt.pro as ccxtpro  # type: ignore[import-untyped]

    async def scenario() -> None:
        async with serving(shared_data) as srv:
            ex = ccxtpro.binance({"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}})
            _point_at(ex.urls["api"], srv.port)
            scale = srv.exchange.scales[SYM]
            states: list[tuple[str, bool, str]] = []
            trades: list[TradeTick] = []
            quotes: list[QuoteTick] = []
            feed = CcxtMarketFeed(
                ex, {IID: "BTC/USDT"}, {IID: scale}, LiveClock(), on_trade=trades.append,
                on_quote=quotes.append, on_state=lambda *a: states.append(a), stale_after_s=5.0,
            )  # fmt: skip
            pump = Pump(srv, 0.02)
            try:
                await ex.load_markets()
                async with running(feed.run()), running(pump.run()):
                    await until(lambda: feed.healthy(IID) and len(trades) >= 2, timeout=6.0, what="ccxt book+trades")
                    pump.on = False
                    await asyncio.sleep(0.2)
                    book = feed.book(IID)
                    assert book is not None
                    top = srv.exchange.depth(SYM, 1)
                    assert book.best_bid() == (scale.ticks(top["bids"][0][0]), scale.lots(top["bids"][0][1]))
                    assert book.best_ask() == (scale.ticks(top["asks"][0][0]), scale.lots(top["asks"][0][1]))
            finally:
                await ex.close()
            assert states[0] == (IID, True, "book in sync, data fresh")
            assert quotes and len({t.trade_id for t in trades}) == len(trades)

    run(scenario)


def _point_at(urls: dict[str, Any], port: int) -> None:
    for name, url in urls.items():
        if isinstance(url, dict):
            _point_at(url, port)
        elif isinstance(url, str):
            scheme = "ws" if url.startswith("wss") else "http"
            urls[name] = f"{scheme}://127.0.0.1:{port}/" + url.split("://", 1)[1].split("/", 1)[1]


# -- user stream ----------------------------------------------------------------------------------------


async def place(srv: ExchangeServer, **params: str) -> dict[str, Any]:
    """A signed ``POST /api/v3/order`` (async, so the server in this loop keeps running)."""
    q = {"symbol": SYM, **params, "timestamp": str(time.time_ns() // 1_000_000)}
    query = urlencode(q)
    query += "&signature=" + sign(SECRET, query)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{srv.url}/api/v3/order?{query}", headers={"X-MBX-APIKEY": KEY}) as r,
    ):
        body: dict[str, Any] = await r.json()
        assert r.status == 200, body
        return body


async def resting_bid(srv: ExchangeServer, cid: str) -> dict[str, Any]:
    bid = Decimal(srv.exchange.depth(SYM, 1)["bids"][0][0])
    return await place(
        srv, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=str(bid - 100), newClientOrderId=cid
    )


class User:
    """A ``UserStream`` on the server plus the signals it gave, in order."""

    def __init__(self, srv: ExchangeServer, **kw: Any) -> None:
        self.reports: list[ExecReport] = []
        self.signals: list[str] = []
        kw.setdefault("silence_s", 5.0)
        kw.setdefault("backoff", Backoff(0.05, 0.5))
        self.stream = UserStream(
            srv.ws_url, srv.url, KEY, LiveClock(), {IID: SYM}, on_report=self.reports.append,
            on_gap=lambda r: self.signals.append(f"gap: {r}"), on_live=lambda: self.signals.append("live"), **kw,
        )  # fmt: skip

    def of(self, cid: str) -> list[ExecReport]:
        return [r for r in self.reports if r.client_order_id == cid]


def test_user_stream_when_fill_duplicated_then_one_report_with_the_venue_trade_keys_c1(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "duplicate_event", n=3, when={"x": "TRADE"}, count=1)
        async with serving(shared_data, plan) as srv:
            u = User(srv)
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                await place(srv, side="BUY", type="MARKET", quantity="0.001", newClientOrderId="c1-1")
                await until(lambda: u.stream.stats.duplicates == 2, what="the duplicates")
            fills = [r for r in u.of("c1-1") if r.fill is not None]
            trade = srv.exchange.ledger.trades[-1]
            assert len(fills) == 1 and fills[0].fill is not None
            f = fills[0].fill
            assert (fills[0].trade_seq, f.trade_id) == (trade.trade_id, str(trade.trade_id))
            assert fills[0].seq == trade.execution_id and fills[0].status is OmsStatus.FILLED
            assert (f.quantity, f.price, f.fee, f.fee_currency) == (trade.qty, trade.price, trade.commission, "USDT")
            assert fills[0].cum_quantity == Decimal("0.001") and fills[0].instrument_id == IID
            assert [r.status for r in u.of("c1-1")] == [OmsStatus.ACCEPTED, OmsStatus.FILLED]

    run(scenario)


def test_user_stream_when_disconnected_mid_fill_then_gap_then_live_and_gap_fill_left_to_rest_c4(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "disconnect_at", when={"x": "NEW"}, count=1)
        async with serving(shared_data, plan) as srv:
            u = User(srv, backoff=Backoff(0.3, 0.5))
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                order = await resting_bid(srv, "c4-1")
                await until(lambda: len(u.signals) == 2, what="the gap")
                assert u.signals[1].startswith("gap: disconnected") and not u.stream.healthy
                srv.exchange.on_trade(SYM, 1, float(order["price"]), 5.0, True)  # fills while we are away
                assert srv.exchange.ledger.orders[order["orderId"]].status == "FILLED"
                await until(lambda: len(u.signals) == 3, what="live again")
            assert u.signals[2] == "live" and u.stream.stats.reconnects == 1
            assert [r.status for r in u.of("c4-1")] == [OmsStatus.ACCEPTED]  # the fill is the REST resync's job

    run(scenario)


@pytest.mark.parametrize("variant", ["listen_key_expired", "event_stream_terminated", "keepalive_refused"])
def test_user_stream_when_expired_terminated_or_keepalive_refused_then_gap_and_resubscribe_c5(
    shared_data: Path, variant: str
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        kw: dict[str, Any] = {}
        if variant == "keepalive_refused":
            kw["keepalive_s"] = 0.3
        else:
            plan.add("ws:user", variant, when={"x": "NEW"}, count=1)
        if variant == "event_stream_terminated":
            kw |= {"mode": "ws_api", "api_secret": SECRET}
        async with serving(shared_data, plan) as srv:
            u = User(srv, **kw)
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                old_keys = set(srv.api.hub.listen_keys)
                if variant == "keepalive_refused":
                    for key in old_keys:
                        srv.api.hub.close_listen_key(key)  # expired behind our back
                else:
                    await resting_bid(srv, "c5-1")
                await until(lambda: len(u.signals) == 3, what="gap then live")
                want = {"listen_key_expired": "listenKeyExpired", "event_stream_terminated": "eventStreamTerminated"}
                assert u.signals[1].startswith("gap: " + want.get(variant, "listenKey keepalive refused"))
                assert u.signals[2] == "live"
                if variant != "event_stream_terminated":
                    assert set(srv.api.hub.listen_keys).isdisjoint(old_keys)  # a new listenKey
                await resting_bid(srv, "c5-2")  # the new subscription delivers
                await until(lambda: len(u.of("c5-2")) == 1, what="events on the new stream")

    run(scenario)


@pytest.mark.parametrize("probe_says_missed", [True, False, None])
def test_user_stream_when_silent_while_orders_work_then_gap_within_silence_unless_probe_finds_nothing_c5(
    shared_data: Path, probe_says_missed: bool | None
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "silent_stream", duration_ms=5000)

        async def probe() -> bool:
            assert probe_says_missed is not None
            return probe_says_missed

        async with serving(shared_data, plan) as srv:
            u = User(srv, silence_s=0.5, probe=None if probe_says_missed is None else probe)
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                await resting_bid(srv, "c5s-1")  # its NEW event is swallowed by the silent stream
                u.stream.set_expect_activity(True)
                started = time.monotonic()
                if probe_says_missed is False:
                    await asyncio.sleep(1.5)
                    assert u.signals == ["live"] and u.stream.healthy
                    return
                await until(lambda: len(u.signals) >= 2, timeout=2.0, what="the silence gap")
                assert time.monotonic() - started <= 0.5 + 0.35
                assert u.signals[1].startswith("gap: silent") and u.of("c5s-1") == []

    run(scenario)


def test_user_stream_when_server_shutdown_then_overlapping_reconnect_no_gap_no_loss_no_duplicate_c4(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "server_shutdown", close_after_ms=1500, when={"x": "NEW"}, count=1)
        async with serving(shared_data, plan) as srv:
            u = User(srv, overlap_s=0.3)
            hub = srv.api.hub
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                await resting_bid(srv, "sd-1")
                await until(lambda: u.stream.stats.rotations == 1 and len(hub.subscribers) == 2, what="overlap")
                await resting_bid(srv, "sd-2")  # sent on both connections
                await until(lambda: len(u.of("sd-2")) == 1 and u.stream.stats.duplicates == 1, what="the dedupe")
                await until(lambda: len(hub.subscribers) == 1, what="the old connection closed")
                await resting_bid(srv, "sd-3")
                await until(lambda: len(u.of("sd-3")) == 1, what="events on the new connection")
            assert u.signals == ["live"] and u.stream.stats.gaps == 0
            assert [len(u.of(c)) for c in ("sd-1", "sd-2", "sd-3")] == [1, 1, 1]

    run(scenario)


@pytest.mark.parametrize("mode", ["listen_key", "ws_api"])
def test_user_stream_when_connection_reaches_max_age_then_rotated_without_gap_or_loss(
    shared_data: Path, mode: str
) -> None:
    """The 24 h limit, compressed: rotations overlap while orders keep coming."""

    async def scenario() -> None:
        async with serving(shared_data) as srv:
            u = User(srv, max_connection_age_s=0.4, overlap_s=0.15, mode=mode, api_secret=SECRET)
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                for i in range(12):
                    await resting_bid(srv, f"age-{i}")
                    await asyncio.sleep(0.1)
                await until(lambda: len(u.reports) == 12, what="every NEW report")
            assert u.stream.stats.rotations >= 2 and u.signals == ["live"] and u.stream.stats.gaps == 0
            assert sorted(r.client_order_id for r in u.reports) == sorted(f"age-{i}" for i in range(12))

    run(scenario)


def test_user_stream_when_frame_malformed_then_counted_and_treated_as_a_gap_e5(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "malformed_body", when={"x": "NEW"}, count=1)
        async with serving(shared_data, plan) as srv:
            u = User(srv)
            async with running(u.stream.run()):
                await until(lambda: u.signals == ["live"], what="live")
                await resting_bid(srv, "e5-1")
                await until(lambda: len(u.signals) == 3, what="gap then live")
            assert u.signals[1] == "gap: a user-stream frame was not valid JSON" and u.stream.stats.malformed == 1

    run(scenario)
