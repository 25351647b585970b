"""WebSocket streams: diff depth (``U``/``u``), trades and user data, with scripted stream faults.

Connections use Binance's paths: ``/ws/<stream>`` (raw), ``/stream?streams=a/b`` (combined, wrapped
as ``{"stream", "data"}``) and ``/ws/<listenKey>`` for the user stream; ``SUBSCRIBE`` /
``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` messages work on either. Faults from the plan
(``ws:depth``, ``ws:trade``, ``ws:user``) act on each event once, before it fans out to
subscribers; market data is sent after a seeded market-data latency, never out of order unless the
plan says so. aiohttp sends a ping every 20 s, as Binance does, and keeps sending them while a
``silent_stream`` fault holds the events back. Stream-ending faults (``server_shutdown``,
``listen_key_expired``, ``event_stream_terminated``) send Binance's event after the triggering one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from bot4.venues.sim.server.exchange import SimExchange
from bot4.venues.sim.server.faults import FaultPlan
from bot4.venues.sim.server.latency import LatencyModel

_CLOSE = object()


@dataclass(frozen=True, slots=True)
class _Raw:
    """A frame sent as is (a ``malformed_body`` fault: not valid JSON)."""

    text: str


@dataclass(eq=False)
class Subscriber:
    """One connection; ``mode`` picks the framing: raw, ``{"stream", "data"}`` or ``{"subscriptionId", "event"}``."""

    ws: web.WebSocketResponse
    mode: Literal["raw", "combined", "wsapi"]
    streams: dict[str, str] = field(default_factory=dict)  # key ("btcusdt@depth", "user:alice") -> name as asked
    queue: asyncio.Queue[tuple[float, object]] = field(default_factory=asyncio.Queue)
    last_due: float = 0.0


@dataclass(slots=True)
class _Hold:
    size: int
    held: list[dict[str, Any]] = field(default_factory=list)


class StreamHub:
    """Fans exchange events out to WebSocket subscribers, applying the fault plan and latency."""

    def __init__(self, exchange: SimExchange, faults: FaultPlan, latency: LatencyModel) -> None:
        self.exchange = exchange
        self.faults = faults
        self.latency = latency
        self.subscribers: list[Subscriber] = []
        self.listen_keys: dict[str, str] = {}  # listenKey -> account name
        self._holds: dict[str, _Hold] = {}
        self._key_seq = 0
        exchange.market_listeners.append(self._on_market)
        exchange.user_listeners.append(self._on_user)

    # -- listen keys -------------------------------------------------------------------------------

    def listen_key(self, account: str) -> str:
        """One key per account while it lives (Binance returns the same key until it expires)."""
        for key, name in self.listen_keys.items():
            if name == account:
                return key
        self._key_seq += 1
        key = hashlib.sha256(f"{account}:{self._key_seq}".encode()).hexdigest()[:60]
        self.listen_keys[key] = account
        return key

    def close_listen_key(self, key: str) -> bool:
        return self.listen_keys.pop(key, None) is not None

    # -- events in ---------------------------------------------------------------------------------

    def _on_market(self, stream: str, msg: dict[str, Any]) -> None:
        endpoint = "ws:depth" if stream.endswith("@depth") else "ws:trade"
        self._emit(endpoint, stream, msg, self.latency.market_data.sample_ms())

    def _on_user(self, account: str, msg: dict[str, Any]) -> None:
        self._emit("ws:user", f"user:{account}", msg, 0.0)

    def _emit(self, endpoint: str, key: str, msg: dict[str, Any], delay_ms: float) -> None:
        out, disconnect, malformed = [msg], False, False
        ends: list[tuple[str, dict[str, Any]]] = []  # (action, args): stream-ending actions after the event
        for rule in self.faults.firing(endpoint, msg, self.exchange.clock.monotonic_ns()):
            action = rule.action
            if action == "duplicate_event":
                out = out * max(1, int(rule.args.get("n", 2)))
            elif action in ("skip_update_id", "drop_event", "silent_stream"):
                out = []
            elif action == "delay":
                delay_ms += float(rule.args["ms"])
            elif action == "reorder_events":
                self._holds.setdefault(key, _Hold(max(2, int(rule.args.get("n", 2)))))
            elif action == "disconnect_at":
                disconnect = True
            elif action == "malformed_body":
                malformed = True
            elif action == "inject_level":
                out = [_with_level(m, rule.args) for m in out]
            elif action in ("server_shutdown", "listen_key_expired", "event_stream_terminated"):
                ends.append((action, rule.args))
        hold = self._holds.get(key)
        if hold is not None:
            hold.held.extend(out)
            if len(hold.held) < hold.size:
                return
            out = list(reversed(hold.held))
            del self._holds[key]
        for sub in list(self.subscribers):
            name = sub.streams.get(key)
            if name is None:
                continue
            for m in out:
                item: object = _wrap(sub, name, m)
                if malformed:
                    text = json.dumps(item)
                    item = _Raw(text[: max(1, len(text) // 2)])
                self._enqueue(sub, delay_ms, item)
            for action, args in ends:
                self._end(sub, key, name, action, args, delay_ms)
            if disconnect:
                self._enqueue(sub, delay_ms, _CLOSE)
        if any(action == "listen_key_expired" for action, _ in ends):
            account = key.removeprefix("user:")
            for lk in [k for k, name in self.listen_keys.items() if name == account]:
                del self.listen_keys[lk]

    def _end(self, sub: Subscriber, key: str, name: str, action: str, args: dict[str, Any], delay_ms: float) -> None:
        """Binance's stream-ending events: shutdown notice then close, listenKey expiry, WS-API termination."""
        now = self.exchange.now_ms()
        if action == "server_shutdown":
            self._enqueue(sub, delay_ms, _wrap(sub, name, {"e": "serverShutdown", "E": now}))
            after_s = delay_ms / 1000.0 + int(args.get("close_after_ms", 1000)) / 1000.0
            asyncio.get_running_loop().call_later(after_s, self._enqueue, sub, 0.0, _CLOSE)
            return
        if action == "listen_key_expired":
            event = {"e": "listenKeyExpired", "E": now, "listenKey": name}
        else:
            event = {"e": "eventStreamTerminated", "E": now}
        self._enqueue(sub, delay_ms, _wrap(sub, name, event))
        sub.streams.pop(key, None)  # no more events on this connection for that stream

    def _enqueue(self, sub: Subscriber, delay_ms: float, item: object) -> None:
        loop = asyncio.get_running_loop()
        due = max(loop.time() + delay_ms / 1000.0, sub.last_due)
        sub.last_due = due
        sub.queue.put_nowait((due, item))

    # -- connections -------------------------------------------------------------------------------

    def _stream_key(self, name: str) -> str | None:
        if name in self.listen_keys:
            return f"user:{self.listen_keys[name]}"
        parts = name.lower().split("@")
        if len(parts) >= 2 and parts[1] in ("depth", "trade") and parts[0].upper() in self.exchange.listings:
            return f"{parts[0]}@{parts[1]}"
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``/ws/{streams}`` and ``/stream?streams=``; a bare number in the path (ccxt's socket index) is none."""
        combined = request.path.startswith("/stream")
        raw = request.query.get("streams", "") if combined else request.match_info.get("streams", "")
        names = [n for n in raw.split("/") if n and not n.isdigit()]
        keys = {}
        for name in names:
            key = self._stream_key(name)
            if key is None:
                raise web.HTTPBadRequest(text=json.dumps({"code": -1121, "msg": f"Invalid stream name {name!r}."}))
            keys[key] = name
        ws = web.WebSocketResponse(heartbeat=20.0)
        sub = Subscriber(ws, "combined" if combined else "raw", keys)
        self.subscribers.append(sub)  # before the handshake: no event is lost between it and the first read
        await ws.prepare(request)
        await self.serve(sub, self._on_client_message)
        return ws

    async def serve(self, sub: Subscriber, on_text: Callable[[Subscriber, str], Awaitable[None]]) -> None:
        """Run the writer of registered ``sub`` and hand each text frame to ``on_text`` until it closes."""
        writer = asyncio.create_task(self._writer(sub))
        try:
            async for msg in sub.ws:
                if msg.type is WSMsgType.TEXT:
                    await on_text(sub, msg.data)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.subscribers.remove(sub)

    async def _on_client_message(self, sub: Subscriber, text: str) -> None:
        try:
            req = json.loads(text)
            method, ident = req["method"], req.get("id")
            params = req.get("params", [])
        except (ValueError, KeyError, TypeError):
            await sub.ws.send_str(json.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": None}))
            return
        if method == "LIST_SUBSCRIPTIONS":
            await sub.ws.send_str(json.dumps({"result": list(sub.streams.values()), "id": ident}))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            await sub.ws.send_str(json.dumps({"error": {"code": 2, "msg": f"Invalid request: {method}"}, "id": ident}))
            return
        for name in params:
            key = self._stream_key(str(name))
            if key is None:
                await sub.ws.send_str(json.dumps({"error": {"code": 2, "msg": f"Invalid stream {name}"}, "id": ident}))
                return
            if method == "SUBSCRIBE":
                sub.streams[key] = str(name)
            else:
                sub.streams.pop(key, None)
        await sub.ws.send_str(json.dumps({"result": None, "id": ident}))

    async def _writer(self, sub: Subscriber) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, item = await sub.queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if item is _CLOSE:
                await sub.ws.close()
                return
            if sub.ws.closed:
                return
            await sub.ws.send_str(item.text if isinstance(item, _Raw) else json.dumps(item))

    async def close(self) -> None:
        for sub in list(self.subscribers):
            await sub.ws.close()


def _with_level(msg: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A copy of a depth event with one more (possibly invalid) level on side ``b`` or ``a``."""
    side = str(args["side"])
    out = dict(msg)
    out[side] = [*msg.get(side, []), [str(args["price"]), str(args["qty"])]]
    return out


def _wrap(sub: Subscriber, name: str, msg: dict[str, Any]) -> dict[str, Any]:
    if sub.mode == "combined":
        return {"stream": name, "data": msg}
    if sub.mode == "wsapi":
        return {"subscriptionId": int(name), "event": msg}
    return msg
