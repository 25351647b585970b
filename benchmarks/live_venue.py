"""The local exchange for ``live_loop.py``, in a child process so it has its own core and interpreter lock.

The parent drives the replay over a pipe: ``("paced", speed)`` plays the recorded BTC/USDT quotes and
trades in their rhythm, ``speed`` times faster; ``("flood",)`` plays them as fast as the server's
per-connection writer drains (backpressure on its queue); ``("idle",)`` stops. The recording plays
round and round, trade ids shifted each lap so none repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
from decimal import Decimal
from pathlib import Path
from typing import Any

KEY, SECRET = "bench-key", "bench-secret"


def serve(conn: Any, data_dir: str) -> None:
    """Child process entry: run the server; the parent drives the replay with ("paced", speed) / ("flood",)."""
    asyncio.run(_serve(conn, Path(data_dir)))


async def _serve(conn: Any, data: Path) -> None:
    from bot4.venues.sim.server import Account, ExchangeServer, ServerConfig, WeightLimiter

    balances = {"USDT": Decimal(10**7), "BTC": Decimal(100)}
    config = ServerConfig(
        accounts=[Account("bench", KEY, SECRET, balances)],
        data=[data / "btcusdt-quotes.parquet", data / "btcusdt-trades.parquet"],
        limiter=WeightLimiter(capacity=10**9),  # the benchmark measures the node, not the venue's weight limit
    )
    server = ExchangeServer(config)
    await server.start()
    conn.send(server.port)
    pump = _Pump(server)
    task: asyncio.Task[None] | None = None
    while True:
        if conn.poll():
            cmd = conn.recv()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                task = None
            if cmd[0] == "stop":
                break
            if cmd[0] == "paced":
                task = asyncio.create_task(pump.paced(float(cmd[1])))
            elif cmd[0] == "flood":
                task = asyncio.create_task(pump.flood())
            conn.send(pump.played)
        await asyncio.sleep(0.02)
    await server.close()


class _Pump:
    """Plays the recorded events round and round; trade ids move on each lap so none repeats."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.events = server.replay.events
        self.lap_ids = max(e.trade_id for e in self.events) - min(e.trade_id for e in self.events) + 1
        self.lap_ns = self.events[-1].ts_ns - self.events[0].ts_ns + 1_000_000
        self.pos, self.lap, self.played = server.replay.position, 0, 0

    def _next(self) -> int:
        """Apply one event; returns its recorded time on the endless timeline."""
        ev = self.events[self.pos]
        ex = self.server.exchange
        if ev.kind == "quote":
            ex.on_quote(ev.symbol, ev.a, ev.b, ev.c, ev.d)
        else:
            ex.on_trade(ev.symbol, ev.trade_id + self.lap * self.lap_ids, ev.a, ev.b, ev.buyer_maker)
        ts: int = ev.ts_ns + self.lap * self.lap_ns
        self.pos, self.played = self.pos + 1, self.played + 1
        if self.pos == len(self.events):
            self.pos, self.lap = 0, self.lap + 1
        return ts

    def _queues(self) -> list[int]:
        return [s.queue.qsize() for s in self.server.api.hub.subscribers if any("@" in k for k in s.streams)]

    async def paced(self, speed: float) -> None:
        loop = asyncio.get_running_loop()
        t0_loop, t0_data = loop.time(), self.events[self.pos].ts_ns + self.lap * self.lap_ns
        while True:
            ts = self._next()
            wait = t0_loop + (ts - t0_data) / 1e9 / speed - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)

    async def flood(self) -> None:
        while True:
            queues = self._queues()
            if not queues or max(queues) > 256:
                await asyncio.sleep(0.0005)
                continue
            for _ in range(32):
                self._next()
            await asyncio.sleep(0)


class ServerProcess:
    """The running child: ``url`` to point the node at, ``pump(...)`` to drive the replay, ``close()``."""

    def __init__(self, data: Path) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, str(data)), daemon=True)
        self.proc.start()
        self.pid = int(self.proc.pid or 0)
        if not self.conn.poll(60):
            raise SystemExit("live_loop: the exchange server did not start within 60 s")
        self.url = f"http://127.0.0.1:{self.conn.recv()}"

    def pump(self, *cmd: Any) -> int:
        self.conn.send(cmd)
        return int(self.conn.recv())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("stop",))
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
