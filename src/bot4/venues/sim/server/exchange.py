"""The fake exchange behind the server: matching venues per account plus Binance request semantics.

Every account trades on its own ``MatchingVenue`` fed the same replayed market data; this class turns
Binance request parameters into model orders, keeps the ground-truth ``Ledger`` (order ids, trade
ids, execution ids, POST counts), and turns venue events into ``executionReport`` /
``outboundAccountPosition`` messages and public ``depthUpdate`` / ``trade`` messages for the streams.

Binance rules applied here: ``newClientOrderId`` must be unique among *open* orders only (a filled
or canceled id may be reused); a query by ``origClientOrderId`` returns the newest order with it;
commissions are charged in the quote asset (the venue's model, documented rather than Binance's
"received asset" rule).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from bot4.data.book.l2 import L2Book
from bot4.data.book.scale import Scale
from bot4.model.enums import Liquidity, Side
from bot4.model.errors import InvalidValue
from bot4.model.events import OrderAccepted, OrderCanceled, OrderExpired, OrderFilled, QuoteTick, TradeTick
from bot4.model.orders import Order
from bot4.venues.sim.matching import CancelRejected, MatchingVenue, VenueOrderRejected
from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.clock import ServerClock
from bot4.venues.sim.server.listing import Listing
from bot4.venues.sim.server.records import Ledger, OrderRecord, TradeRecord, fmt
from bot4.venues.sim.server.signing import ApiError, mandatory

UserListener = Callable[[str, dict[str, Any]], None]  # (account name, message)
MarketListener = Callable[[str, dict[str, Any]], None]  # (stream name e.g. "btcusdt@depth", message)

_TYPES = {
    "LIMIT": "LIMIT",
    "LIMIT_MAKER": "LIMIT",
    "MARKET": "MARKET",
    "STOP_LOSS": "STOP_MARKET",
    "STOP_LOSS_LIMIT": "STOP_LIMIT",
}


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; got {raw!r}.") from None
    if not value.is_finite() or value <= 0:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; got {raw!r}.")
    return value


class SimExchange:
    """Binance-spot semantics over ``MatchingVenue``s; the in-process handle tests inspect."""

    def __init__(self, listings: list[Listing], accounts: list[Account], clock: ServerClock) -> None:
        if not listings:
            raise ValueError("listings: the exchange needs at least one symbol")
        self.clock = clock
        self.listings = {li.symbol: li for li in listings}
        self.instruments = {li.symbol: li.instrument() for li in listings}
        self._symbol_of = {inst.id: sym for sym, inst in self.instruments.items()}
        self.scales = {s: Scale(i.tick_size, i.step_size) for s, i in self.instruments.items()}
        self.accounts = {a.name: a for a in accounts}
        self.ledger = Ledger()
        self.books = {s: L2Book() for s in self.listings}
        self.update_ids = dict.fromkeys(self.listings, 0)
        self.user_listeners: list[UserListener] = []
        self.market_listeners: list[MarketListener] = []
        self._current: dict[tuple[str, str], OrderRecord] = {}
        self._incoming: OrderRecord | None = None
        self._refusal: ApiError | None = None
        self._order_seq = 0
        self._trade_seq = 0
        self._exec_seq = 0
        self._client_seq = 0
        instruments = {i.id: i for i in self.instruments.values()}
        rules = {self.instruments[s].id: li.rules() for s, li in self.listings.items()}
        self.venues = {
            a.name: MatchingVenue(
                f"SIM-{a.name}",
                instruments,
                dict(a.balances),
                clock,
                self._sink_for(a.name),
                rules=rules,
                stp="cancel_oldest",
                emit_extras=True,
            )
            for a in accounts
        }

    def _sink_for(self, account: str) -> Callable[[object], None]:
        def sink(event: object) -> None:
            self._on_event(account, event)

        return sink

    # -- helpers -----------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def symbol(self, params: dict[str, str]) -> str:
        sym = params.get("symbol")
        if not sym:
            raise mandatory("symbol")
        if sym not in self.listings:
            raise ApiError(400, -1121, "Invalid symbol.")
        return sym

    # -- orders ------------------------------------------------------------------------------------

    def place(self, account: str, params: dict[str, str]) -> OrderRecord:
        """``POST /api/v3/order``: book the order or raise the ``ApiError`` Binance would return."""
        sym = self.symbol(params)
        cid = params.get("newClientOrderId") or self._next_client_id()
        self.ledger.posts[(account, cid)] += 1
        order, rec = self._build(account, sym, cid, params)
        venue = self.venues[account]
        self._incoming, self._refusal = rec, None
        try:
            venue.place(order)
        finally:
            self._incoming = None
        if self._refusal is not None:
            raise self._refusal
        return rec

    def _build(self, account: str, sym: str, cid: str, params: dict[str, str]) -> tuple[Order, OrderRecord]:
        side = params.get("side", "")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1117, "Invalid side.")
        btype = params.get("type", "")
        if not btype:
            raise mandatory("type")
        if btype not in _TYPES:
            raise ApiError(400, -1116, "Invalid orderType.")
        qty, quote_qty = _decimal(params, "quantity"), _decimal(params, "quoteOrderQty")
        price, stop = _decimal(params, "price"), _decimal(params, "stopPrice")
        tif = params.get("timeInForce", "")
        if btype in ("LIMIT", "STOP_LOSS_LIMIT"):
            if not tif:
                raise mandatory("timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise ApiError(400, -1115, "Invalid timeInForce.")
        elif tif:
            raise ApiError(400, -1106, "Parameter 'timeInForce' sent when not required.")
        if btype in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT") and price is None:
            raise mandatory("price")
        if btype in ("STOP_LOSS", "STOP_LOSS_LIMIT") and stop is None:
            raise mandatory("stopPrice")
        if btype == "MARKET" and side == "BUY" and quote_qty is not None and qty is not None:
            raise ApiError(400, -1106, "Parameter 'quoteOrderQty' sent when not required.")
        if qty is None and not (btype == "MARKET" and side == "BUY" and quote_qty is not None):
            raise mandatory("quantity")
        inst = self.instruments[sym]
        try:
            order = Order.create(
                inst,
                client_order_id=cid,
                strategy_id=account,
                side=side,
                type=_TYPES[btype],
                quantity=qty,
                price=price,
                trigger_price=stop,
                time_in_force=tif or "GTC",
                post_only=btype == "LIMIT_MAKER",
                quote_quantity=quote_qty if qty is None else None,
                ts_init=self.clock.now_ns(),
            )
        except InvalidValue as exc:
            name = "PRICE_FILTER" if "price" in str(exc) else "LOT_SIZE"
            raise ApiError(400, -1013, f"Filter failure: {name}") from exc
        rec = OrderRecord(
            0,
            account,
            sym,
            cid,
            side,
            btype,
            tif or "GTC",
            price,
            stop,
            qty or Decimal(0),
            quote_qty or Decimal(0),
            self.now_ms(),
        )
        return order, rec

    def _next_client_id(self) -> str:
        self._client_seq += 1
        return f"sim{self._client_seq:012d}"

    def find(self, account: str, params: dict[str, str]) -> OrderRecord:
        """The order named by ``orderId`` or ``origClientOrderId`` (newest), else -2013."""
        sym = self.symbol(params)
        oid, cid = params.get("orderId"), params.get("origClientOrderId")
        if not oid and not cid:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        rec: OrderRecord | None = None
        if oid:
            try:
                rec = self.ledger.orders.get(int(oid))
            except ValueError:
                raise ApiError(400, -1100, f"Illegal characters found in parameter 'orderId'; got {oid!r}.") from None
        else:
            found = self.ledger.orders_by_client_id(account, cid or "")
            rec = found[-1] if found else None
        if rec is None or rec.account != account or rec.symbol != sym:
            raise ApiError(400, -2013, "Order does not exist.")
        return rec

    def cancel(self, account: str, params: dict[str, str]) -> OrderRecord:
        """``DELETE /api/v3/order``; an order that is no longer open gets -2011 "Unknown order sent."."""
        try:
            rec = self.find(account, params)
        except ApiError as exc:
            if exc.code == -2013:
                raise ApiError(400, -2011, "Unknown order sent.") from None
            raise
        if not rec.is_open:
            raise ApiError(400, -2011, "Unknown order sent.")
        self._refusal = None
        self.venues[account].cancel_order(rec.client_order_id)
        if self._refusal is not None:
            raise self._refusal
        return rec

    def open_orders(self, account: str, symbol: str | None) -> list[OrderRecord]:
        return [
            o
            for o in self.ledger.orders.values()
            if o.account == account and o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        return self.venues[account].balances()

    # -- venue events ------------------------------------------------------------------------------

    def _on_event(self, account: str, ev: object) -> None:
        if isinstance(ev, VenueOrderRejected):
            status = 400
            self._refusal = ApiError(status, ev.code, ev.reason.split(" (")[0])
            return
        if isinstance(ev, CancelRejected):
            self._refusal = ApiError(400, ev.code, "Unknown order sent.")
            return
        if isinstance(ev, OrderAccepted):
            rec = self._incoming
            if rec is None:
                return
            self._order_seq += 1
            rec.order_id = self._order_seq
            rec.time_ms = rec.update_ms = ev.ts_event // 1_000_000
            self.ledger.orders[rec.order_id] = rec
            self._current[(account, rec.client_order_id)] = rec
            self._report(rec, "NEW")
            return
        key = (account, getattr(ev, "client_order_id", ""))
        rec = self._current.get(key)
        if rec is None:
            return
        if isinstance(ev, OrderFilled):
            self._on_fill(rec, ev)
        elif isinstance(ev, (OrderCanceled, OrderExpired)):
            if ev.reason.startswith("self-trade prevention"):  # Binance's STP outcome
                rec.status, exec_type = "EXPIRED_IN_MATCH", "TRADE_PREVENTION"
            elif isinstance(ev, OrderCanceled):
                rec.status = exec_type = "CANCELED"
            else:
                rec.status = exec_type = "EXPIRED"
            rec.update_ms = ev.ts_event // 1_000_000
            self._report(rec, exec_type)
            self._position(account)

    def _on_fill(self, rec: OrderRecord, ev: OrderFilled) -> None:
        f = ev.fill
        self._trade_seq += 1
        self._exec_seq += 1
        trade = TradeRecord(
            self._trade_seq,
            rec.order_id,
            rec.account,
            rec.symbol,
            f.price,
            f.quantity,
            f.fee,
            f.fee_currency,
            f.ts_event // 1_000_000,
            f.side is Side.BUY,
            f.liquidity is Liquidity.MAKER,
            self._exec_seq,
        )
        rec.trades.append(trade)
        self.ledger.trades.append(trade)
        rec.executed_qty = ev.cum_quantity
        rec.cum_quote += f.price * f.quantity
        if rec.orig_qty == 0:  # quoteOrderQty market buy: the quantity is what it bought
            rec.orig_qty = ev.cum_quantity + ev.leaves_quantity
        rec.status = "FILLED" if ev.leaves_quantity == 0 else "PARTIALLY_FILLED"
        rec.update_ms = trade.time_ms
        self._report(rec, "TRADE", trade)
        self._position(rec.account)

    def _report(self, rec: OrderRecord, exec_type: str, trade: TradeRecord | None = None) -> None:
        if trade is None:
            self._exec_seq += 1
        now = self.now_ms()
        msg: dict[str, Any] = {
            "e": "executionReport",
            "E": now,
            "s": rec.symbol,
            "c": rec.client_order_id,
            "S": rec.side,
            "o": rec.type,
            "f": rec.time_in_force,
            "q": fmt(rec.orig_qty),
            "p": fmt(rec.price),
            "P": fmt(rec.stop_price),
            "F": fmt(None),
            "g": -1,
            "C": "",
            "x": exec_type,
            "X": rec.status,
            "r": "NONE",
            "i": rec.order_id,
            "l": fmt(trade.qty if trade else None),
            "z": fmt(rec.executed_qty),
            "L": fmt(trade.price if trade else None),
            "n": fmt(trade.commission if trade else None),
            "N": trade.commission_asset if trade else None,
            "T": trade.time_ms if trade else rec.update_ms,
            "t": trade.trade_id if trade else -1,
            "I": trade.execution_id if trade else self._exec_seq,
            "w": rec.status == "NEW",
            "m": trade.is_maker if trade else False,
            "M": False,
            "O": rec.time_ms,
            "Z": fmt(rec.cum_quote),
            "Y": fmt(trade.price * trade.qty if trade else None),
            "Q": fmt(rec.quote_order_qty),
            "W": rec.time_ms,
            "V": "EXPIRE_MAKER",
        }
        for listener in list(self.user_listeners):
            listener(rec.account, msg)

    def _position(self, account: str) -> None:
        bal = self.balances(account)
        msg = {
            "e": "outboundAccountPosition",
            "E": self.now_ms(),
            "u": self.now_ms(),
            "B": [{"a": a, "f": fmt(free), "l": fmt(locked)} for a, (free, locked) in bal.items()],
        }
        for listener in list(self.user_listeners):
            listener(account, msg)

    # -- market data -------------------------------------------------------------------------------

    def on_quote(self, symbol: str, bid: float, bid_size: float, ask: float, ask_size: float) -> None:
        """Top of book from the feed: every venue's book becomes these two levels; publish the diff."""
        inst, sc, book = self.instruments[symbol], self.scales[symbol], self.books[symbol]
        new_bid = (_units(bid, sc.tick), _units(bid_size, sc.lot))
        new_ask = (_units(ask, sc.tick), _units(ask_size, sc.lot))
        old_bid, old_ask = book.best_bid(), book.best_ask()
        diff_b = _level_diff(old_bid, new_bid)
        diff_a = _level_diff(old_ask, new_ask)
        book.load_snapshot([new_bid] if new_bid[1] else [], [new_ask] if new_ask[1] else [])
        tick = QuoteTick(inst.id, self.clock.now_ns(), bid, bid_size, ask, ask_size)
        for venue in self.venues.values():
            venue.on_quote(tick)
        if not diff_b and not diff_a:
            return
        self.update_ids[symbol] += 1
        uid, now = self.update_ids[symbol], self.now_ms()
        msg = {
            "e": "depthUpdate",
            "E": now,
            "s": symbol,
            "U": uid,
            "u": uid,
            "b": [[fmt(sc.price(p)), fmt(sc.size(q))] for p, q in diff_b],
            "a": [[fmt(sc.price(p)), fmt(sc.size(q))] for p, q in diff_a],
        }
        self._publish(f"{symbol.lower()}@depth", msg)

    def on_trade(self, symbol: str, trade_id: int, price: float, qty: float, buyer_maker: bool) -> None:
        inst = self.instruments[symbol]
        tick = TradeTick(inst.id, self.clock.now_ns(), price, qty, "SELL" if buyer_maker else "BUY", str(trade_id))
        for venue in self.venues.values():
            venue.on_trade(tick)
        now = self.now_ms()
        msg = {
            "e": "trade",
            "E": now,
            "s": symbol,
            "t": trade_id,
            "p": fmt(Decimal(repr(price))),
            "q": fmt(Decimal(repr(qty))),
            "T": now,
            "m": buyer_maker,
            "M": True,
        }
        self._publish(f"{symbol.lower()}@trade", msg)

    def _publish(self, stream: str, msg: dict[str, Any]) -> None:
        for listener in list(self.market_listeners):
            listener(stream, msg)

    def depth(self, symbol: str, limit: int) -> dict[str, Any]:
        sc, book = self.scales[symbol], self.books[symbol]
        return {
            "lastUpdateId": self.update_ids[symbol],
            "bids": [[fmt(sc.price(p)), fmt(sc.size(q))] for p, q in book.bid_levels(limit)],
            "asks": [[fmt(sc.price(p)), fmt(sc.size(q))] for p, q in book.ask_levels(limit)],
        }


def _units(value: float, unit: Decimal) -> int:
    """A recorded float in whole ticks/lots, rounding away its binary noise (0.031035000000000004)."""
    return int((Decimal(repr(value)) / unit).to_integral_value(ROUND_HALF_EVEN))


def _level_diff(old: tuple[int, int] | None, new: tuple[int, int]) -> list[tuple[int, int]]:
    """Binance diff entries turning level ``old`` into ``new`` (size 0 removes a price)."""
    if old is None:
        return [new] if new[1] else []
    if old[0] != new[0]:
        return [(old[0], 0)] + ([new] if new[1] else [])
    return [new] if old[1] != new[1] else []
