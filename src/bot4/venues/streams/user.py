"""The Binance user-data stream for the live node: execution reports in, gaps signalled at once.

A user stream cannot be replayed, so the contract with the node is about *gaps*, not delivery:
``on_gap(reason)`` fires the moment the stream may have lost an event (disconnect, ``listenKeyExpired``,
``eventStreamTerminated``, a refused keepalive, silence while orders are working, a report we cannot
read); the node then denies new orders and reconciles by REST. ``on_live()`` fires when a connection
is up again (and on the first one), and the node reconciles *before* re-enabling orders (reliability.md
C4, C5). Planned closes are not gaps: on ``serverShutdown`` or at ``max_connection_age_s`` a new
connection opens before the old one closes, and events seen on both are delivered once, keyed by
(symbol, order id ``i``, execution id ``I``).

Two ways in: the listenKey stream (``POST /api/v3/userDataStream``, ``PUT`` keepalive, ``/ws/<key>``)
and the WebSocket API (``userDataStream.subscribe.signature``, which needs ``api_secret``), the one
Binance kept after deprecating listenKey.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from bot4.execution.records import ExecReport
from bot4.venues.streams.backoff import Backoff, MonotonicClock
from bot4.venues.streams.binance_messages import MessageError, execution_key, parse_execution_report
from bot4.venues.streams.permit import MayRequest, wait_for_permit

log = logging.getLogger(__name__)

NS = 1_000_000_000
_OPEN_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError)


class UserStreamError(Exception):
    """A listenKey or subscribe request the venue refused; ``code`` is Binance's error code (0 if none)."""

    def __init__(self, msg: str, code: int = 0) -> None:
        super().__init__(msg)
        self.code = code


@dataclass(slots=True)
class UserStreamStats:
    messages: int = 0
    reports: int = 0  # execution reports delivered
    duplicates: int = 0  # the same (symbol, i, I) seen again (overlap, or a venue resend) and dropped
    malformed: int = 0  # frames that are not JSON objects (each one is also a gap)
    rejected_messages: int = 0  # execution reports we could not read (each one is also a gap)
    foreign: int = 0  # execution reports for symbols this stream was not given
    gaps: int = 0
    reconnects: int = 0
    rotations: int = 0  # overlapping reconnects (serverShutdown, age limit)
    keepalive_failures: int = 0
    callback_errors: int = 0


@dataclass(eq=False)
class _Conn:
    ws: aiohttp.ClientWebSocketResponse
    opened_ns: int
    reader: asyncio.Task[None] | None = None
    retiring: bool = False  # we are closing it on purpose: its end is not a gap
    lost: str = ""  # why it ended on its own


