"""A minimal user-data stream reader for client-level scenarios (A3, C1-C3).

It runs on the server's event loop (listenKey + ``/ws/<key>``), turns each ``executionReport`` into an
``ExecReport`` exactly as Binance defines the fields (``t`` trade id, ``I`` execution id, ``z``
cumulative, ``l``/``L`` last qty/price, ``n``/``N`` fee and its asset) and queues it; the test thread
hands queued reports to the order manager with ``pump``, so the manager stays single-threaded.
The node-level scenarios use bot4's own ``bot4.venues.streams.UserStream`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp

from bot4.execution.http_client import BINANCE_ORDER_STATUS
from bot4.execution.order_manager import OrderManager
from bot4.execution.records import ExecReport
from bot4.model.enums import Liquidity, Side
from bot4.model.fill import Fill
from tests.acceptance.catalogue.server import SimVenue

MS = 1_000_000


def parse_execution_report(msg: dict[str, Any], instrument_id: str) -> ExecReport:
    cid, status = str(msg["c"]), BINANCE_ORDER_STATUS.get(str(msg["X"]))
    ts = int(msg["T"]) * MS
    fill = None
    if msg["x"] == "TRADE":
        fill = Fill(
            str(msg["t"]), cid, "", instrument_id, Side(str(msg["S"])), Decimal(msg["l"]), Decimal(msg["L"]),
            Decimal(msg["n"]), str(msg["N"]), Liquidity.MAKER if msg["m"] else Liquidity.TAKER, ts,
        )  # fmt: skip
    return ExecReport(
        cid, status, int(msg["I"]), ts, instrument_id, Decimal(msg["z"]), fill, int(msg["t"]) if fill else 0
    )


class UserFeed:
    """Reads the account's user stream into ``reports`` (a thread-safe queue); ``raw`` keeps every message."""

    def __init__(self, venue: SimVenue, instrument_id: str) -> None:
        self.venue = venue
        self.instrument_id = instrument_id
        self.reports: queue.Queue[ExecReport] = queue.Queue()
        self.raw: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    def start(self) -> UserFeed:
        async def begin() -> None:
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._read())
            await asyncio.wait_for(self._ready.wait(), 5)

        self.venue.run(begin())
        return self

    async def _read(self) -> None:
        assert self._ready is not None
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{self.venue.url}/api/v3/userDataStream", headers={"X-MBX-APIKEY": self.venue.api_key}
            ) as r:
                key = (await r.json())["listenKey"]
            async with session.ws_connect(f"{self.venue.ws_url}/ws/{key}") as ws:
                self._ready.set()
                async for m in ws:
                    if m.type is not aiohttp.WSMsgType.TEXT:
                        continue
                    msg = json.loads(m.data)
                    if msg.get("e") == "executionReport":
                        self.reports.put(parse_execution_report(msg, self.instrument_id))
                    self.raw.append(msg)  # after queueing: a test that saw it in ``raw`` finds it in the queue

    def close(self) -> None:
        async def stop() -> None:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

        self.venue.run(stop())

    def pump(self, oms: OrderManager, until: Callable[[], bool] = lambda: False, timeout: float = 3.0) -> int:
        """Hand queued reports to ``oms`` until ``until()`` holds or ``timeout`` passes; returns how many."""
        n, end = 0, time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            try:
                report = self.reports.get(timeout=0.02)
            except queue.Empty:
                continue
            oms.on_report(report)
            n += 1
        while not self.reports.empty():  # whatever arrived already goes in too
            oms.on_report(self.reports.get_nowait())
            n += 1
        return n
