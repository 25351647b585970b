"""The WebSocket API's user-data subscription (``/ws-api/v3``), which replaced the listenKey stream.

Binance deprecated ``listenKey`` on 2025-04-07; clients (ccxt.pro among them) now send
``userDataStream.subscribe.signature`` with a signed ``apiKey``/``timestamp`` and then receive
``{"subscriptionId": n, "event": {...}}``. ``ping``, ``time`` and ``userDataStream.unsubscribe`` are
served too; anything else gets Binance's "unknown method" error.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.signing import ApiError, find_account, verify_ws
from bot4.venues.sim.server.streams import StreamHub, Subscriber


class WsApi:
    """Answers WS API requests on one hub; subscription ids count up per connection, from 0."""

    def __init__(self, hub: StreamHub, keys: dict[str, Account]) -> None:
        self.hub = hub
        self.keys = keys

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        sub = Subscriber(ws, "wsapi")
        self.hub.subscribers.append(sub)
        await ws.prepare(request)
        await self.hub.serve(sub, self._on_text)
        return ws

    async def _on_text(self, sub: Subscriber, text: str) -> None:
        try:
            req = json.loads(text)
            ident, method = req.get("id"), req["method"]
            params = req.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError("params must be an object")
        except (ValueError, KeyError, TypeError, AttributeError):
            await _send(sub, {"id": None, "status": 400, "error": {"code": -1000, "msg": "Invalid JSON request."}})
            return
        try:
            result = self._call(sub, str(method), {str(k): str(v) for k, v in params.items()})
        except ApiError as exc:
            await _send(sub, {"id": ident, "status": exc.http_status, "error": {"code": exc.code, "msg": exc.msg}})
            return
        await _send(sub, {"id": ident, "status": 200, "result": result})

    def _call(self, sub: Subscriber, method: str, params: dict[str, str]) -> Any:
        exchange = self.hub.exchange
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": exchange.now_ms()}
        if method == "userDataStream.subscribe.signature":
            account = find_account(self.keys, params.get("apiKey"))
            verify_ws(account, params, exchange.now_ms())
            sub_id = len(sub.streams)
            sub.streams[f"user:{account.name}"] = str(sub_id)
            return {"subscriptionId": sub_id}
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            for key, name in list(sub.streams.items()):
                if wanted is None or name == wanted:
                    del sub.streams[key]
            return {}
        raise ApiError(400, -1000, f"Unknown method {method!r}.")


async def _send(sub: Subscriber, msg: dict[str, Any]) -> None:
    if not sub.ws.closed:
        await sub.ws.send_str(json.dumps(msg))
