"""The trading lane: FIFO order, errors, and the node never running engine code on the loop thread (E4)."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from bot4.engine.clock import LiveClock
from bot4.live.lane import LaneClosed, TradingLane
from bot4.live.stall import StallWatch
from bot4.model.events import TradeTick
from tests.unit.live.test_node_paper import IID, INST, T0, S, make_node


def test_lane_when_posts_and_calls_interleave_then_run_in_fifo_order_on_one_thread() -> None:
    async def scenario() -> tuple[list[int], set[int], int, list[int]]:
        lane = TradingLane(LiveClock())
        lane.start()
        out: list[int] = []
        threads: set[int] = set()

        def work(i: int) -> int:
            threads.add(threading.get_ident())
            out.append(i)
            return i

        results = []
        for i in range(2000):
            if i % 100 == 99:
                results.append(await lane.call(work, i))  # the result comes back to the loop
            else:
                lane.post(work, i)
        results.append(await lane.call(work, 2000))
        assert lane.stop()
        return out, threads, lane.thread_id or 0, results

    out, threads, lane_id, results = asyncio.run(scenario())
    assert out == list(range(2001))
    assert threads == {lane_id} and lane_id != threading.get_ident()
    assert results == [*range(99, 2000, 100), 2000]


def test_lane_when_call_raises_then_caller_gets_it_and_a_posted_error_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(what: str) -> None:
        raise ValueError(what)

    async def scenario() -> TradingLane:
        lane = TradingLane(LiveClock())
        lane.start()
        with pytest.raises(ValueError, match="for the caller"):
            await lane.call(boom, "for the caller")
        lane.post(boom, "posted")
        assert await lane.call(lambda: 7) == 7  # the lane went on
        lane.stop()
        return lane

    with caplog.at_level(logging.ERROR, logger="bot4.node.lane"):
        lane = asyncio.run(scenario())
    assert lane.errors == 1 and any("boom raised" in r.getMessage() for r in caplog.records)
    with pytest.raises(LaneClosed, match="not running"):
        lane.post(print, "late")


def test_stall_watch_when_call_hangs_then_entries_blocked_and_lifted_only_after_heal_answers_e4(
    tmp_path: Path,
) -> None:
    node = make_node(tmp_path)
    gate = node.gate
    assert gate is not None
    release = threading.Event()
    heals: list[str | None] = []

    async def heal() -> bool:
        heals.append(gate.venue_stall)
        if len(heals) < 2:
            return False  # the first heal cannot reach the venue: entries stay blocked (B3)
        gate.venue_stall = None  # the node's heal does this on the lane after resync + reconcile
        return True

    async def scenario() -> tuple[list[str | None], StallWatch]:
        lane = TradingLane(LiveClock())
        lane.start()
        watch = StallWatch(lane, gate, 0.2, heal)
        lane.post(release.wait, 5)
        seen: list[str | None] = []
        for i in range(100):
            watch.check()
            seen.append(gate.venue_stall)
            if i == 20:
                release.set()
            if len(heals) >= 2 and not watch.stalled:
                break
            await asyncio.sleep(0.02)
        lane.stop()
        return seen, watch

    seen, watch = asyncio.run(scenario())
    assert seen[0] is None  # 0.2 s have not passed yet
    assert seen[20] is not None and "Event.wait running for" in seen[20]
    ev = watch.events[0]
    assert len(watch.events) == 1 and ev.returned_ns is not None and ev.healed_ns is not None
    assert heals[0] is not None and heals[1] is not None  # still blocked while healing, even after the return
    assert len(heals) == 2 and gate.venue_stall is None and not watch.stalled
    assert 0.2 <= (ev.detected_ns - ev.call_started_ns) / 1e9 < 0.5
    asyncio.run(node.shutdown())


def test_node_when_feed_and_timers_drive_it_then_engine_runs_only_on_the_lane_thread(tmp_path: Path) -> None:
    """Every call the loop makes into engine, order manager and risk lands on the lane thread."""
    node = make_node(tmp_path)
    assert node.engine is not None and node.oms is not None
    threads: list[tuple[str, int]] = []
    engine: Any = node.engine
    for name in ("on_trade", "on_bar", "cancel_all", "stop"):
        inner = getattr(engine, name)

        def wrapped(*a: Any, _inner: Any = inner, _name: str = name, **kw: Any) -> Any:
            threads.append((_name, threading.get_ident()))
            return _inner(*a, **kw)

        setattr(engine, name, wrapped)
    oms_poll = node.oms.poll

    def poll() -> None:
        threads.append(("oms.poll", threading.get_ident()))
        oms_poll()

    node.oms.poll = poll  # type: ignore[method-assign]

    async def scenario() -> None:
        node._loop = asyncio.get_running_loop()
        node.lane.start()
        node._start_tasks()  # the real wiring: feed callbacks, timers, watchdog (the feed cannot connect)
        for i, price in enumerate([40_000.0, 40_100.0, 40_200.0, 40_300.0]):
            node.feed._on_trade(TradeTick(IID, T0 + i * S, price, 0.01, "BUY", str(i)))  # as the feed calls it
        await asyncio.sleep(0.35)  # a few order-poll timer runs
        await node.shutdown()

    asyncio.run(scenario())
    names = {n for n, _ in threads}
    assert {"on_trade", "on_bar", "cancel_all", "stop", "oms.poll"} <= names, names
    assert {t for _, t in threads} == {node.lane.thread_id} and node.lane.thread_id != threading.get_ident()
    assert node.oms.orders and INST.id == IID


def test_lane_submit_when_called_from_another_thread_then_runs_on_the_lane_and_returns_or_raises() -> None:
    lane = TradingLane(LiveClock())
    lane.start()
    try:
        assert lane.submit(threading.get_ident).result(timeout=2) == lane.thread_id != threading.get_ident()
        with pytest.raises(KeyError, match="missing"):
            lane.submit({}.__getitem__, "missing").result(timeout=2)
    finally:
        assert lane.stop()
