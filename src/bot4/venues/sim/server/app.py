"""The Binance-spot-compatible REST API of the local exchange, on aiohttp.

Request path (each step can end the request, as on the real venue): scripted faults for the
endpoint (``delay``, ``status``, ``drop_before_book``) -> request-weight limit (429/418 with
``Retry-After``) -> API key and signature/time window (-2014/-2015, -1022, -1021) -> order-entry
latency -> the exchange -> ``drop_after_book`` / ``malformed_body`` -> ack latency -> reply with
``X-MBX-USED-WEIGHT-1M`` (and ``X-MBX-ORDER-COUNT-10S``/``-1D`` on orders).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.exchange import SimExchange
from bot4.venues.sim.server.faults import FaultPlan
from bot4.venues.sim.server.klines import KlineBook
from bot4.venues.sim.server.latency import LatencyModel
from bot4.venues.sim.server.ratelimit import WeightLimiter
from bot4.venues.sim.server.records import OrderRecord, fmt
from bot4.venues.sim.server.replay import Replay
from bot4.venues.sim.server.signing import ApiError, find_account, mandatory, verify
from bot4.venues.sim.server.streams import StreamHub
from bot4.venues.sim.server.wsapi import WsApi

Security = Literal["NONE", "USER_STREAM", "SIGNED"]
Params = dict[str, str]
Handler = Callable[[Account | None, Params], Awaitable[Any]]

_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (5000, 250))


class Dropped(Exception):
    """The connection was closed on purpose (a drop fault); nothing is sent."""


class ExchangeApp:
    """Wires exchange, limits, faults, latency and streams into an ``aiohttp`` application."""

    def __init__(
        self,
        exchange: SimExchange,
        *,
        replay: Replay | None = None,
        faults: FaultPlan | None = None,
        latency: LatencyModel | None = None,
        limiter: WeightLimiter | None = None,
        debug: bool = False,
    ) -> None:
        self.exchange = exchange
        self.replay = replay
        self.faults = faults or FaultPlan()
        self.latency = latency or LatencyModel.zero()
        self.limiter = limiter or WeightLimiter()
        self.hub = StreamHub(exchange, self.faults, self.latency)
        self.keys = {a.api_key: a for a in exchange.accounts.values()}
        self._order_times: dict[str, deque[int]] = {}
        self._order_days: dict[str, int] = {}
        app = web.Application()
        r = app.router
        ex = self._endpoint
        r.add_get("/api/v3/ping", ex("GET /api/v3/ping", 1, "NONE", self._ping))
        r.add_get("/api/v3/time", ex("GET /api/v3/time", 1, "NONE", self._time))
        r.add_get("/api/v3/exchangeInfo", ex("GET /api/v3/exchangeInfo", 20, "NONE", self._exchange_info))
        r.add_get("/api/v3/depth", ex("GET /api/v3/depth", _depth_weight, "NONE", self._depth))
        self.klines = KlineBook()  # candle files are added by ExchangeServer (ServerConfig.candles)
        r.add_get("/api/v3/klines", ex("GET /api/v3/klines", 2, "NONE", self.klines.handle))
        r.add_post("/api/v3/order", ex("POST /api/v3/order", 1, "SIGNED", self._post_order))
        r.add_get("/api/v3/order", ex("GET /api/v3/order", 4, "SIGNED", self._get_order))
        r.add_delete("/api/v3/order", ex("DELETE /api/v3/order", 1, "SIGNED", self._delete_order))
        r.add_get("/api/v3/openOrders", ex("GET /api/v3/openOrders", _open_weight, "SIGNED", self._open_orders))
        r.add_delete("/api/v3/openOrders", ex("DELETE /api/v3/openOrders", 1, "SIGNED", self._cancel_all))
        r.add_get("/api/v3/myTrades", ex("GET /api/v3/myTrades", 20, "SIGNED", self._my_trades))
        r.add_get("/api/v3/account", ex("GET /api/v3/account", 20, "SIGNED", self._account))
        r.add_get(
            "/sapi/v1/account/apiRestrictions",
            ex("GET /sapi/v1/account/apiRestrictions", 1, "SIGNED", self._restrictions),
        )
        uds = "/api/v3/userDataStream"
        r.add_post(uds, ex(f"POST {uds}", 2, "USER_STREAM", self._new_listen_key))
        r.add_put(uds, ex(f"PUT {uds}", 2, "USER_STREAM", self._keep_listen_key))
        r.add_delete(uds, ex(f"DELETE {uds}", 2, "USER_STREAM", self._close_listen_key))
        r.add_get("/ws", self.hub.handle)
        r.add_get("/ws/{streams:.*}", self.hub.handle)
        r.add_get("/stream", self.hub.handle)
        r.add_get("/ws-api/v3", WsApi(self.hub, self.keys).handle)
        if debug:
            r.add_get("/_sim/ledger", self._debug_ledger)
            r.add_post("/_sim/advance", self._debug_advance)
        app.on_shutdown.append(self._on_shutdown)
        self.app = app

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self.hub.close()

    # -- the request pipeline ----------------------------------------------------------------------

    def _endpoint(
        self, key: str, weight: int | Callable[[Params], int], security: Security, fn: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                return await self._run(request, key, weight, security, fn)
            except Dropped:
                return web.Response(status=500)  # never reaches the client: the socket is closed

        return handler

    async def _run(
        self,
        request: web.Request,
        key: str,
        weight: int | Callable[[Params], int],
        security: Security,
        fn: Handler,
    ) -> web.StreamResponse:
        raw_body = (await request.text()) if request.can_read_body else ""
        raw_query = request.rel_url.raw_query_string
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        clock = self.exchange.clock
        drop_after = malformed = False
        late_status: dict[str, Any] | None = None
        for rule in self.faults.firing(key, params, clock.monotonic_ns()):
            if rule.action == "delay":
                await asyncio.sleep(rule.args["ms"] / 1000.0)
            elif rule.action == "status" and rule.args.get("book"):
                late_status = rule.args
            elif rule.action == "status":
                return _status_fault(rule.args)
            elif rule.action == "drop_before_book":
                _drop(request)
            elif rule.action == "drop_after_book":
                drop_after = True
            elif rule.action == "malformed_body":
                malformed = True
        w = weight(params) if callable(weight) else weight
        verdict = self.limiter.check(request.remote or "?", w, clock.monotonic_ns())
        headers = {"X-MBX-USED-WEIGHT-1M": str(verdict.used)}
        if verdict.status != 200:
            headers["Retry-After"] = str(verdict.retry_after_s)
            ip = request.remote or "?"
            if verdict.status == 418:
                until = clock.now_ns() // 1_000_000 + verdict.retry_after_s * 1000
                msg = f"Way too many requests; IP({ip}) banned until {until}. Please use WebSocket Streams."
            else:
                msg = f"Too many requests; current limit of IP({ip}) is {self.limiter.capacity} requests per minute."
            return _json({"code": -1003, "msg": msg}, verdict.status, headers)
        try:
            account = self._authenticate(request, security, raw_query, raw_body, params)
            if key == "POST /api/v3/order" and account is not None:
                headers.update(self._count_order(account.name))
                await _sleep_ms(self.latency.order_entry.sample_ms())
            elif key == "DELETE /api/v3/order":
                await _sleep_ms(self.latency.order_entry.sample_ms())
            result = await fn(account, params)
        except ApiError as exc:
            return _json({"code": exc.code, "msg": exc.msg}, exc.http_status, headers)
        if drop_after:
            _drop(request)
        if late_status is not None:
            return _status_fault(late_status)
        await _sleep_ms(self.latency.ack.sample_ms())
        if malformed:
            text = json.dumps(result)
            return web.Response(text=text[: max(1, len(text) // 2)], content_type="application/json", headers=headers)
        return _json(result, 200, headers)

    def _authenticate(
        self, request: web.Request, security: Security, raw_query: str, raw_body: str, params: Params
    ) -> Account | None:
        if security == "NONE":
            return None
        account = find_account(self.keys, request.headers.get("X-MBX-APIKEY"))
        if security == "SIGNED":
            verify(account, raw_query, raw_body, params, self.exchange.now_ms())
        return account

    def _count_order(self, account: str) -> dict[str, str]:
        now = self.exchange.clock.monotonic_ns()
        times = self._order_times.setdefault(account, deque())
        times.append(now)
        while times and now - times[0] > 10_000_000_000:
            times.popleft()
        self._order_days[account] = self._order_days.get(account, 0) + 1
        return {"X-MBX-ORDER-COUNT-10S": str(len(times)), "X-MBX-ORDER-COUNT-1D": str(self._order_days[account])}

    # -- public ------------------------------------------------------------------------------------

    async def _ping(self, _a: Account | None, _p: Params) -> Any:
        return {}

    async def _time(self, _a: Account | None, _p: Params) -> Any:
        return {"serverTime": self.exchange.now_ms()}

    async def _exchange_info(self, _a: Account | None, p: Params) -> Any:
        symbols = [li.exchange_info() for li in self.exchange.listings.values()]
        wanted = p.get("symbol")
        if wanted:
            symbols = [s for s in symbols if s["symbol"] == wanted]
            if not symbols:
                raise ApiError(400, -1121, "Invalid symbol.")
        cap = self.limiter.capacity
        return {
            "timezone": "UTC",
            "serverTime": self.exchange.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": cap},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    async def _depth(self, _a: Account | None, p: Params) -> Any:
        sym = self.exchange.symbol(p)
        limit = _int(p, "limit", 100)
        if not 1 <= limit <= 5000:
            raise ApiError(
                400, -1100, f"Illegal characters found in parameter 'limit'; legal range is 1-5000, got {limit}."
            )
        return self.exchange.depth(sym, limit)

    # -- trading -----------------------------------------------------------------------------------

    async def _post_order(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        resp_type = p.get("newOrderRespType") or ("FULL" if p.get("type") in ("MARKET", "LIMIT") else "ACK")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise ApiError(400, -1100, "Illegal characters found in parameter 'newOrderRespType'.")
        return self.exchange.place(a.name, p).to_result(resp_type)

    async def _get_order(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        return self.exchange.find(a.name, p).to_json()

    async def _delete_order(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        rec = self.exchange.cancel(a.name, p)
        return _cancel_json(rec, p.get("newClientOrderId") or f"cancel{rec.order_id}", self.exchange.now_ms())

    async def _open_orders(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        sym = self.exchange.symbol(p) if p.get("symbol") else None
        return [o.to_json() for o in self.exchange.open_orders(a.name, sym)]

    async def _cancel_all(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        sym = self.exchange.symbol(p)
        recs = self.exchange.open_orders(a.name, sym)
        if not recs:
            raise ApiError(400, -2011, "Unknown order sent.")
        now = self.exchange.now_ms()
        out = []
        for rec in recs:
            self.exchange.cancel(a.name, {"symbol": sym, "orderId": str(rec.order_id)})
            out.append(_cancel_json(rec, f"cancel{rec.order_id}", now))
        return out

    async def _my_trades(self, a: Account | None, p: Params) -> Any:
        assert a is not None
        sym = self.exchange.symbol(p)
        limit = _int(p, "limit", 500)
        if not 1 <= limit <= 1000:
            raise ApiError(
                400, -1100, f"Illegal characters found in parameter 'limit'; legal range is 1-1000, got {limit}."
            )
        rows = [t for t in self.exchange.ledger.trades if t.account == a.name and t.symbol == sym]
        if "orderId" in p:
            oid = _int(p, "orderId", 0)
            rows = [t for t in rows if t.order_id == oid]
        if "fromId" in p:
            from_id = _int(p, "fromId", 0)
            rows = [t for t in rows if t.trade_id >= from_id]
        if "startTime" in p:
            rows = [t for t in rows if t.time_ms >= _int(p, "startTime", 0)]
        if "endTime" in p:
            rows = [t for t in rows if t.time_ms <= _int(p, "endTime", 0)]
        if "fromId" not in p and "startTime" in p and "endTime" not in p:
            rows = rows[:limit]
        else:
            rows = rows[:limit] if "fromId" in p else rows[-limit:]
        return [t.to_json() for t in rows]

    async def _account(self, a: Account | None, _p: Params) -> Any:
        assert a is not None
        li = next(iter(self.exchange.listings.values()))
        maker, taker = fmt(li.maker_fee), fmt(li.taker_fee)
        return {
            "makerCommission": int(li.maker_fee * 10000),
            "takerCommission": int(li.taker_fee * 10000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": maker, "taker": taker, "buyer": fmt(None), "seller": fmt(None)},
            "canTrade": True,
            "canWithdraw": a.enable_withdrawals,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.exchange.now_ms(),
            "accountType": "SPOT",
            "balances": [
                {"asset": c, "free": fmt(free), "locked": fmt(locked)}
                for c, (free, locked) in self.exchange.balances(a.name).items()
            ],
            "permissions": ["SPOT"],
            "uid": 1000 + sorted(self.exchange.accounts).index(a.name),
        }

    async def _restrictions(self, a: Account | None, _p: Params) -> Any:
        assert a is not None
        return {
            "ipRestrict": a.ip_restrict,
            "createTime": 1_600_000_000_000,
            "enableReading": True,
            "enableSpotAndMarginTrading": True,
            "enableWithdrawals": a.enable_withdrawals,
            "enableInternalTransfer": False,
            "enableMargin": False,
            "enableFutures": False,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
            "enableFixApiTrade": False,
            "enableFixReadOnly": False,
            "enablePortfolioMarginTrading": False,
        }

    async def _new_listen_key(self, a: Account | None, _p: Params) -> Any:
        assert a is not None
        return {"listenKey": self.hub.listen_key(a.name)}

    async def _keep_listen_key(self, a: Account | None, p: Params) -> Any:
        self._own_listen_key(a, p)
        return {}

    async def _close_listen_key(self, a: Account | None, p: Params) -> Any:
        self.hub.close_listen_key(self._own_listen_key(a, p))
        return {}

    def _own_listen_key(self, a: Account | None, p: Params) -> str:
        assert a is not None
        key = p.get("listenKey")
        if not key:
            raise mandatory("listenKey")
        if self.hub.listen_keys.get(key) != a.name:
            raise ApiError(400, -1125, "This listenKey does not exist.")
        return key

    # -- debug (tests only, behind a flag) -----------------------------------------------------------

    async def _debug_ledger(self, _request: web.Request) -> web.Response:
        snap = self.exchange.ledger.snapshot()
        snap["balances"] = {
            name: {c: [fmt(f), fmt(lk)] for c, (f, lk) in self.exchange.balances(name).items()}
            for name in self.exchange.accounts
        }
        return _json(snap, 200, {})

    async def _debug_advance(self, request: web.Request) -> web.Response:
        if self.replay is None:
            return _json({"error": "no market data loaded"}, 400, {})
        try:
            n = int(request.query.get("n", "1"))
        except ValueError:
            return _json({"error": f"n must be an integer (got {request.query.get('n')!r})"}, 400, {})
        played = self.replay.step(n)
        return _json({"played": played, "position": self.replay.position, "total": len(self.replay.events)}, 200, {})


def _json(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json", headers=headers)


def _status_fault(args: dict[str, Any]) -> web.Response:
    code = int(args["code"])
    body = args.get("body")
    if body is None:
        body = {"code": -1003, "msg": "Too many requests."} if code in (418, 429) else ""
    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(text=text, status=code, content_type="application/json", headers=headers)


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
    raise Dropped


async def _sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)


def _int(p: Params, name: str, default: int) -> int:
    raw = p.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; got {raw!r}.") from None


def _depth_weight(p: Params) -> int:
    try:
        limit = int(p.get("limit") or 100)
    except ValueError:
        return 5
    return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 250)


def _open_weight(p: Params) -> int:
    return 6 if p.get("symbol") else 80


def _cancel_json(rec: OrderRecord, new_client_id: str, now_ms: int) -> dict[str, Any]:
    return {
        "symbol": rec.symbol,
        "origClientOrderId": rec.client_order_id,
        "orderId": rec.order_id,
        "orderListId": -1,
        "clientOrderId": new_client_id,
        "transactTime": now_ms,
        "price": fmt(rec.price),
        "origQty": fmt(rec.orig_qty),
        "executedQty": fmt(rec.executed_qty),
        "cummulativeQuoteQty": fmt(rec.cum_quote),
        "status": rec.status,
        "timeInForce": rec.time_in_force,
        "type": rec.type,
        "side": rec.side,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


__all__ = ["Dropped", "ExchangeApp"]
