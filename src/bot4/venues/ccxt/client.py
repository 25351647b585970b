"""``VenueClient`` over synchronous ccxt: one account on one exchange, REST only.

Every request goes through the ``RequestGate`` (installed around ccxt's transport, so requests ccxt
makes on its own are gated too) and signs with server-corrected time from ``TimeSync`` (ccxt's
``nonce``/``milliseconds`` are replaced on the instance: time comes from the injected clock). Errors
leave as ``bot4.execution.errors`` classes (``errors.classify``); nothing is retried except a read
refused for its timestamp (-1021), once, after a re-sync. Writes are never re-sent.
"""

from __future__ import annotations

import decimal
import difflib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import ccxt  # type: ignore[import-untyped]

from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError, VenueError
from bot4.execution.records import ExecReport, OrderSnapshot, VenueTrade
from bot4.model.enums import OrderType
from bot4.model.errors import ConfigError
from bot4.model.instrument import Instrument, make_instrument_id
from bot4.model.orders import Order
from bot4.venues.ccxt import mapping
from bot4.venues.ccxt.errors import NOT_FOUND, RateLimitedError, TimeSyncError, classify, scrub
from bot4.venues.ccxt.gate import Priority, RequestGate
from bot4.venues.ccxt.limits import VenueLimits, parse_rate_limits
from bot4.venues.ccxt.overrides import overrides_for
from bot4.venues.ccxt.settings import VenueSettings
from bot4.venues.ccxt.timesync import SyncClock, TimeSync

T = TypeVar("T")
MS = 1_000_000
MAX_TRADE_PAGES = 50
FORBIDDEN_PERMISSIONS = ("enableWithdrawals", "enableInternalTransfer", "permitsUniversalTransfer")
log = logging.getLogger(__name__)
# ccxt logs every request at DEBUG with its headers (the API key) and signed URL: never let that through
_WIRE_LOG = logging.getLogger("bot4.venues.ccxt.wire")
_WIRE_LOG.setLevel(logging.INFO)


class _RedactSignatures(logging.Filter):
    """urllib3 logs each request line (a GET's signed query) at DEBUG: keep the line, drop the signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "signature=" in text:
            record.msg, record.args = scrub(text), ()
        return True


_URLLIB3 = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactSignatures) for f in _URLLIB3.filters):
    _URLLIB3.addFilter(_RedactSignatures())


def build_exchange(settings: VenueSettings, api_key: str, secret: str) -> Any:
    """A ccxt exchange for ``settings``: TLS verified, ccxt's own retries off, URLs local only if overridden."""
    ov = overrides_for(settings.exchange)
    options: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ov.options.items()}
    options["recvWindow"] = settings.recv_window_ms
    options["maxRetriesOnFailure"] = 0
    ex = getattr(ccxt, settings.exchange)(
        {
            "apiKey": api_key,
            "secret": secret,
            # ccxt's own throttle would sleep on the trading thread; our RequestGate tracks the venue's real
            # weight and order-count headers instead and refuses (never sleeps) near the limit.
            "enableRateLimit": False,
            "timeout": settings.timeout_ms,
            "options": options,
        }
    )
    ex.verify = True
    ex.logger = _WIRE_LOG
    ex.validateServerSsl = True
    if settings.url is not None:
        _point_at(ex.urls["api"], settings.url)
    return ex


def _point_at(urls: dict[str, Any], base: str) -> None:
    """Every REST URL to the local server (scheme and host replaced, path kept)."""
    for name, url in urls.items():
        if isinstance(url, dict):
            _point_at(url, base)
        elif isinstance(url, str) and "://" in url:
            rest = url.split("://", 1)[1]
            path = rest[rest.find("/") :] if "/" in rest else ""
            http = base.split("://", 1)[0]
            scheme = ("wss" if http == "https" else "ws") if url.startswith("ws") else http
            urls[name] = f"{scheme}://{base.split('://', 1)[1]}{path}"