class UserStream:
    """One account's user-data stream; ``healthy`` is False from any gap until ``on_live``.

    Parameters beyond the node's contract: ``mode`` picks listenKey or WS API (``api_secret`` needed);
    ``probe`` is awaited when the stream has been silent for ``silence_s`` while activity is expected,
    and returns True if a REST check shows changes the stream did not deliver (without a probe, the
    silence alone is a gap); ``max_connection_age_s`` and ``overlap_s`` drive the planned rotation
    (tests compress them); ``keepalive_s`` is the listenKey ``PUT`` interval.
    """

    def __init__(
        self,
        ws_base: str,
        rest_base: str,
        api_key: str,
        clock: MonotonicClock,
        symbols: dict[str, str],
        *,
        on_report: Callable[[ExecReport], None],
        on_gap: Callable[[str], None],
        on_live: Callable[[], None],
        silence_s: float = 30.0,
        backoff: Backoff | None = None,
        mode: Literal["listen_key", "ws_api"] = "listen_key",
        api_secret: str | None = None,
        probe: Callable[[], Awaitable[bool]] | None = None,
        keepalive_s: float = 30 * 60.0,
        max_connection_age_s: float = 23.5 * 3600,
        overlap_s: float = 2.0,
        heartbeat_s: float = 20.0,
        request_timeout_s: float = 5.0,
        dedupe_size: int = 10_000,
        may_request: MayRequest | None = None,
    ) -> None:
        if not ws_base.startswith(("ws://", "wss://")):
            raise ValueError(f"ws_base: expected ws://host:port or wss://… (got {ws_base!r})")
        if not rest_base.startswith(("http://", "https://")):
            raise ValueError(f"rest_base: expected http://host:port or https://… (got {rest_base!r})")
        if not api_key:
            raise ValueError("api_key: must not be empty")
        if mode not in ("listen_key", "ws_api"):
            raise ValueError(f"mode: 'listen_key' or 'ws_api' (got {mode!r})")
        if mode == "ws_api" and not api_secret:
            raise ValueError("api_secret: the WebSocket API subscription is signed; give the secret")
        if not symbols:
            raise ValueError("symbols: give at least one instrument_id -> venue symbol")
        for name, value in (("silence_s", silence_s), ("keepalive_s", keepalive_s), ("overlap_s", overlap_s)):
            if value <= 0:
                raise ValueError(f"{name}: must be > 0 (got {value})")
        self.ws_base, self.rest_base = ws_base.rstrip("/"), rest_base.rstrip("/")
        self._key, self._secret = api_key, api_secret or ""
        self.clock = clock
        self.mode = mode
        self._instruments = {sym: iid for iid, sym in symbols.items()}
        self._on_report, self._on_gap, self._on_live = on_report, on_gap, on_live
        self._probe = probe
        self._silence_ns = int(silence_s * NS)
        self._keepalive_ns = int(keepalive_s * NS)
        self._max_age_ns = int(max_connection_age_s * NS)
        self._overlap_s = overlap_s
        self._heartbeat_s, self._timeout_s = heartbeat_s, request_timeout_s
        self._tick_s = min(0.25, silence_s / 4)
        self._backoff = backoff or Backoff()
        self._seen: OrderedDict[tuple[str, int, int], None] = OrderedDict()
        self._dedupe_size = dedupe_size
        self.stats = UserStreamStats()
        self.healthy = False
        self._expect = False
        self._last_event_ns = 0
        self._next_keepalive_ns = 0
        self._listen_key = ""
        self._primary: _Conn | None = None
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signals: asyncio.Queue[tuple[str, _Conn, str]] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._sub_seq = 0
        self._may_request = may_request  # the venue's 429/418 wait: no listenKey call during a ban (E2)

    def set_expect_activity(self, expecting: bool) -> None:
        """The node has working orders: from now on, silence longer than ``silence_s`` is a gap."""
        if expecting and not self._expect:
            self._last_event_ns = self.clock.monotonic_ns()
        self._expect = expecting

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, deliver, supervise; on a gap signal it, reconnect with backoff, then ``on_live``."""
        self._signals = asyncio.Queue()
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                while True:
                    self._primary = await self._connect()
                    self._backoff.reset()
                    self._last_event_ns = self._primary.opened_ns
                    self._next_keepalive_ns = self._primary.opened_ns + self._keepalive_ns
                    self.healthy = True
                    self._call(self._on_live)
                    reason = await self._supervise()
                    self._gap(reason)
                    await self._retire(self._primary, at_once=True)
                    self.stats.reconnects += 1
                    await asyncio.sleep(self._backoff.next_delay())
            finally:
                self.healthy = False
                for conn in list(self._conns):
                    await self._retire(conn, at_once=True)
                for task in list(self._tasks):
                    task.cancel()

    async def _connect(self) -> _Conn:
        while True:
            try:
                return await self._open()
            except (*_OPEN_ERRORS, UserStreamError) as exc:
                delay = self._backoff.next_delay()
                log.warning("user stream: connect failed (%s); retrying in %.2f s", _safe(exc), delay)
                await asyncio.sleep(delay)

    async def _supervise(self) -> str:
        """Wait for the primary connection to fail; returns the gap reason. Planned closes overlap."""
        while True:
            reason = await self._housekeeping()
            if reason:
                return reason
            try:
                kind, conn, reason = await asyncio.wait_for(self._signals.get(), self._tick_s)
            except TimeoutError:
                continue
            if conn is not self._primary:
                continue  # a retiring connection ending, or its copy of an event the primary also had
            if kind == "shutdown":
                reason = await self._rotate("serverShutdown")
                if reason:
                    return reason
                continue
            return reason

    async def _housekeeping(self) -> str:
        primary = self._primary
        assert primary is not None
        now = self.clock.monotonic_ns()
        if now - primary.opened_ns >= self._max_age_ns:
            reason = await self._rotate("connection age limit")
            if reason:
                return reason
        if self.mode == "listen_key" and now >= self._next_keepalive_ns:
            reason = await self._keepalive()
            if reason:
                return reason
        if self._expect and now - self._last_event_ns > self._silence_ns:
            silent = (now - self._last_event_ns) / NS
            if self._probe is not None and not await self._probe_ok():
                log.info("user stream: silent for %.1f s but the probe found nothing missed", silent)
                self._last_event_ns = now
                return ""
            return (
                f"silent: no user event for {silent:.1f} s while orders are working (limit {self._silence_ns / NS:g} s)"
            )
        return ""

    async def _probe_ok(self) -> bool:
        """True when the probe says the stream missed something (or the probe itself failed)."""
        assert self._probe is not None
        try:
            return await self._probe()
        except Exception as exc:
            log.warning("user stream: probe failed (%s); treating the silence as a gap", _safe(exc))
            return True

    async def _rotate(self, why: str) -> str:
        """Open the next connection before closing the current one; '' on success, else the gap reason."""
        old = self._primary
        assert old is not None
        self.stats.rotations += 1
        try:
            new = await self._open()
        except (*_OPEN_ERRORS, UserStreamError) as exc:
            if old.lost:
                return f"{why}: the connection closed and a new one failed ({_safe(exc)})"
            old.opened_ns = self.clock.monotonic_ns() - self._max_age_ns + int(self._backoff.next_delay() * NS)
            log.warning("user stream: %s: new connection failed (%s); retrying shortly", why, _safe(exc))
            return ""
        old.retiring = True
        self._primary = new
        log.info("user stream: %s: switched to a new connection", why)
        if old.lost:  # it ended before the new one was up: events in between may be lost
            self._gap(f"{why}: the old connection closed before the new one was up ({old.lost})")
            self.healthy = True
            self._call(self._on_live)
        self._spawn(self._retire(old, at_once=False))
        return ""

    async def _retire(self, conn: _Conn, *, at_once: bool) -> None:
        conn.retiring = True
        if not at_once:
            await asyncio.sleep(self._overlap_s)  # let events already on their way over it arrive
        with contextlib.suppress(*_OPEN_ERRORS):
            await conn.ws.close()
        if conn.reader is not None:
            conn.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.reader
        self._conns.discard(conn)

    def _gap(self, reason: str) -> None:
        if not self.healthy:
            return  # already in a gap: the node is reconciling
        self.healthy = False
        self.stats.gaps += 1
        log.warning("user stream gap: %s", reason)
        self._call(self._on_gap, reason)

    # -- connections -------------------------------------------------------------------------------

    async def _open(self) -> _Conn:
        assert self._session is not None
        if self.mode == "listen_key":
            body = await self._rest("POST", {})
            key = body.get("listenKey") if isinstance(body, dict) else None
            if not isinstance(key, str) or not key:
                raise UserStreamError("POST /api/v3/userDataStream: no listenKey in the answer")
            self._listen_key = key
            url = f"{self.ws_base}/ws/{key}"
        else:
            await wait_for_permit(self._may_request, "user stream connect")
            url = f"{self.ws_base}/ws-api/v3"
        ws = await asyncio.wait_for(self._session.ws_connect(url, heartbeat=self._heartbeat_s), self._timeout_s)
        conn = _Conn(ws, self.clock.monotonic_ns())
        try:
            if self.mode == "ws_api":
                await self._subscribe(ws)
        except BaseException:
            await ws.close()
            raise
        self._conns.add(conn)
        conn.reader = self._spawn(self._read(conn))
        return conn

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        params = {"apiKey": self._key, "timestamp": str(self.clock.now_ns() // 1_000_000)}
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["signature"] = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        self._sub_seq += 1
        ident = f"bot4-sub-{self._sub_seq}"
        await ws.send_str(json.dumps({"id": ident, "method": "userDataStream.subscribe.signature", "params": params}))
        async with asyncio.timeout(self._timeout_s):
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise UserStreamError(f"userDataStream.subscribe: connection ended ({msg.type.name})")
                with contextlib.suppress(ValueError):
                    reply = json.loads(msg.data)
                    if isinstance(reply, dict) and reply.get("id") == ident:
                        break
        if reply.get("status") != 200:
            err = reply.get("error") or {}
            raise UserStreamError(f"userDataStream.subscribe: {err.get('msg', reply)}", int(err.get("code", 0)))

    async def _keepalive(self) -> str:
        now = self.clock.monotonic_ns()
        wait = self._may_request() if self._may_request is not None else 0.0
        if wait > 0:  # never probe a banning venue; the key lives 60 min, a lost one shows up as -1125 after
            self._next_keepalive_ns = now + int(min(wait, 30.0) * NS)
            return ""
        try:
            await self._rest("PUT", {"listenKey": self._listen_key})
        except UserStreamError as exc:
            if exc.code == -1125:  # "This listenKey does not exist.": it expired, events are being lost
                return f"listenKey keepalive refused: {exc}"
            self.stats.keepalive_failures += 1
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            self.stats.keepalive_failures += 1
            log.warning("user stream: listenKey keepalive failed (%s); retrying in 30 s", _safe(exc))
        else:
            self._next_keepalive_ns = now + self._keepalive_ns
            return ""
        self._next_keepalive_ns = now + min(self._keepalive_ns, 30 * NS)
        return ""

    async def _rest(self, method: str, params: dict[str, str]) -> Any:
        assert self._session is not None
        where = f"{method} /api/v3/userDataStream"
        await wait_for_permit(self._may_request, where)
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with self._session.request(
            method, f"{self.rest_base}/api/v3/userDataStream", params=params,
            headers={"X-MBX-APIKEY": self._key}, timeout=timeout,
        ) as resp:  # fmt: skip
            status, text = resp.status, await resp.text()
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            raise UserStreamError(f"{where}: HTTP {status}, body is not JSON ({len(text)} chars)") from None
        if status != 200:
            code = body.get("code", 0) if isinstance(body, dict) else 0
            msg = body.get("msg", "") if isinstance(body, dict) else ""
            raise UserStreamError(f"{where}: HTTP {status}: {code} {msg}", int(code) if isinstance(code, int) else 0)
        return body

    # -- reading -----------------------------------------------------------------------------------

    async def _read(self, conn: _Conn) -> None:
        reason = ""
        try:
            async for msg in conn.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self._on_text(conn, "")  # not an event we can read: counted, and a gap
                else:
                    break
        except (aiohttp.ClientError, OSError) as exc:
            reason = f"read failed ({type(exc).__name__})"
        if not conn.retiring:
            conn.lost = reason or f"disconnected (close code {conn.ws.close_code})"
            self._signals.put_nowait(("closed", conn, conn.lost))

    def _on_text(self, conn: _Conn, text: str) -> None:
        self.stats.messages += 1
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        data = frame.get("event", frame.get("data", frame)) if isinstance(frame, dict) else None
        if isinstance(frame, dict) and "id" in frame and "event" not in frame:
            return  # a WS API response (subscribe, ping): not an event
        if not isinstance(data, dict):
            # unlike a depth diff, a lost user event is not revealed by the next one: it is a gap (E5)
            self.stats.malformed += 1
            log.warning("user stream: dropped a frame that is not a JSON object (%d chars)", len(text))
            self._signals.put_nowait(("bad_event", conn, "a user-stream frame was not valid JSON"))
            return
        self._last_event_ns = self.clock.monotonic_ns()
        kind = data.get("e")
        if kind == "executionReport":
            self._execution(conn, data)
        elif kind == "listenKeyExpired":
            self._signals.put_nowait(("expired", conn, "listenKeyExpired: the venue stopped this stream"))
        elif kind == "eventStreamTerminated":
            self._signals.put_nowait(("terminated", conn, "eventStreamTerminated: the subscription ended"))
        elif kind == "serverShutdown":
            self._signals.put_nowait(("shutdown", conn, "serverShutdown"))

    def _execution(self, conn: _Conn, data: dict[str, Any]) -> None:
        if str(data.get("s")) not in self._instruments:
            self.stats.foreign += 1
            log.warning("user stream: executionReport for symbol %r not configured here; ignored", data.get("s"))
            return
        try:
            key = execution_key(data)
            report = parse_execution_report(data, self._instruments)
        except MessageError as exc:
            self.stats.rejected_messages += 1
            log.error("user stream: unreadable execution report: %s", exc)
            self._signals.put_nowait(("bad_event", conn, f"unreadable execution report: {exc}"))
            return
        if key in self._seen:
            self.stats.duplicates += 1
            return
        self._seen[key] = None
        if len(self._seen) > self._dedupe_size:
            self._seen.popitem(last=False)
        self.stats.reports += 1
        self._call(self._on_report, report)

    # -- helpers -----------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("user stream callback %s raised", getattr(fn, "__name__", fn))


def _safe(exc: BaseException) -> str:
    """An exception for the log, without URLs (a listenKey in a URL is a credential, S4)."""
    text = str(exc)
    return f"{type(exc).__name__}" + ("" if "/ws/" in text or "listenKey" in text else f": {text}")
