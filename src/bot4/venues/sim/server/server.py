"""Start and stop the local exchange on 127.0.0.1: the in-process handle tests and the CLI use.

The server refuses any host but loopback: it holds test keys and would be a trading endpoint for
anyone who could reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot4.engine.clock import LiveClock
from bot4.venues.sim.server.accounts import Account
from bot4.venues.sim.server.app import ExchangeApp
from bot4.venues.sim.server.clock import ServerClock
from bot4.venues.sim.server.exchange import SimExchange
from bot4.venues.sim.server.faults import FaultPlan
from bot4.venues.sim.server.latency import LatencyModel
from bot4.venues.sim.server.listing import Listing
from bot4.venues.sim.server.ratelimit import WeightLimiter
from bot4.venues.sim.server.replay import Replay, load_events

LOOPBACK = frozenset({"127.0.0.1", "localhost"})


@dataclass
class ServerConfig:
    """Everything ``serve`` needs; ``speed=None`` leaves the replay to be stepped by hand."""

    accounts: list[Account]
    data: list[Path] = field(default_factory=list)
    listing: Listing = field(default_factory=Listing)
    faults: FaultPlan = field(default_factory=FaultPlan)
    latency: LatencyModel = field(default_factory=LatencyModel.zero)
    limiter: WeightLimiter = field(default_factory=WeightLimiter)
    speed: float | None = None
    warmup_events: int | None = None  # None: play up to the first quote, so the book is two-sided
    debug: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    clock: ServerClock | None = None
    candles: list[Path] = field(default_factory=list)  # OHLCV files served by GET /api/v3/klines


class ExchangeServer:
    """The running server: ``exchange`` (ledger, venues), ``replay`` and ``hub`` are open to tests."""

    def __init__(self, config: ServerConfig) -> None:
        if config.host not in LOOPBACK:
            raise ValueError(f"host: the local exchange binds to 127.0.0.1 only (got {config.host!r})")
        if not config.accounts:
            raise ValueError("accounts: give at least one test account")
        self.config = config
        self.exchange = SimExchange([config.listing], config.accounts, config.clock or LiveClock())
        events = load_events(config.data, config.listing.symbol) if config.data else []
        self.replay = Replay(self.exchange, events)
        self.api = ExchangeApp(
            self.exchange,
            replay=self.replay,
            faults=config.faults,
            latency=config.latency,
            limiter=config.limiter,
            debug=config.debug,
        )
        self.api.klines.load(config.candles)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._replay_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> int:
        """Warm the book up, bind, start pacing the replay if asked; returns the bound port."""
        if self.config.warmup_events is None:
            self.replay.step_until("quote")
        else:
            self.replay.step(self.config.warmup_events)
        runner = web.AppRunner(self.api.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.config.port)
        await site.start()
        self._runner = runner
        server = site._server
        assert server is not None and isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        if self.config.speed is not None:
            self._replay_task = asyncio.create_task(self.replay.run(self.config.speed))
        return self.port

    async def close(self) -> None:
        if self._replay_task is not None:
            self._replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay_task
            self._replay_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExchangeServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
