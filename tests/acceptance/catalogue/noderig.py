"""Running bot4's trading node (``bot4.live.node.TradingNode``) inside a catalogue scenario.

The node runs on the test thread's event loop (``asyncio.run``), the exchange on its own thread
(``SimVenue``), exactly as ``bot4 run --live`` would talk to a venue. Its journal is the scenario's
journal and its risk audit trail is registered with the oracle; its credentials come from the
environment like in production, so the node itself must register them with the log redactor. Tests
act through ``Hands``, a strategy that does nothing on its own: ``hands.ctx.submit`` is the same path
a strategy's order takes (engine -> node gate -> risk engine -> order manager -> ccxt client).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from bot4.live.config import NodeConfig, parse_node_config
from bot4.live.node import TradingNode
from bot4.model.events import Bar, OrderDenied, OrderEvent
from bot4.strategies.base import Strategy
from tests.acceptance.catalogue.conftest import INST, Scenario

IID = INST.id
T = TypeVar("T")


class Hands(Strategy):
    """The test's hands inside the node: records what the engine tells it, sends what the test asks."""

    name = "hands"
    live: ClassVar[list[Hands]] = []

    def on_start(self) -> None:
        self.events: list[OrderEvent] = []
        self.bars: list[Bar] = []
        Hands.live.append(self)

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)

    def on_order_update(self, event: OrderEvent) -> None:
        self.events.append(event)

    @property
    def denials(self) -> list[OrderDenied]:
        return [e for e in self.events if isinstance(e, OrderDenied)]

    def buy(self, qty: str = "0.001", **kw: Any) -> str:
        return self.ctx.submit(IID, "BUY", Decimal(qty), **kw)

    def sell(self, qty: str = "0.001", **kw: Any) -> str:
        return self.ctx.submit(IID, "SELL", Decimal(qty), **kw)


class EveryBar(Strategy):
    """A runaway strategy (F1): one market buy per bar, whatever happens."""

    name = "every_bar"

    def on_bar(self, bar: Bar) -> None:
        self.ctx.submit(bar.instrument_id, "BUY", Decimal("0.0002"))


STRATEGIES: dict[str, type[Strategy]] = {"hands": Hands, "every_bar": EveryBar}


