"""The local exchange server for the catalogue, on a background event loop, with one sentinel account.

Synchronous clients (the stdlib REST client, sync ccxt, the order manager) run on the test's thread;
the server and any stream readers run on the server's loop. Everything that touches the server's
state (ledger, replay, fault plan) goes through ``call`` so it happens on the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, ServerConfig, WeightLimiter
from bot4.venues.sim.server.faults import Rule

T = TypeVar("T")
SYMBOL = "BTCUSDT"
TERMINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})
START = {"USDT": Decimal("100000"), "BTC": Decimal("1")}


def new_sentinel() -> str:
    """The secret the test account logs in with; it must never show up in any sink."""
    return f"SENTINEL-SECRET-{uuid.uuid4()}"


def market_files(shared_data: Path) -> list[Path]:
    d = shared_data / "nautilus_trader" / "binance"
    return [d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"]


@dataclass
class PostWatch:
    """For oracle rule 4: the POST count of each client id when its first order left the open states."""

    account: str
    server: ExchangeServer
    at_close: dict[str, int] = field(default_factory=dict)

    def __call__(self, account: str, msg: dict[str, Any]) -> None:
        if account != self.account or msg.get("e") != "executionReport":
            return
        cid = str(msg["c"])
        if msg.get("X") in TERMINAL and cid not in self.at_close:
            self.at_close[cid] = self.server.exchange.ledger.posts[(account, cid)]


class SimVenue:
    """One in-process exchange server with the sentinel account ``cat`` (and a foreign account ``other``)."""

    def __init__(
        self,
        shared_data: Path,
        sentinel: str,
        *,
        limiter: WeightLimiter | None = None,
        speed: float | None = None,
    ) -> None:
        self.account = "cat"
        self.api_key = f"{sentinel}-key"
        self.secret = sentinel
        self.start_balances = dict(START)
        accounts = [
            Account(self.account, self.api_key, self.secret, dict(START)),
            Account("other", "other-key", "other-secret", dict(START)),
        ]
        self.config = ServerConfig(
            accounts=accounts,
            data=market_files(shared_data),
            faults=FaultPlan(),
            limiter=limiter or WeightLimiter(),
            speed=speed,
            debug=True,
        )
        self.loop = asyncio.new_event_loop()
        self.server = ExchangeServer(self.config)
        self.watch = PostWatch(self.account, self.server)
        self.server.exchange.user_listeners.append(self.watch)
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim-venue", daemon=True)
        self._replay: asyncio.Future[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SimVenue:
        self._thread.start()
        self.run(self.server.start(), 20)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            if self._replay is not None:
                self.loop.call_soon_threadsafe(self._replay.cancel)
            self.run(self.server.close(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    # -- running things on the server's loop --------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        async def go() -> T:
            return fn()

        return self.run(go(), timeout)

    # -- market and faults -------------------------------------------------------------------------

    def step(self, n: int = 1) -> int:
        """Play the next ``n`` recorded market events (quotes move the book, trades fill resting orders)."""
        return self.call(lambda: self.server.replay.step(n))

    def top(self) -> tuple[Decimal, Decimal]:
        """Best bid and ask now."""

        def read() -> tuple[Decimal, Decimal]:
            d = self.server.exchange.depth(SYMBOL, 1)
            return Decimal(d["bids"][0][0]), Decimal(d["asks"][0][0])

        return self.call(read)

    def play(self, speed: float) -> None:
        """Replay the rest of the recorded market in real time, ``speed`` times faster (in the background)."""

        async def start() -> None:
            self._replay = asyncio.ensure_future(self.server.replay.run(speed))

        self.run(start())

    def pause(self) -> None:
        """Stop the background replay (``step`` still plays events by hand)."""

        async def stop() -> None:
            if self._replay is not None:
                self._replay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._replay
                self._replay = None

        self.run(stop())

    def drop_user_streams(self) -> int:
        """Close every user-data WebSocket (listenKey or WS-API) from the server side; how many were open."""

        async def close() -> int:
            subs = [s for s in self.server.api.hub.subscribers if any(k.startswith("user:") for k in s.streams)]
            for s in subs:
                await s.ws.close()
            return len(subs)

        return self.run(close())

    def fault(self, endpoint: str, action: str, **spec: Any) -> Rule:
        return self.call(lambda: self.server.api.faults.add(endpoint, action, **spec))

    def counter(self, endpoint: str) -> Rule:
        """A no-op rule whose ``fired`` counts the requests reaching ``endpoint`` (``*``: all REST)."""
        return self.fault(endpoint, "delay", ms=0)

    def clear_faults(self) -> None:
        self.call(self.server.api.faults.rules.clear)

    # -- the ground truth --------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        """A consistent copy of the account's part of the exchange ledger."""

        def read() -> Ledger:
            led = self.server.exchange.ledger
            orders = [o for o in led.orders.values() if o.account == self.account]
            out = Ledger(
                orders={o.client_order_id: [] for o in orders},
                posts=Counter({c: n for (a, c), n in led.posts.items() if a == self.account}),
                posts_at_close=dict(self.watch.at_close),
                balances={
                    c: free + locked for c, (free, locked) in self.server.exchange.balances(self.account).items()
                },
            )
            for o in orders:
                out.orders[o.client_order_id].append((o.status, o.executed_qty))
            for t in led.trades:
                if t.account == self.account:
                    out.trades.append((t.trade_id, t.qty if t.is_buyer else -t.qty, t.price, t.commission))
            return out

        return self.call(read)

    def place_raw(self, account: str, params: dict[str, str]) -> str:
        """Book an order straight on the exchange (a manual order, or our earlier send); returns its status."""
        return self.call(lambda: self.server.exchange.place(account, params).status)


@dataclass
class Ledger:
    """``orders``: client id -> [(status, executedQty)] (one entry per order with that id)."""

    orders: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    posts: Counter[str] = field(default_factory=Counter)
    posts_at_close: dict[str, int] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    trades: list[tuple[int, Decimal, Decimal, Decimal]] = field(default_factory=list)  # id, signed qty, px, fee

    @property
    def position(self) -> Decimal:
        return sum((q for _, q, _, _ in self.trades), Decimal(0))

    def executed(self, cid: str) -> Decimal:
        return sum((q for _, q in self.orders.get(cid, [])), Decimal(0))
