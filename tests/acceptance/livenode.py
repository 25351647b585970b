"""bot4's live trading node against the local exchange replaying real BTC/USDT data, for H9's acceptance tests.

The exchange is the fault catalogue's ``SimVenue`` (one sentinel account, its ledger in the shape the
global oracle reads), given here what the catalogue does not need: a seeded latency model, a replay
looped end to end (the recorded files hold 46 s; the soak needs an hour of market time) and a tape of
the top of book as the exchange held it, so a live fill can be checked against the book at arrival.
The node runs on the test thread's loop, the exchange on its own thread, as ``bot4 run --live`` would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.live.config import NodeConfig, parse_node_config
from bot4.live.node import TradingNode
from bot4.strategies.base import Strategy
from bot4.venues.sim.server import FaultPlan, LatencyModel
from bot4.venues.sim.server.replay import MarketEvent
from tests.acceptance.catalogue.server import SYMBOL, SimVenue

IID = "BINANCE:BTC/USDT"
LIMITS = {"max_orders_per_window": 10_000, "max_total_orders": 1_000_000, "spread_events_to_trip": 1_000_000}


@dataclasses.dataclass(frozen=True, slots=True)
class Top:
    """The exchange's best bid and ask from ``ts_ns`` (exchange wall clock) until the next entry."""

    ts_ns: int
    bid: Decimal
    ask: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class VenueFill:
    """One of our fills as the exchange booked it (the ground truth, not what the node understood)."""

    client_order_id: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int


