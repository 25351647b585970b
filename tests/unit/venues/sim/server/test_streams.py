"""WebSocket streams of the in-process server: diff depth U/u, combined framing, stream faults, WS API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, LatencyModel, ManualClock, ServerConfig, sign

SYM = "BTCUSDT"


def config(shared_data: Path, **kw: Any) -> ServerConfig:
    d = shared_data / "nautilus_trader" / "binance"
    acct = Account("a", "k", "s", {"USDT": Decimal(1000)})
    return ServerConfig(accounts=[acct], data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"], **kw)


Scenario = Callable[[ExchangeServer, aiohttp.ClientSession], Awaitable[None]]


def run(cfg: ServerConfig, scenario: Scenario) -> None:
    async def main() -> None:
        async with ExchangeServer(cfg) as srv, aiohttp.ClientSession() as http:
            await scenario(srv, http)

    asyncio.run(asyncio.wait_for(main(), 15))


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> Any:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    return json.loads(msg.data) if msg.type is aiohttp.WSMsgType.TEXT else msg.type


def quotes(srv: ExchangeServer, n: int) -> None:
    for _ in range(n):
        srv.replay.step_until("quote")


def test_depth_stream_when_skip_update_id_fault_then_client_sees_a_gap_in_u(shared_data: Path) -> None:
    plan = FaultPlan()

    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        plan.add("ws:depth", "skip_update_id", skip=1, count=1)  # after warm-up: rules count every event
        ws = await http.ws_connect(f"{srv.ws_url}/ws/btcusdt@depth@100ms")
        start = srv.exchange.update_ids[SYM]
        while srv.exchange.update_ids[SYM] < start + 3:
            quotes(srv, 1)
        got = [await recv(ws) for _ in range(2)]
        assert [(m["U"], m["u"]) for m in got] == [(start + 1, start + 1), (start + 3, start + 3)]
        await ws.close()

    run(config(shared_data, faults=plan), scenario)


def test_combined_stream_when_trades_then_wrapped_with_stream_name_in_order(shared_data: Path) -> None:
    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(f"{srv.ws_url}/stream?streams=btcusdt@trade")
        srv.replay.step_until("trade")
        srv.replay.step_until("trade")
        a, b = await recv(ws), await recv(ws)
        assert a["stream"] == "btcusdt@trade" and a["data"]["e"] == "trade"
        assert b["data"]["t"] == a["data"]["t"] + 1
        await ws.close()

    run(
        config(shared_data, latency=LatencyModel.from_dict({"market_data": {"kind": "uniform", "a": 0, "b": 40}}, 3)),
        scenario,
    )


def test_subscribe_message_when_sent_on_bare_socket_then_acknowledged_and_listed(shared_data: Path) -> None:
    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(f"{srv.ws_url}/ws")
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
        assert await recv(ws) == {"result": None, "id": 1}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await recv(ws) == {"result": ["btcusdt@trade"], "id": 2}
        srv.replay.step_until("trade")
        assert (await recv(ws))["e"] == "trade"
        await ws.close()

    run(config(shared_data), scenario)


def test_trade_stream_when_silent_stream_then_events_stop_for_the_window_then_resume(shared_data: Path) -> None:
    clock = ManualClock()
    plan = FaultPlan()

    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        plan.add("ws:trade", "silent_stream", duration_ms=1000, count=1)
        ws = await http.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade")
        for _ in range(3):
            srv.replay.step_until("trade")
        with pytest.raises(asyncio.TimeoutError):
            await recv(ws, timeout=0.2)
        clock.advance(1_000_000_000)
        srv.replay.step_until("trade")
        assert (await recv(ws))["e"] == "trade"
        await ws.close()

    run(config(shared_data, faults=plan, clock=clock), scenario)


def test_trade_stream_when_disconnect_at_then_socket_closes_after_that_event(shared_data: Path) -> None:
    plan = FaultPlan()

    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        plan.add("ws:trade", "disconnect_at", skip=1, count=1)
        ws = await http.ws_connect(f"{srv.ws_url}/ws/btcusdt@trade")
        srv.replay.step_until("trade")
        srv.replay.step_until("trade")
        assert (await recv(ws))["e"] == "trade"
        assert (await recv(ws))["e"] == "trade"
        assert await recv(ws) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(config(shared_data, faults=plan), scenario)


def test_ws_api_when_subscribe_signature_wrong_then_1022_and_right_then_subscription_id(shared_data: Path) -> None:
    clock = ManualClock()

    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(f"{srv.ws_url}/ws-api/v3")
        ts = clock.now_ns() // 1_000_000
        params = {"apiKey": "k", "timestamp": ts, "signature": "00"}
        await ws.send_str(json.dumps({"id": "1", "method": "userDataStream.subscribe.signature", "params": params}))
        bad = await recv(ws)
        assert (bad["status"], bad["error"]["code"]) == (400, -1022)
        params["signature"] = sign("s", f"apiKey=k&timestamp={ts}")
        await ws.send_str(json.dumps({"id": "2", "method": "userDataStream.subscribe.signature", "params": params}))
        assert await recv(ws) == {"id": "2", "status": 200, "result": {"subscriptionId": 0}}
        await ws.close()

    run(config(shared_data, clock=clock), scenario)


def test_server_when_host_not_loopback_then_refused(shared_data: Path) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        ExchangeServer(config(shared_data, host="0.0.0.0"))


def test_listen_key_when_deleted_then_keepalive_says_1125(shared_data: Path) -> None:
    async def scenario(srv: ExchangeServer, http: aiohttp.ClientSession) -> None:
        url, hdr = f"{srv.url}/api/v3/userDataStream", {"X-MBX-APIKEY": "k"}
        async with http.post(url, headers=hdr) as r:
            key = (await r.json())["listenKey"]
        async with http.put(url, headers=hdr, params={"listenKey": key}) as r:
            assert r.status == 200
        async with http.delete(url, headers=hdr, params={"listenKey": key}) as r:
            assert r.status == 200
        async with http.put(url, headers=hdr, params={"listenKey": key}) as r:
            assert (r.status, (await r.json())["code"]) == (400, -1125)
        async with http.post(url) as r:
            assert (r.status, (await r.json())["code"]) == (401, -2014)

    run(config(shared_data), scenario)