class CcxtVenueClient:
    """Orders, queries, balances and key checks through ccxt; reports in bot4's records."""

    def __init__(
        self,
        exchange: Any,
        clock: SyncClock,
        settings: VenueSettings,
        gate: RequestGate | None = None,
        timesync: TimeSync | None = None,
        *,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.exchange = exchange
        self.gate = gate or RequestGate(clock, settings.rate_limit_weight_1m)
        self.timesync = timesync or TimeSync(clock, self._fetch_server_ms)
        self._clock = clock
        self._ov = overrides_for(settings.exchange)
        self._secrets = tuple(s for s in (*secrets, exchange.apiKey, exchange.secret) if s)
        self._symbol = {make_instrument_id(settings.name, s): s for s in settings.symbols}
        self._cid_of: dict[tuple[str, str], str] = {}
        self._listener: Callable[[ExecReport], None] | None = None
        self._priority: Priority = "read"
        self.last_status: int | None = None  # of the latest response (None: no answer)
        self.last_headers: Any = None
        self.venue_limits: VenueLimits | None = None  # what exchangeInfo.rateLimits said (load_limits)
        self._install_hooks()

    # -- ccxt hooks ------------------------------------------------------------------------------

    def _install_hooks(self) -> None:
        ex = self.exchange
        fetch, on_response = ex.fetch, ex.on_rest_response

        def gated_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            self.gate.admit(self._priority, f"{method} {url.split('?', 1)[0]}")
            self.last_status, self.last_headers = None, None
            return fetch(url, method, headers, body)

        def observed(code: int, reason: str, url: str, method: str, headers: Any, *rest: Any) -> Any:
            self.last_status, self.last_headers = int(code), headers
            self.gate.observe(int(code), headers)
            return on_response(code, reason, url, method, headers, *rest)

        ex.fetch = gated_fetch
        ex.on_rest_response = observed
        ex.nonce = self.timesync.server_now_ms
        ex.milliseconds = lambda: self._clock.now_ns() // MS
        ex.options["timeDifference"] = 0

    @contextmanager
    def _at(self, priority: Priority) -> Iterator[None]:
        before, self._priority = self._priority, priority
        try:
            yield
        finally:
            self._priority = before

    def _call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        write: bool = False,
        priority: Priority = "read",
        signed: bool = True,
    ) -> T:
        """Run one ccxt call; raise only bot4 venue errors. A read refused by -1021 is re-tried once."""
        for attempt in (0, 1):
            try:
                with self._at(priority), decimal.localcontext():  # ccxt mutates the decimal context
                    if signed:
                        self.timesync.ensure()
                    return fn()
            except ccxt.BaseError as exc:
                err = classify(
                    exc, write=write, operation=operation, secrets=self._secrets, retry_after_s=self._retry_after()
                )
            if isinstance(err, RateLimitedError) and self.last_status not in (418, 429):
                # a limit code (-1003/-1015) in a body without the status: stop all traffic all the same
                self.gate.block(err.retry_after_s or self.gate.default_retry_after_s, banned=err.banned)
            if isinstance(err, TimeSyncError):
                self._resync()
                if not write and attempt == 0:
                    continue
            raise err from None  # the ccxt cause carries the signed URL
        raise AssertionError("unreachable")

    def _retry_after(self) -> float | None:
        if self.last_status not in (418, 429):
            return None
        raw = {str(k).lower(): v for k, v in (self.last_headers or {}).items()}.get("retry-after")
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    def _resync(self) -> None:
        self.timesync.invalidate()
        try:
            with self._at("order"), decimal.localcontext():
                self.timesync.sync()
        except ccxt.BaseError as exc:
            log.warning("time re-sync failed: %s", classify(exc, write=False, operation="time sync"))
        except RetryableError as exc:
            log.warning("time re-sync failed: %s", exc)

    def _fetch_server_ms(self) -> int:
        return int(self.exchange.fetch_time())

    # -- VenueClient -------------------------------------------------------------------------------

    def set_listener(self, listener: Callable[[ExecReport], None]) -> None:
        self._listener = listener  # stream reports are read elsewhere and handed to it

    @property
    def listener(self) -> Callable[[ExecReport], None] | None:
        return self._listener

    def sink(self, event: object) -> None:
        """The engine hands venue events here (``Engine.add_venue``); REST-only: nothing to do."""

    def submit(self, order: Order) -> list[ExecReport]:
        sym = self._sym(order.instrument_id)
        op = f"submit {order.client_order_id} {sym}"
        kind = "market" if order.type in (OrderType.MARKET, OrderType.STOP_MARKET) else "limit"
        params: dict[str, Any] = {**self._ov.create_params, self._ov.client_id_param: order.client_order_id}
        amount: str | None = None
        if order.quantity is not None:
            amount = self._exact_wire(sym, order.quantity, "quantity", op)
        if order.quote_quantity is not None:
            params["quoteOrderQty"] = mapping.wire(order.quote_quantity)
        price = None if order.price is None else self._exact_wire(sym, order.price, "price", op)
        if kind == "limit" and not order.post_only:  # post-only becomes LIMIT_MAKER, which takes no timeInForce
            params["timeInForce"] = order.time_in_force.value
        if order.trigger_price is not None:
            params["triggerPrice"] = self._exact_wire(sym, order.trigger_price, "trigger_price", op)
        if order.post_only:
            params["postOnly"] = True
        side = order.side.value.lower()
        answer = self._call(
            op,
            lambda: self.exchange.create_order(sym, kind, side, amount, price, params),
            write=True,
            priority="order",
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("info"), dict) or not answer.get("id"):
            raise UnknownOutcomeError(f"{op}: unreadable answer (no order id); outcome unknown, query by client id")
        self._remember(answer, sym)
        try:
            return mapping.reports(answer, order, self._ov)
        except mapping.MappingError as exc:
            raise UnknownOutcomeError(f"{op}: unreadable answer ({exc}); outcome unknown") from None

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        sym = self._sym(instrument_id)
        params = {self._ov.cancel_client_id_param: client_order_id}
        answer = self._call(
            f"cancel {client_order_id} {sym}",
            lambda: self.exchange.cancel_order(None, sym, params),
            write=True,
            priority="cancel",
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("info"), dict):
            raise UnknownOutcomeError(f"cancel {client_order_id} {sym}: unreadable answer; outcome unknown")
        snap = mapping.snapshot(answer, instrument_id, self._ov)
        return [ExecReport(client_order_id, snap.status, 0, snap.ts_update, instrument_id, snap.cum_quantity)]

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        sym = self._sym(instrument_id)
        params = {self._ov.query_client_id_param: client_order_id}
        try:
            answer = self._call(
                f"query {client_order_id} {sym}",
                lambda: self.exchange.fetch_order(None, sym, params),
                priority="order",  # settling an in-flight order matters as much as placing one
            )
        except RejectedError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return self._snapshot(answer, sym, f"query {client_order_id}")

    def open_orders(self) -> list[OrderSnapshot]:
        out = []
        for sym in sorted(self._symbol.values()):
            rows = self._call(f"open orders {sym}", lambda sym=sym: self.exchange.fetch_open_orders(sym))  # type: ignore[misc]
            out += [self._snapshot(r, sym, f"open orders {sym}") for r in rows]
        return out

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        sym = self._sym(instrument_id)
        out: list[VenueTrade] = []
        seq, limit = since_seq, self._ov.trades_page_limit
        for _page in range(MAX_TRADE_PAGES):
            params: dict[str, Any] = {}
            if self._ov.trades_from_id_param:
                params[self._ov.trades_from_id_param] = seq + 1
            rows = self._call(
                f"my trades {sym} after {seq}",
                lambda params=params: self.exchange.fetch_my_trades(sym, None, limit, params),  # type: ignore[misc]
            )
            page = [r for r in rows if mapping.trade_seq(r) > seq]
            for r in sorted(page, key=mapping.trade_seq):
                cid = self._client_id(str(r.get("order")), sym)
                out.append(VenueTrade(mapping.trade_fill(r, cid, instrument_id, self._ov), mapping.trade_seq(r)))
            if not self._ov.trades_from_id_param or len(rows) < limit or not page:
                break
            seq = max(mapping.trade_seq(r) for r in page)
        return out

    # -- account -----------------------------------------------------------------------------------

    def load_instruments(self) -> dict[str, Instrument]:
        """Instruments of ``settings.symbols`` from the venue's markets (Decimal tick, step, minimums).

        Always re-fetched: ccxt caches markets, and a refresh after a filter failure (-1013, G1) must see
        the venue's new filters, not the cached ones. The first load also sizes the request gate from the
        venue's published limits (``load_limits``).
        """
        markets = self._call("load markets", lambda: self.exchange.load_markets(reload=True), signed=False)
        out = {}
        for sym in self.settings.symbols:
            market = markets.get(sym)
            if market is None:
                close = difflib.get_close_matches(sym, list(markets), n=5)
                hint = f"; close matches: {', '.join(close)}" if close else ""
                raise ConfigError(f"symbols: {sym!r} is not listed on {self.settings.exchange}{hint}")
            inst = mapping.instrument(self.name, sym, market, int(self.exchange.precisionMode))
            out[inst.id] = inst
        if self.venue_limits is None:
            self.load_limits()
        return out

    def load_limits(self) -> VenueLimits | None:
        """Size the gate from the venue's ``exchangeInfo.rateLimits`` (Binance); None where not published.

        A venue with a smaller budget than ``rate_limit_weight_1m`` would otherwise answer 429 before the
        gate sheds (E1). The setting stays an upper bound: the gate uses the smaller of the two. A failed
        read keeps the configured budget (logged): it is no reason not to trade.
        """
        if self._ov.key_restrictions != "binance":  # the Binance family publishes rateLimits
            return None
        syms = [m for m in (self.exchange.markets or {}).values() if m.get("symbol") in self.settings.symbols]
        params = {"symbol": str(syms[0]["id"])} if syms else {}
        try:
            info = self._call("exchange info", lambda: self.exchange.publicGetExchangeInfo(params), signed=False)
        except VenueError as exc:
            log.warning("rate limits: not read (%s); keeping rate_limit_weight_1m=%d", exc, self.gate.capacity)
            return None
        limits = parse_rate_limits(info.get("rateLimits") if isinstance(info, dict) else None)
        self.venue_limits = limits
        weight = min(self.settings.rate_limit_weight_1m, limits.weight_1m or self.settings.rate_limit_weight_1m)
        self.gate.resize(weight, limits.orders_10s)
        log.info(
            "request budget: %d weight/min (venue %s, configured %d), %s orders/10 s",
            weight,
            limits.weight_1m,
            self.settings.rate_limit_weight_1m,
            limits.orders_10s or self.gate.orders_10s_limit,
        )
        return limits

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Currency -> (free, total). A failed read raises: it is never "zero"."""
        bal = self._call("balances", lambda: self.exchange.fetch_balance())
        raw = bal.get("info", {}).get("balances") if isinstance(bal.get("info"), dict) else None
        out: dict[str, tuple[Decimal, Decimal]] = {}
        if isinstance(raw, list) and raw and "asset" in raw[0]:  # Binance: exact strings
            for row in raw:
                free = mapping.to_decimal(row["free"], f"balance {row['asset']}.free")
                locked = mapping.to_decimal(row["locked"], f"balance {row['asset']}.locked")
                out[str(row["asset"])] = (free, free + locked)
            return out
        for ccy, row in bal.items():
            if isinstance(row, dict) and "free" in row and ccy not in ("info", "free", "used", "total"):
                free = mapping.to_decimal(row.get("free") or 0, f"balance {ccy}.free")
                out[ccy] = (free, mapping.to_decimal(row.get("total") or 0, f"balance {ccy}.total"))
        return out

    def server_time_ms(self) -> int:
        return self._call("server time", self._fetch_server_ms, signed=False)

    def check_key_permissions(self) -> list[str]:
        """Refuse (FatalError) a key that can move funds; return warnings (e.g. no IP whitelist)."""
        if self._ov.key_restrictions != "binance":
            return [f"{self.settings.exchange}: API key permissions could not be checked (no endpoint known)"]
        r = self._call("key permissions", lambda: self.exchange.sapi_get_account_apirestrictions())
        if not isinstance(r, dict):
            raise FatalError("key permissions: unreadable answer from GET /sapi/v1/account/apiRestrictions")
        for perm in FORBIDDEN_PERMISSIONS:
            if r.get(perm) is not False:
                raise FatalError(f"key permissions: {perm} is {r.get(perm)!r}; a trading key must not move funds")
        if r.get("ipRestrict") is not True:
            msg = "key permissions: the API key has no IP whitelist (ipRestrict=false)"
            if self.settings.require_ip_restriction:
                raise FatalError(msg + " and require_ip_restriction is set")
            return [msg + "; Binance revokes trading on such keys after 30 days"]
        return []

    # -- helpers -----------------------------------------------------------------------------------

    def _sym(self, instrument_id: str) -> str:
        sym = self._symbol.get(instrument_id)
        if sym is None:
            raise ValueError(f"instrument_id: {instrument_id!r} is not configured on venue {self.name}")
        return sym

    def _exact_wire(self, sym: str, value: Decimal, field: str, op: str) -> str:
        """``value`` as sent; refuse (nothing sent) if the venue's precision would change it."""
        text = mapping.wire(value)
        with decimal.localcontext():
            if field == "quantity":
                shown = self.exchange.amount_to_precision(sym, text)
            else:
                shown = self.exchange.price_to_precision(sym, text)
        if Decimal(shown) != value:
            raise RejectedError(0, f"{op}: {field} {text} is not on the venue's grid (it would be sent as {shown})")
        return text

    def _remember(self, o: dict[str, Any], sym: str) -> None:
        if o.get("id") and o.get("clientOrderId"):
            self._cid_of[(sym, str(o["id"]))] = str(o["clientOrderId"])

    def _snapshot(self, o: Any, sym: str, op: str) -> OrderSnapshot:
        if not isinstance(o, dict) or not isinstance(o.get("info"), dict):
            raise RetryableError(f"{op}: unreadable answer from {self.name}")
        self._remember(o, sym)
        try:
            return mapping.snapshot(o, make_instrument_id(self.name, sym), self._ov)
        except mapping.MappingError as exc:
            raise RetryableError(f"{op}: {exc}") from None

    def _client_id(self, order_id: str, sym: str) -> str:
        cid = self._cid_of.get((sym, order_id))
        if cid is None:
            o = self._call(f"order {order_id} {sym}", lambda: self.exchange.fetch_order(order_id, sym))
            self._remember(o, sym)
            cid = str(o.get("clientOrderId") or "")
        return cid


__all__ = ["CcxtVenueClient", "build_exchange"]