def looped(events: list[MarketEvent], loops: int) -> list[MarketEvent]:
    """The recording played ``loops`` times back to back, each copy later in time with fresh trade ids.

    Fresh ids matter: a feed that sees a trade id again takes it for a duplicate. The gap between copies
    is the recording's median event gap, so the rhythm stays the recorded one across the seam.
    """
    if loops < 1:
        raise ValueError(f"loops: must be >= 1 (got {loops})")
    if loops == 1 or not events:
        return list(events)
    gaps = sorted(b.ts_ns - a.ts_ns for a, b in itertools.pairwise(events))
    period = events[-1].ts_ns - events[0].ts_ns + (gaps[len(gaps) // 2] if gaps else 1)
    ids = [e.trade_id for e in events if e.kind == "trade"]
    id_span = (max(ids) - min(ids) + 1) if ids else 0
    return [
        dataclasses.replace(
            e, ts_ns=e.ts_ns + k * period, trade_id=e.trade_id + k * id_span if e.kind == "trade" else 0
        )
        for k in range(loops)
        for e in events
    ]


class Market:
    """The local exchange for one test: ``SimVenue`` plus latency, a looped replay and the top-of-book tape."""

    def __init__(
        self,
        shared_data: Path,
        sentinel: str,
        *,
        latency: LatencyModel | None = None,
        faults: FaultPlan | None = None,
        loops: int = 1,
        tape: bool = True,
    ) -> None:
        self.venue = SimVenue(shared_data, sentinel)
        srv = self.venue.server
        if latency is not None:  # the app and the stream hub each hold the model the server was built with
            srv.api.latency = latency
            srv.api.hub.latency = latency
        if faults is not None:
            srv.api.faults.rules[:] = faults.rules  # one plan object, shared by REST and the streams
        srv.replay.events = looped(srv.replay.events, loops)
        self.market_seconds = (srv.replay.events[-1].ts_ns - srv.replay.events[0].ts_ns) / 1e9
        self.tops: list[Top] = []
        if tape:
            srv.exchange.market_listeners.append(self._on_market)

    def _on_market(self, stream: str, _msg: dict[str, Any]) -> None:
        """Runs on the exchange's thread right after its book changed: record the new top of book."""
        ex = self.venue.server.exchange
        bid, ask = ex.books[SYMBOL].best_bid(), ex.books[SYMBOL].best_ask()
        if stream.endswith("@depth") and bid is not None and ask is not None:
            sc = ex.scales[SYMBOL]
            self.tops.append(Top(ex.clock.now_ns(), sc.price(bid[0]), sc.price(ask[0])))

    def __enter__(self) -> Market:
        self.venue.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.venue.close()

    @property
    def url(self) -> str:
        return self.venue.url

    @property
    def replay_done(self) -> bool:
        return self.venue.server.replay.done

    def fills(self) -> list[VenueFill]:
        """Our account's fills in booking order, named by client order id."""

        def read() -> list[VenueFill]:
            led = self.venue.server.exchange.ledger
            cids = {o.order_id: o.client_order_id for o in led.orders.values()}
            return [
                VenueFill(
                    cids[t.order_id],
                    "BUY" if t.is_buyer else "SELL",
                    t.qty,
                    t.price,
                    t.commission,
                    t.commission_asset,
                    t.time_ms,
                )
                for t in led.trades
                if t.account == self.venue.account
            ]

        return self.venue.call(read)


def node_config(
    market: Market,
    tmp_path: Path,
    strategies: list[dict[str, Any]],
    limits: dict[str, Any] | None = None,
    **over: Any,
) -> NodeConfig:
    """A live node config on ``market``: journal and risk audit in ``tmp_path`` where the oracle reads them."""
    state = tmp_path / "state"
    risk_limits = {**LIMITS, **(limits or {})}
    raw: dict[str, Any] = {
        "mode": "live",
        "live_enabled": True,
        "state_dir": str(state),
        "journal_url": journal_url(tmp_path),
        "bar_interval": "200ms",
        "bar_grace_ms": 30,
        "reconcile_interval_s": 0.5,
        "settle_timeout_s": 5,
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": market.url},
        "strategies": strategies,
        # the recorded spread varies a lot at replay speed: the spread breaker would pause the test's trading
        "risk": {"limits": risk_limits, "state_dir": str(state / "risk-state"), "audit_url": risk_audit_url(tmp_path)},
    }
    raw.update(over)
    return parse_node_config(raw)


def journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


def risk_audit_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'risk_audit.db'}"


def make_node(
    cfg: NodeConfig, market: Market, strategy_classes: dict[str, type[Strategy]] | None = None
) -> TradingNode:
    """The node with the sentinel account's credentials in its environment, as production passes them."""
    v = market.venue
    env = {"BOT4__MAIN__API_KEY": v.api_key, "BOT4__MAIN__SECRET": v.secret}
    return TradingNode(cfg, "live", env=env, strategy_classes=strategy_classes, stale_after_s=5.0, user_silence_s=5)


async def drive(
    node: TradingNode,
    until: Callable[[], bool],
    timeout: float,
    on_start: Callable[[], None] | None = None,
    every: Callable[[], None] | None = None,
) -> int:
    """Run ``node`` until ``until()`` holds (or ``timeout`` s), then stop it as SIGTERM does; its exit code."""
    task = asyncio.create_task(node.run())
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end and not task.done():
        if node.started.is_set():
            if on_start is not None:
                on_start()
                on_start = None
            if every is not None:
                every()
            if until():
                break
        await asyncio.sleep(0.05)
    node.request_stop("end of test")
    return await asyncio.wait_for(task, 20)


def product_logging(log_file: Path) -> list[logging.Handler]:
    """bot4's own JSON log setup at DEBUG into ``log_file`` only (the sentinel search reads it afterwards)."""
    from bot4.monitor.logs import configure_logging

    sink = log_file.with_suffix(".stream").open("w")
    return configure_logging(logging.DEBUG, json=True, stream=sink, file=log_file)


def unconfigure_logging(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for h in handlers:
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.WARNING)


__all__ = [
    "IID",
    "Market",
    "Top",
    "VenueFill",
    "drive",
    "journal_url",
    "looped",
    "make_node",
    "node_config",
    "product_logging",
    "risk_audit_url",
    "unconfigure_logging",
]
