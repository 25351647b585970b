"""The local exchange server driven by the real ccxt client (REST: ``ccxt.async_support``; WS: ``ccxt.pro``
for the order book and the WS-API user stream, plain ``aiohttp`` for the raw listenKey stream and faults).

Everything runs on 127.0.0.1: ccxt's URLs are pointed at the server and its options stop it from calling
currencies/margin/futures endpoints. Market data is the recorded Binance spot BTC/USDT quotes and trades.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxta  # type: ignore[import-untyped]
import ccxt.pro as ccxtpro  # type: ignore[import-untyped]
import pytest

from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, LatencyModel, ServerConfig, WeightLimiter

SYMBOL = "BTC/USDT"
KEY, SECRET = "alice-key", "alice-secret"
OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False, "defaultType": "spot"}


def alice() -> Account:
    return Account("alice", KEY, SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")})


def market_files(shared_data: Path) -> list[Path]:
    d = shared_data / "nautilus_trader" / "binance"
    return [d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"]


def point_at(ex: Any, port: int) -> Any:
    """Every REST and WS URL of the client goes to the local server, so ccxt cannot reach the internet."""

    def local(urls: dict[str, Any]) -> None:
        for name, url in urls.items():
            if isinstance(url, dict):
                local(url)
            elif isinstance(url, str):
                scheme = "ws" if url.startswith("wss") else "http"
                urls[name] = re.sub(r"^[a-z]+://[^/]+", f"{scheme}://127.0.0.1:{port}", url)

    local(ex.urls["api"])
    return ex


def rest_client(port: int, key: str = KEY, secret: str = SECRET) -> Any:
    return point_at(ccxta.binance({"apiKey": key, "secret": secret, "options": dict(OPTIONS)}), port)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=25))


@asynccontextmanager
async def serving(shared_data: Path, **kw: Any) -> AsyncIterator[ExchangeServer]:
    server = ExchangeServer(ServerConfig(accounts=[alice()], data=market_files(shared_data), **kw))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def ccxt_on(server: ExchangeServer) -> AsyncIterator[Any]:
    ex = rest_client(server.port)
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


async def listen(server: ExchangeServer, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    async with session.post(f"{server.url}/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY}) as r:
        key = (await r.json())["listenKey"]
    return await session.ws_connect(f"{server.ws_url}/ws/{key}")


async def reports(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < n:
        msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        if msg.get("e") == "executionReport":
            out.append(msg)
    return out


def test_ccxt_when_trading_on_local_server_then_book_orders_trades_and_balances_match_the_ledger(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv, ccxt_on(srv) as ex:
            assert list(ex.markets) == [SYMBOL]
            assert ex.markets[SYMBOL]["limits"]["cost"]["min"] == 5.0
            book = await ex.fetch_order_book(SYMBOL)
            depth = srv.exchange.depth("BTCUSDT", 100)
            assert book["bids"] == [[float(p), float(q)] for p, q in depth["bids"]]
            assert book["nonce"] == depth["lastUpdateId"]
            bid, ask = book["bids"][0][0], book["asks"][0]
            # market first: the venue's self-trade prevention would cancel our own resting buys otherwise
            mkt = await ex.create_order(SYMBOL, "market", "sell", 0.002)
            assert mkt["status"] == "closed" and mkt["filled"] == pytest.approx(0.002)
            assert mkt["fee"]["currency"] == "USDT" and mkt["fee"]["cost"] > 0
            rest = await ex.create_order(
                SYMBOL, "limit", "buy", 0.001, round(bid - 100, 2), {"newClientOrderId": "rest-1"}
            )
            assert rest["status"] == "open" and rest["clientOrderId"] == "rest-1"
            # partial fill: a limit buy at the ask for more than the ask's size takes the level and rests
            part = await ex.create_order(SYMBOL, "limit", "buy", round(ask[1] + 0.01, 6), ask[0])
            assert part["status"] == "open" and part["filled"] == pytest.approx(ask[1])
            assert part["remaining"] == pytest.approx(0.01)
            assert srv.exchange.ledger.orders[int(part["id"])].status == "PARTIALLY_FILLED"
            fetched = await ex.fetch_order(part["id"], SYMBOL)
            assert (fetched["status"], fetched["filled"]) == ("open", pytest.approx(ask[1]))
            assert len(await ex.fetch_open_orders(SYMBOL)) == 2
            canceled = await ex.cancel_order(part["id"], SYMBOL)
            assert canceled["status"] == "canceled"
            await ex.cancel_order(rest["id"], SYMBOL)
            assert await ex.fetch_open_orders(SYMBOL) == []
            extra = [await ex.create_order(SYMBOL, "limit", "sell", 0.001, 90000) for _ in range(2)]
            swept = await ex.cancel_all_orders(SYMBOL)
            assert sorted(o["id"] for o in swept) == sorted(o["id"] for o in extra)
            assert [srv.exchange.ledger.orders[int(o["id"])].status for o in extra] == ["CANCELED", "CANCELED"]
            trades = await ex.fetch_my_trades(SYMBOL)
            ledger = srv.exchange.ledger
            assert [int(t["id"]) for t in trades] == [t.trade_id for t in ledger.trades]
            assert {t["order"] for t in trades} == {part["id"], mkt["id"]}
            balance = await ex.fetch_balance()
            venue = srv.exchange.balances("alice")
            assert balance["BTC"]["total"] == pytest.approx(1 + ask[1] - 0.002)
            assert balance["USDT"]["free"] == pytest.approx(float(venue["USDT"][0]))
            assert balance["USDT"]["used"] == 0
            status = {o.client_order_id: o.status for o in ledger.orders.values()}
            assert status["rest-1"] == "CANCELED"
            assert ledger.orders[int(part["id"])].executed_qty == Decimal(str(ask[1]))

    run(scenario)


def test_ccxt_pro_when_watching_then_book_follows_diff_stream_and_orders_arrive_on_user_stream(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv:
            ex = point_at(ccxtpro.binance({"apiKey": KEY, "secret": SECRET, "options": dict(OPTIONS)}), srv.port)
            try:
                await ex.load_markets()
                watching = asyncio.create_task(ex.watch_order_book(SYMBOL))
                for _ in range(40):  # replay while ccxt subscribes, snapshots and syncs on U/u
                    await asyncio.sleep(0.02)
                    srv.replay.step(3)
                book = await asyncio.wait_for(watching, 5)
                await asyncio.sleep(0.1)
                depth = srv.exchange.depth("BTCUSDT", 5)
                assert ex.orderbooks[SYMBOL]["nonce"] == depth["lastUpdateId"]
                assert book["bids"][0] == [float(depth["bids"][0][0]), float(depth["bids"][0][1])]
                orders = asyncio.create_task(ex.watch_orders(SYMBOL))
                await asyncio.sleep(0.2)
                placed = await ex.create_order(SYMBOL, "market", "buy", 0.001)
                seen = await asyncio.wait_for(orders, 5)
                assert seen[-1]["id"] == placed["id"]
                assert seen[-1]["status"] == "closed" and seen[-1]["filled"] == pytest.approx(0.001)
            finally:
                await ex.close()

    run(scenario)


def test_user_stream_when_orders_trade_then_execution_reports_carry_binance_fields(shared_data: Path) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv, ccxt_on(srv) as ex, aiohttp.ClientSession() as http:
            ws = await listen(srv, http)
            await ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"newClientOrderId": "m-1"})
            new, fill = await reports(ws, 2)
            assert (new["x"], new["X"], new["t"], new["c"]) == ("NEW", "NEW", -1, "m-1")
            assert (fill["x"], fill["X"]) == ("TRADE", "FILLED")
            trade = srv.exchange.ledger.trades[-1]
            assert fill["t"] == trade.trade_id and fill["I"] == trade.execution_id
            assert Decimal(fill["z"]) == Decimal(fill["l"]) == Decimal("0.001")
            assert fill["N"] == "USDT" and Decimal(fill["n"]) == trade.commission
            assert fill["T"] == trade.time_ms and fill["E"] >= fill["T"]
            assert new["I"] != fill["I"]
            await ws.close()

    run(scenario)


def test_rate_limit_when_client_keeps_going_after_429_then_it_is_banned_with_418(shared_data: Path) -> None:
    async def scenario() -> None:
        limiter = WeightLimiter(capacity=28, window_s=60.0, ban_after=2, ban_s=120)
        async with serving(shared_data, limiter=limiter) as srv, ccxt_on(srv) as ex:  # exchangeInfo: weight 20
            await ex.fetch_order_book(SYMBOL)  # 5 -> 25 used
            assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] in ("24", "25")  # refill is continuous
            # ccxt's binance maps both 429 and 418 to DDoSProtection; the status is in the message
            with pytest.raises(ccxta.DDoSProtection, match=r"429 .*-1003"):
                await ex.fetch_order_book(SYMBOL)  # 5 more does not fit: 429
            assert int(ex.last_response_headers["Retry-After"]) >= 1
            for _strike in range(2):  # keeps going inside Retry-After
                with pytest.raises(ccxta.DDoSProtection, match="429"):
                    await ex.fetch_time()
            with pytest.raises(ccxta.DDoSProtection, match=r"418 .*banned until"):
                await ex.fetch_time()  # one strike too many: banned
            assert ex.last_response_headers["Retry-After"] == "120"

    run(scenario)


def test_submit_when_reply_dropped_after_booking_then_order_exists_and_query_by_client_id_finds_it(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("POST /api/v3/order", "drop_after_book", count=1)
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex:
            with pytest.raises(ccxta.NetworkError):
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "lost-1"})
            found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "lost-1"})
            assert found["clientOrderId"] == "lost-1" and found["status"] == "open"
            ledger = srv.exchange.ledger
            assert len(ledger.orders_by_client_id("alice", "lost-1")) == 1
            assert ledger.posts[("alice", "lost-1")] == 1

    run(scenario)


def test_submit_when_request_dropped_before_booking_then_no_order_and_query_says_not_found(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("POST /api/v3/order", "drop_before_book", count=1)
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex:
            with pytest.raises(ccxta.NetworkError):
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "gone-1"})
            with pytest.raises(ccxta.OrderNotFound):
                await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "gone-1"})
            assert srv.exchange.ledger.orders == {}

    run(scenario)


def test_submit_when_503_or_1007_after_booking_then_outcome_unknown_but_order_booked(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("POST /api/v3/order", "status", code=503, book=True, count=1)
        body = {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown."}
        plan.add("POST /api/v3/order", "status", code=408, body=body, book=True, count=1, skip=1)
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex:
            with pytest.raises(ccxta.ExchangeNotAvailable):
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "u-1"})
            with pytest.raises(ccxta.NetworkError):
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "u-2"})
            for cid in ("u-1", "u-2"):
                assert (await ex.fetch_order(None, SYMBOL, {"origClientOrderId": cid}))["status"] == "open"

    run(scenario)


def test_submit_when_reply_malformed_then_client_gets_no_order_id_but_order_is_booked(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("POST /api/v3/order", "malformed_body", count=1)
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex:
            reply = await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "half-1"})
            # ccxt does not raise on a cut-off body: it returns an order without id, the raw text in "info"
            assert reply["id"] is None and isinstance(reply["info"], str) and not reply["info"].endswith("}")
            assert (await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "half-1"}))["status"] == "open"
            assert len(srv.exchange.ledger.orders) == 1

    run(scenario)


def test_rest_when_plan_delays_then_429s_everything_for_a_window_then_client_sees_both(shared_data: Path) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex:
            plan.add("GET /api/v3/time", "delay", ms=300, count=1)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await ex.fetch_time()
            assert loop.time() - started >= 0.3
            plan.add("*", "status", code=429, headers={"Retry-After": "3"}, duration_ms=60_000, count=1)
            for call in (ex.fetch_time, ex.fetch_balance):
                with pytest.raises(ccxta.DDoSProtection, match="429"):
                    await call()
                assert ex.last_response_headers["Retry-After"] == "3"
            assert srv.exchange.ledger.orders == {}

    run(scenario)


def test_user_stream_when_plan_duplicates_and_reorders_then_fill_comes_first_and_three_times(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        plan = FaultPlan()
        plan.add("ws:user", "reorder_events", n=2, when={"e": "executionReport", "x": "NEW"}, count=1)
        plan.add("ws:user", "duplicate_event", n=3, when={"x": "TRADE"}, count=1)
        async with serving(shared_data, faults=plan) as srv, ccxt_on(srv) as ex, aiohttp.ClientSession() as http:
            ws = await listen(srv, http)
            await ex.create_order(SYMBOL, "market", "buy", 0.001)
            got = await reports(ws, 4)
            assert [m["X"] for m in got] == ["FILLED", "FILLED", "FILLED", "NEW"]
            assert len({(m["t"], m["I"]) for m in got[:3]}) == 1  # the same execution, three times
            assert len(srv.exchange.ledger.trades) == 1
            await ws.close()

    run(scenario)


def test_client_order_id_when_open_then_duplicate_rejected_and_reusable_once_closed(shared_data: Path) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv, ccxt_on(srv) as ex:
            first = await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "dup"})
            with pytest.raises(ccxta.InvalidOrder, match="Duplicate order sent"):
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "dup"})
            await ex.cancel_order(first["id"], SYMBOL)
            second = await ex.create_order(SYMBOL, "limit", "buy", 0.001, 30000, {"newClientOrderId": "dup"})
            assert second["id"] != first["id"]
            ledger = srv.exchange.ledger
            assert [o.status for o in ledger.orders_by_client_id("alice", "dup")] == ["CANCELED", "NEW"]
            assert ledger.posts[("alice", "dup")] == 3

    run(scenario)


def test_cancel_when_entry_latency_lets_a_fill_in_first_then_cancel_loses_the_race(shared_data: Path) -> None:
    async def scenario() -> None:
        latency = LatencyModel.from_dict({"order_entry": {"kind": "fixed", "a": 300}}, seed=1)
        async with serving(shared_data, latency=latency) as srv, ccxt_on(srv) as ex:
            bid = (await ex.fetch_order_book(SYMBOL))["bids"][0][0]
            order = await ex.create_order(SYMBOL, "limit", "buy", 0.001, bid)
            cancel = asyncio.create_task(ex.cancel_order(order["id"], SYMBOL))
            await asyncio.sleep(0.1)  # the cancel is on its way; a seller sweeps the bid meanwhile
            srv.exchange.on_trade("BTCUSDT", 1, bid, 5.0, True)
            with pytest.raises(ccxta.OrderNotFound):
                await cancel
            assert srv.exchange.ledger.orders[int(order["id"])].status == "FILLED"

    run(scenario)


def test_signed_requests_when_clock_ahead_or_secret_wrong_then_1021_and_1022(shared_data: Path) -> None:
    async def scenario() -> None:
        async with serving(shared_data) as srv, ccxt_on(srv) as ex:
            ex.options["timeDifference"] = -2000  # our clock 2 s ahead of the server's
            with pytest.raises(ccxta.InvalidNonce, match="-1021"):
                await ex.fetch_balance()
            ex.options["timeDifference"] = 0
            assert (await ex.fetch_balance())["BTC"]["total"] == 1
            wrong = rest_client(srv.port, KEY, "not-the-secret")
            stranger = rest_client(srv.port, "nobody", "x")
            try:
                wrong.markets, wrong.markets_by_id = ex.markets, ex.markets_by_id
                with pytest.raises(ccxta.AuthenticationError, match="-1022"):
                    await wrong.fetch_balance()
                with pytest.raises(ccxta.AuthenticationError, match="-2015"):
                    await stranger.fetch_balance()
            finally:
                await wrong.close()
                await stranger.close()

    run(scenario)


def test_debug_ledger_when_flag_set_then_served_and_without_flag_then_absent(shared_data: Path) -> None:
    async def scenario() -> None:
        async with serving(shared_data, debug=True) as srv, ccxt_on(srv) as ex, aiohttp.ClientSession() as http:
            await ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"newClientOrderId": "d-1"})
            async with http.get(f"{srv.url}/_sim/ledger") as r:
                snap = await r.json()
            assert [o["clientOrderId"] for o in snap["orders"]] == ["d-1"]
            assert snap["posts"] == [{"account": "alice", "clientOrderId": "d-1", "count": 1}]
            assert snap["orders"][0]["executedQty"] == "0.00100000"
            before = srv.replay.position
            async with http.post(f"{srv.url}/_sim/advance?n=5") as r:
                assert (await r.json())["played"] == 5 and srv.replay.position == before + 5
        async with (
            serving(shared_data) as srv,
            aiohttp.ClientSession() as http,
            http.get(f"{srv.url}/_sim/ledger") as r,
        ):
            assert r.status == 404

    run(scenario)


def test_cli_serve_when_started_as_subprocess_then_prints_port_and_ccxt_trades_on_it(
    shared_data: Path, tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(
        f'[[accounts]]\nname = "alice"\napi_key = "{KEY}"\nsecret = "{SECRET}"\n'
        'balances = { USDT = "1000", BTC = "0.5" }\n'
    )
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"endpoints": {"GET /api/v3/account": [{"action": "delay", "ms": 10}]}}))
    cmd = [sys.executable, "-m", "bot4.cli.exchange_commands", "serve", "--port", "0", "--accounts", str(accounts)]
    cmd += ["--fault-plan", str(plan), "--speed", "0"]
    for path in market_files(shared_data):
        cmd += ["--data", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["event"] == "listening" and line["host"] == "127.0.0.1" and line["port"] > 0

        async def scenario() -> None:
            ex = rest_client(line["port"])
            try:
                await ex.load_markets()
                order = await ex.create_order(SYMBOL, "market", "buy", 0.001)
                assert order["status"] == "closed"
                assert (await ex.fetch_balance())["BTC"]["total"] == pytest.approx(0.501)
            finally:
                await ex.close()

        run(scenario)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
