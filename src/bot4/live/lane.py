"""The trading lane: one worker thread that owns the engine, order manager, risk engine and journal.

Why a thread at all: the order manager's venue calls are synchronous REST (ccxt), and an exchange can
hang for the whole request timeout (reliability.md E4). On the asyncio loop such a call would freeze
the WebSocket readers, the watchdogs, the risk timer and the control API (the kill switch must act
within 5 s, F3). So the loop only does I/O and hands every call into the trading objects to this lane.

Why exactly one thread: every market event, user-stream report, timer and operator action is applied
in the order it was posted (FIFO), one at a time, which is the same semantics as the backtest's
single-threaded engine: strategies, risk and the order manager never see interleaved calls and need
no locks. More threads would buy nothing for this Python code (the GIL runs one at a time anyway) and
would lose that ordering.

What the loop may still read directly: plain attributes holding immutable values (``busy()`` is one
tuple read). Anything mutable (dicts of orders, positions) is copied on the lane and published.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

log = logging.getLogger("bot4.node.lane")
T = TypeVar("T")

__all__ = ["LaneBusy", "LaneClosed", "TradingLane"]


class _Monotonic(Protocol):
    def monotonic_ns(self) -> int: ...


class LaneClosed(RuntimeError):
    """A call was posted to a lane that is not running (never started, or already stopped)."""


@dataclass(frozen=True, slots=True)
class LaneBusy:
    """The call the lane is running now: its sequence number, a label, and when it started (monotonic ns)."""

    seq: int
    label: str
    started_ns: int


@dataclass(slots=True)
class _Job:
    seq: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    reply: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]] | None


class TradingLane:
    """``post(fn, *args)`` from the loop (fire and forget), ``await call(fn, *args)`` for the result."""

    def __init__(self, clock: _Monotonic, name: str = "bot4-trading-lane") -> None:
        self.clock = clock
        self.name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._closed = False
        self.thread_id: int | None = None
        self.current: LaneBusy | None = None  # replaced (never mutated) by the lane: safe to read anywhere
        self.done = 0  # calls finished
        self.errors = 0  # posted calls that raised (logged; a call()'s error goes to its caller)

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._closed

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: started twice")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Run what is queued, then end the thread; False if it did not end within ``timeout_s``."""
        if self._thread is None or self._closed:
            return True
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        if alive:
            log.error("%s: still busy after %.1f s (%s); left behind", self.name, timeout_s, self.current)
        return not alive

    def on_lane(self) -> bool:
        return threading.get_ident() == self.thread_id

    def queued(self) -> int:
        return self._queue.qsize()

    def busy(self) -> LaneBusy | None:
        return self.current

    # -- posting ---------------------------------------------------------------------------------------

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; an exception it raises is logged on the lane, never lost silently."""
        self._put(fn, args, None)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Queue ``fn(*args)`` and wait for its result (or exception) without blocking the loop.

        Cancelling the wait does not cancel the call: once posted it runs in its turn (FIFO), and its
        result is dropped.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._put(fn, args, (loop, fut))
        return await fut

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)`` for a caller on another (non-loop) thread, which may block on the future."""
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiter
                done.set_exception(exc)

        run.__qualname__ = _label(fn)
        self._put(run, (), None)
        return done

    def _put(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        reply: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]] | None,
    ) -> None:
        if not self.running:
            raise LaneClosed(f"{self.name}: not running; cannot run {_label(fn)}")
        self._seq += 1
        self._queue.put(_Job(self._seq, fn, args, reply))

    # -- the worker ------------------------------------------------------------------------------------

    def _run(self) -> None:
        self.thread_id = threading.get_ident()
        while True:
            job = self._queue.get()
            if job is None:
                return
            self.current = LaneBusy(job.seq, _label(job.fn), self.clock.monotonic_ns())
            ok, value = True, None
            try:
                value = job.fn(*job.args)
            except BaseException as exc:  # handed to the caller or logged; the lane goes on
                ok, value = False, exc
                if job.reply is None:
                    self.errors += 1
                    log.error("lane: %s raised", _label(job.fn), exc_info=exc)
            finally:
                self.current = None
                self.done += 1
            if job.reply is not None:
                loop, fut = job.reply
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_resolve, fut, ok, value)


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def _label(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))