class NodeRig:
    """Builds nodes for one scenario (``cat``) and drives them."""

    def __init__(self, cat: Scenario) -> None:
        self.cat = cat
        self.control_token = secrets.token_urlsafe(32)
        self.read_token = secrets.token_urlsafe(32)
        self.audit_url = f"sqlite:///{cat.tmp_path / 'risk_audit.db'}"
        self.state_dir = cat.tmp_path / "state"
        cat.risk_audit.append((self.audit_url, self.state_dir / "risk-state" / "audit-head.json"))
        cat.sinks.dbs.append(self.audit_url)
        self.last: TradingNode | None = None
        Hands.live.clear()

    @property
    def env(self) -> dict[str, str]:
        v = self.cat.venue
        return {
            "BOT4__MAIN__API_KEY": v.api_key,
            "BOT4__MAIN__SECRET": v.secret,
            "BOT4_CONTROL_TOKEN": self.control_token,
            "BOT4_READ_TOKEN": self.read_token,
        }

    def raw_config(self, **over: Any) -> dict[str, Any]:
        limits = {"max_orders_per_window": 1000, "max_total_orders": 100_000, "spread_events_to_trip": 1000}
        raw: dict[str, Any] = {
            "mode": "live",
            "live_enabled": True,
            "state_dir": str(self.state_dir),
            "journal_url": self.cat.db_url(),
            "bar_interval": "200ms",
            "bar_grace_ms": 30,
            "reconcile_interval_s": 0.5,
            "settle_timeout_s": 3,
            "venue": {
                "exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": self.cat.venue.url,
                "timeout_ms": 2000,
            },
            "strategies": [{"name": "hands"}],
            "risk": {
                "limits": limits, "state_dir": str(self.state_dir / "risk-state"), "audit_url": self.audit_url,
            },
            "control": {"enabled": True},
        }  # fmt: skip
        raw.update(over)
        return raw

    def config(self, **over: Any) -> NodeConfig:
        return parse_node_config(self.raw_config(**over))

    @staticmethod
    def config_from(raw: dict[str, Any]) -> NodeConfig:
        return parse_node_config(raw)

    def node(self, cfg: NodeConfig | None = None, **kw: Any) -> TradingNode:
        kw.setdefault("stale_after_s", 3.0)
        kw.setdefault("user_silence_s", 3.0)
        self.last = TradingNode(cfg or self.config(), "live", env=self.env, strategy_classes=STRATEGIES, **kw)
        return self.last

    def run(self, node: TradingNode, script: Callable[[TradingNode], Awaitable[None]], timeout: float = 25.0) -> int:
        """Start ``node``, run ``script`` once it has started, then stop it like SIGTERM; the exit code."""

        async def go() -> int:
            task = asyncio.create_task(node.run())
            started = asyncio.create_task(node.started.wait())
            await asyncio.wait({task, started}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if not task.done() and node.started.is_set():
                try:
                    await asyncio.wait_for(script(node), timeout)
                finally:
                    node.request_stop("end of scenario")
            elif not task.done():
                node.request_stop("did not start in time")
            return await asyncio.wait_for(task, 20)

        return asyncio.run(go())

    async def market(self, node: TradingNode, speed: float = 1.0) -> None:
        """Start the recorded market and wait until the node has a price and a healthy feed, and may trade."""
        self.cat.venue.play(speed)
        await until(
            lambda: node.gate is not None and node.gate.stream_gap is None and not node.gate.unhealthy
            and node.feed is not None and node.feed.book(IID) is not None,
            8, "a healthy feed and a resynced user stream",
        )  # fmt: skip
        for _ in range(200):  # and a reference price at the engine
            if await on_lane(node, lambda: node.engine is not None and node.engine.last_price(IID) is not None):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the engine never saw a market price")

    def audited_control(self) -> list[str]:
        """The journal's CONTROL audit rows (the node records every control-API attempt there)."""
        import sqlalchemy as sa

        eng = sa.create_engine(self.cat.db_url())
        try:
            with eng.connect() as c:
                rows = c.execute(sa.text("SELECT detail FROM oms_audit WHERE kind = 'CONTROL' ORDER BY id"))
                return [r[0] for r in rows]
        finally:
            eng.dispose()

    def mismatches(self) -> list[str]:
        """The journal's RECONCILE_MISMATCH rows (why the node paused itself)."""
        return self.audited("RECONCILE_MISMATCH")

    def audited(self, kind: str) -> list[str]:
        """The journal's ``oms_audit`` details of one kind (VENUE_BANNED, FILTER_FAILURE, ...), oldest first."""
        import sqlalchemy as sa

        eng = sa.create_engine(self.cat.db_url())
        try:
            with eng.connect() as c:
                rows = c.execute(sa.text("SELECT detail FROM oms_audit WHERE kind = :k ORDER BY id"), {"k": kind})
                return [r[0] for r in rows]
        finally:
            eng.dispose()

    def risk_audit(self) -> list[tuple[str, str, str]]:
        """(actor, action, payload) of the risk engine's hash-chained audit trail, oldest first."""
        import sqlalchemy as sa

        eng = sa.create_engine(self.audit_url)
        try:
            with eng.connect() as c:
                rows = c.execute(sa.text("SELECT actor, action, payload FROM risk_audit ORDER BY seq"))
                return [(r[0], r[1], r[2]) for r in rows]
        finally:
            eng.dispose()

    async def buy(self, qty: str = "0.001", **kw: Any) -> str:
        """``Hands.buy`` on the node's trading lane; the client order id."""
        assert self.last is not None
        return await on_lane(self.last, lambda: self.hands.buy(qty, **kw))

    async def sell(self, qty: str = "0.001", **kw: Any) -> str:
        assert self.last is not None
        return await on_lane(self.last, lambda: self.hands.sell(qty, **kw))

    async def read(self, fn: Callable[[], T]) -> T:
        """Read trading state (order manager, engine) on the lane, never from the loop thread."""
        assert self.last is not None
        return await on_lane(self.last, fn)

    @property
    def hands(self) -> Hands:
        assert Hands.live, "the node has not started its strategies"
        return Hands.live[-1]


async def on_lane(node: TradingNode, fn: Callable[[], T]) -> T:
    """Run ``fn`` where the node runs its trading objects (its trading lane, if it has one)."""
    lane = getattr(node, "lane", None)
    if lane is not None and getattr(lane, "running", False):
        return await lane.call(fn)  # type: ignore[no-any-return]
    return fn()


async def until(pred: Callable[[], bool], timeout: float = 10.0, what: str | Callable[[], str] = "condition") -> None:
    """Wait on the node's loop until ``pred()`` holds; ``what`` (text, or a function giving it) names it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        await asyncio.sleep(0.02)


async def call_api(
    node: TradingNode, method: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> tuple[int, str]:
    """One control-API request; returns (status, body text)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"http://127.0.0.1:{node.control.port}{path}", json=body, headers=headers) as r,
    ):
        return r.status, await r.text()
