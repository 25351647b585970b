"""``VenueClient`` over Binance-spot REST (the local exchange server, or anything speaking that API).

Synchronous and standard-library only (``http.client``): one request at a time, so the crash point
``order.sent`` can fire exactly after the request is written and before the answer is read. REST
only: no user stream here, the order manager's ``poll`` and recovery settle everything by query.

Error mapping (reliability.md 1.4): a transport error, timeout, 5xx, ``-1007`` or ``-1006`` on a write
is an unknown outcome; on a read it is retryable. ``-2013`` on a query is a definite "not found".
``-2010``/``-2011``/``-1013``… are definite refusals; 401/403 and key errors are fatal; 429/418 retryable.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot4.execution.crashpoints import crashpoint
from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError, VenueError
from bot4.execution.records import ExecReport, OrderSnapshot, VenueTrade
from bot4.execution.states import OmsStatus
from bot4.model.enums import Liquidity, OrderType, Side
from bot4.model.fill import Fill
from bot4.model.numbers import ZERO
from bot4.model.orders import Order
from bot4.model.ports import Clock

#: Binance order status (REST ``status``, stream ``X``) -> the order manager's status.
BINANCE_ORDER_STATUS = {
    "NEW": OmsStatus.ACCEPTED,
    "PENDING_NEW": OmsStatus.ACCEPTED,
    "PARTIALLY_FILLED": OmsStatus.PARTIALLY_FILLED,
    "FILLED": OmsStatus.FILLED,
    "CANCELED": OmsStatus.CANCELED,
    "PENDING_CANCEL": OmsStatus.ACCEPTED,
    "REJECTED": OmsStatus.REJECTED,
    "EXPIRED": OmsStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OmsStatus.EXPIRED,
}
_UNKNOWN_CODES = frozenset({-1006, -1007})
_FATAL_CODES = frozenset({-2014, -2015, -1022, -1021})
NOT_FOUND = -2013
MS = 1_000_000


class BinanceRestClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret: str,
        symbols: dict[str, str],
        clock: Clock,
        *,
        name: str = "BINANCE",
        timeout_s: float = 5.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"base_url: expected http://host:port (got {base_url!r})")
        self.name = name
        self._host, self._port = parts.hostname, parts.port or 80
        self._key, self._secret = api_key, secret
        self._symbol = dict(symbols)  # instrument id -> venue symbol
        self._instrument = {v: k for k, v in symbols.items()}
        self._clock = clock
        self._timeout = timeout_s
        self._cid_of: dict[int, str] = {}

    def set_listener(self, listener: Callable[[ExecReport], None]) -> None:
        pass  # REST only: nothing is pushed

    # -- requests --------------------------------------------------------------------------------

    def submit(self, order: Order) -> list[ExecReport]:
        p: dict[str, str] = {
            "symbol": self._sym(order.instrument_id),
            "side": order.side.value,
            "type": order.type.value,
            "newClientOrderId": order.client_order_id,
            "newOrderRespType": "FULL",
        }
        if order.quantity is not None:
            p["quantity"] = str(order.quantity)
        if order.quote_quantity is not None:
            p["quoteOrderQty"] = str(order.quote_quantity)
        if order.price is not None:
            p["price"] = str(order.price)
            p["timeInForce"] = order.time_in_force.value
        if order.trigger_price is not None:
            p["stopPrice"] = str(order.trigger_price)
        body = self._call("POST", "/api/v3/order", p, write=True, after_write="order.sent")
        return self._reports(body, order)

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        p = {"symbol": self._sym(instrument_id), "origClientOrderId": client_order_id}
        body = self._call("DELETE", "/api/v3/order", p, write=True)
        status = BINANCE_ORDER_STATUS.get(str(body.get("status")), OmsStatus.CANCELED)
        ts = int(body.get("transactTime", 0)) * MS
        return [ExecReport(client_order_id, status, 0, ts, instrument_id, Decimal(body.get("executedQty", "0")))]

    # -- queries ---------------------------------------------------------------------------------

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        try:
            body = self._call(
                "GET", "/api/v3/order", {"symbol": self._sym(instrument_id), "origClientOrderId": client_order_id}
            )
        except RejectedError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return self._snapshot(body)

    def open_orders(self) -> list[OrderSnapshot]:
        out = []
        for sym in sorted(self._instrument):
            rows = self._call("GET", "/api/v3/openOrders", {"symbol": sym})
            out += [self._snapshot(r) for r in rows]
        return out

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        sym = self._sym(instrument_id)
        rows = self._call("GET", "/api/v3/myTrades", {"symbol": sym, "fromId": str(since_seq + 1), "limit": "1000"})
        out = []
        for r in rows:
            oid = int(r["orderId"])
            cid = self._cid_of.get(oid)
            if cid is None:
                snap = self._call("GET", "/api/v3/order", {"symbol": sym, "orderId": str(oid)})
                cid = self._remember(snap)
            fill = Fill(
                str(r["id"]), cid, "", instrument_id, Side.BUY if r["isBuyer"] else Side.SELL, Decimal(r["qty"]),
                Decimal(r["price"]), Decimal(r["commission"]), str(r["commissionAsset"]),
                Liquidity.MAKER if r["isMaker"] else Liquidity.TAKER, int(r["time"]) * MS,
            )  # fmt: skip
            out.append(VenueTrade(fill, int(r["id"])))
        return out

    # -- translation -----------------------------------------------------------------------------

    def _sym(self, instrument_id: str) -> str:
        sym = self._symbol.get(instrument_id)
        if sym is None:
            raise ValueError(f"instrument_id: {instrument_id!r} has no symbol on {self.name}")
        return sym

    def _remember(self, body: dict[str, Any]) -> str:
        cid = str(body["clientOrderId"])
        self._cid_of[int(body["orderId"])] = cid
        return cid

    def _snapshot(self, body: dict[str, Any]) -> OrderSnapshot:
        cid = self._remember(body)
        price = Decimal(body["price"])
        return OrderSnapshot(
            cid, self._instrument[str(body["symbol"])], str(body["side"]), str(body["type"]),
            BINANCE_ORDER_STATUS[str(body["status"])], Decimal(body["origQty"]), Decimal(body["executedQty"]),
            price if price > 0 else None, int(body.get("updateTime", 0)) * MS,
        )  # fmt: skip

    def _reports(self, body: dict[str, Any], order: Order) -> list[ExecReport]:
        cid, iid = order.client_order_id, order.instrument_id
        self._remember(body)
        ts = int(body.get("transactTime", 0)) * MS
        status = BINANCE_ORDER_STATUS.get(str(body.get("status", "NEW")), OmsStatus.ACCEPTED)
        out = []
        cum = ZERO
        for f in body.get("fills", []):
            qty = Decimal(f["qty"])
            cum += qty
            fill = Fill(
                str(f["tradeId"]), cid, order.strategy_id, iid, order.side, qty, Decimal(f["price"]),
                Decimal(f["commission"]), str(f["commissionAsset"]),
                Liquidity.TAKER if order.type is not OrderType.LIMIT or status is OmsStatus.FILLED else Liquidity.MAKER,
                ts,
            )  # fmt: skip
            out.append(ExecReport(cid, None, 0, ts, iid, cum, fill, int(f["tradeId"])))
        out.append(ExecReport(cid, status, 0, ts, iid, Decimal(body.get("executedQty", "0"))))
        return out

    # -- HTTP ------------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, params: dict[str, str], *, write: bool = False, after_write: str = ""
    ) -> Any:
        q = dict(params)
        q["timestamp"] = str(self._clock.now_ns() // MS)
        q["recvWindow"] = "5000"
        query = urlencode(q)
        query += "&signature=" + hmac.new(self._secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            try:
                conn.request(method, f"{path}?{query}", headers={"X-MBX-APIKEY": self._key})
            except OSError as exc:
                raise RetryableError(f"{method} {path}: could not send ({exc})") from exc  # nothing left us
            if after_write:
                crashpoint(after_write)
            try:
                resp = conn.getresponse()
                status, raw = resp.status, resp.read()
            except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
                kind = UnknownOutcomeError if write else RetryableError
                raise kind(f"{method} {path}: no answer ({type(exc).__name__}: {exc})") from exc
        finally:
            conn.close()
        return _decode(method, path, status, raw, write)


def _decode(method: str, path: str, status: int, raw: bytes, write: bool) -> Any:
    where = f"{method} {path}"
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = None
    if status >= 500:
        raise (UnknownOutcomeError if write else RetryableError)(f"{where}: HTTP {status}")
    if status in (429, 418):
        raise RetryableError(f"{where}: rate limited (HTTP {status})")
    if body is None:
        raise (UnknownOutcomeError if write else RetryableError)(f"{where}: malformed body (HTTP {status})")
    if status == 200:
        return body
    code = int(body.get("code", 0)) if isinstance(body, dict) else 0
    msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
    if code in _UNKNOWN_CODES:
        raise (UnknownOutcomeError if write else RetryableError)(f"{where}: {code} {msg}")
    if code in _FATAL_CODES or status in (401, 403):
        raise FatalError(f"{where}: {code} {msg} (HTTP {status})")
    if 400 <= status < 500:
        raise RejectedError(code, msg)
    raise VenueError(f"{where}: unexpected HTTP {status}: {msg}")
