"""Tick-to-order latency and market-data throughput through the live trading node, against the local exchange.

The local exchange server (``bot4.venues.sim.server``) runs in a child process, so it has its own
core and interpreter lock like a real venue, and replays the recorded Binance BTC/USDT quotes and
trades (``shared/data/nautilus_trader/binance``) in a loop, trade ids shifted each lap. The node under
test is the real ``TradingNode`` in live mode (ccxt REST, user stream, risk engine on, SQLite journal),
built from a ``NodeConfig`` like ``bot4 run`` builds it. Prints one JSON object:

* ``latency``: a benchmark strategy sends a GTC limit buy 3 % under the bid on every
  ``--every``-th trade tick (and cancels older ones so a few rest). Per order: from the moment the
  WebSocket frame carrying the trade was read off the socket (stamped in the connection's
  ``data_received``) to the moment the order request was written to the socket (urllib3's
  ``request`` returned); ``handler_to_order`` starts when the feed's frame handler is entered. The
  feed runs on the event loop, strategy and REST calls on the node's trading thread (its lane).
  Stages split the path at seams wrapped from outside (feed handler, journal intent commit, venue
  client submit, request gate admit): no bot4 source is changed. The stamps cost well under 1 µs.
  The strategy runs in a ``TradingNode`` subclass that only adds those wrappers when its tasks start.
* ``throughput``: the server sends as fast as its writer drains (backpressure on its per-connection
  queue); messages the feed processed per second over ``--seconds``, for the feed alone (no-op
  callbacks) and for the whole node (feed + bars + risk + engine + strategy, no orders). The
  node's CPU time in the window gives messages per CPU-second, which does not depend on how fast
  the server can send (msgs/s is bounded by the server's sending and by how the processes share a
  small machine's cores: see ``server_cpu_share``).

    python benchmarks/live_loop.py [--seconds 10] [--orders 300] [--every 20] [--speed 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

from live_venue import KEY, SECRET, ServerProcess

DATA = Path(os.environ.get("BOT4_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
IID = "BINANCE:BTC/USDT"
ENV = {"BOT4__MAIN__API_KEY": KEY, "BOT4__MAIN__SECRET": SECRET}
STAGES = (
    "rx_to_handler", "handler_to_strategy", "strategy_to_journal", "journal_commit", "journal_to_venue",
    "venue_to_gate", "gate_to_wire",
)  # fmt: skip
# This benchmark's own goals (issue 7 sets none): the node's share of tick-to-order should stay under a typical
# network round trip to the exchange (20 ms), and the node should keep up with several times a busy BTCUSDT
# trade + depth@100ms stream.
TARGETS = {"tick_to_order_p99_us": 20_000, "node_msgs_per_s": 5_000}
now = time.perf_counter_ns


# -- the node under test ---------------------------------------------------------------------------------


class Probe:
    """Monotonic stamps along one trade message's path to the order request on the wire.

    The feed runs on the event loop; the strategy, order manager and REST calls may run on another
    thread (the node's trading lane), so a trade's loop-side stamps travel keyed by its trade id.
    """

    def __init__(self) -> None:
        self.armed = False
        self.rx: dict[int, int] = {}  # id(frame text) -> ns it was read off the socket
        self.frame = (0, 0)  # loop side: (read off the socket, handler entered) of the frame being handled
        self.by_trade: dict[str, tuple[int, int]] = {}  # trade id -> its frame's stamps, until the strategy sees it
        self.cur: list[int] = []  # order side: rx, handler, strategy, journal 0/1, venue, gate
        self.in_order = False
        self.wire_pending = False
        self.wire_at = 0
        self.samples: list[tuple[int, ...]] = []
        self.round_trips: list[int] = []  # order request written -> the venue's answer handled (not in the latency)
        self.unstamped_rx = 0
        self.throttle_sleeps = 0
        self.throttle_ns = 0
        self.ccxt_throttle = True  # False: ccxt's own client-side rate limiter off (diagnostic)

    def hook_socket(self, ws: Any) -> None:
        """Stamp each text frame the connection's parser queues while reading one chunk from the socket."""
        from aiohttp import WSMsgType

        proto, buf = ws._conn.protocol, ws._reader._buffer
        received, rx = proto.data_received, self.rx

        def data_received(data: bytes) -> None:
            t, n = now(), len(buf)
            received(data)
            for i in range(n, len(buf)):
                msg = buf[i][0]
                if msg.type is WSMsgType.TEXT:
                    rx[id(msg.data)] = t

        proto.data_received = data_received

    def send(self, stamps: tuple[int, int] | None, submit: Any) -> str:
        """Run the strategy's ``submit`` with the order-side hooks on; without frame stamps it is not timed."""
        if stamps is None:
            return str(submit())
        self.cur, self.in_order = [*stamps, now()], True
        try:
            return str(submit())
        finally:
            self.in_order = False

    def on_wire(self) -> None:
        if self.wire_pending:
            self.wire_pending, self.wire_at = False, now()
            self.samples.append((*self.cur, self.wire_at))


PROBE = Probe()


def _hook_wire() -> None:
    """The request is written once urllib3's ``request`` returns (ccxt sync -> requests -> urllib3)."""
    import urllib3.connection

    cls = urllib3.connection.HTTPConnection
    original = cls.request

    def request(self: Any, *a: Any, **kw: Any) -> Any:
        out = original(self, *a, **kw)
        PROBE.on_wire()
        return out

    cls.request = request  # type: ignore[method-assign]


def _strategy_class() -> Any:
    from pydantic import Field

    from bot4.model.events import QuoteTick, TradeTick
    from bot4.strategies.base import Strategy, StrategyConfig

    class TickOrdersConfig(StrategyConfig):
        every: int = Field(10, ge=0, description="order on every n-th trade tick; 0 = never")
        keep: int = Field(4, ge=1, description="resting orders kept; older ones are cancelled")
        size: Decimal = Field(Decimal("0.0002"), gt=0)
        discount: Decimal = Field(Decimal("0.03"), gt=0, lt=1, description="limit price under the bid")

    class TickOrders(Strategy):
        """Sends from on_trade, so the order goes out inside the handling of the trade message itself."""

        name = "bench_tick_orders"
        Config = TickOrdersConfig

        def on_start(self) -> None:
            assert isinstance(self.config, TickOrdersConfig)
            self.cfg = self.config
            self.n = 0
            self.bid: float | None = None
            self.mine: deque[str] = deque()

        def on_quote(self, quote: QuoteTick) -> None:
            self.bid = quote.bid

        def on_trade(self, tick: TradeTick) -> None:
            self.n += 1
            stamps = PROBE.by_trade.pop(tick.trade_id, None)
            every = self.cfg.every
            if not every or not PROBE.armed or self.bid is None:
                return
            if self.n % every == 0:
                inst = self.ctx.instrument(tick.instrument_id)
                price = inst.make_price(Decimal(repr(self.bid)) * (1 - self.cfg.discount))
                # a plain GTC limit: 3 % under the bid it rests like a post-only one would
                iid, size = tick.instrument_id, self.cfg.size
                self.mine.append(
                    PROBE.send(stamps, lambda: self.ctx.submit(iid, "BUY", size, type="LIMIT", price=price))
                )
            elif self.n % every == every // 2 and len(self.mine) > self.cfg.keep:
                self.ctx.cancel(self.mine.popleft())

    return TickOrders


def _bench_node(config: Any) -> Any:
    from bot4.live.node import TradingNode

    class BenchNode(TradingNode):
        """The node as is, with stamps wrapped around the feed, journal, venue client and request gate."""

        def _start_tasks(self) -> None:
            super()._start_tasks()
            probe, feed, journal, client = PROBE, self.feed, self.journal, self.client
            client.gate.orders_10s_limit = 10**9  # our own shedding would cap the sample rate at 9 orders/s
            throttle = client.exchange.throttle

            def timed_throttle(cost: Any = None) -> Any:
                t = now()
                out = throttle(cost)
                slept = now() - t
                if slept > 100_000:  # ccxt's own rate limiter slept (time.sleep on the event loop's thread)
                    probe.throttle_sleeps += 1
                    probe.throttle_ns += slept
                return out

            client.exchange.throttle = timed_throttle
            if not probe.ccxt_throttle:
                client.exchange.enableRateLimit = False
            on_text, on_trade = feed._on_text, feed._on_trade
            commit, submit, admit = journal.commit_intent, client.submit, client.gate.admit
            hooked: list[Any] = [None]

            def text(raw: str) -> None:  # loop side, the feed's frame handler
                if feed._ws is not None and feed._ws is not hooked[0]:
                    hooked[0] = feed._ws
                    probe.hook_socket(feed._ws)
                rx = probe.rx.pop(id(raw), 0)
                probe.unstamped_rx += not rx
                probe.frame = (rx, now())
                on_text(raw)

            def trade(tick: Any) -> None:  # loop side: the feed hands the parsed trade to the node
                if probe.armed and probe.frame[0]:
                    probe.by_trade[tick.trade_id] = probe.frame
                on_trade(tick)

            def commit_intent(rec: Any) -> Any:
                if probe.in_order:
                    probe.cur.append(now())
                out = commit(rec)
                if probe.in_order:
                    probe.cur.append(now())
                return out

            def venue_submit(order: Any) -> Any:
                if not probe.in_order:
                    return submit(order)
                probe.cur.append(now())
                try:
                    return submit(order)
                finally:
                    if probe.wire_at:
                        probe.round_trips.append(now() - probe.wire_at)
                        probe.wire_at = 0

            def gate_admit(priority: str, operation: str) -> None:
                admit(priority, operation)
                if probe.in_order and priority == "order" and len(probe.cur) == 6:
                    probe.cur.append(now())
                    probe.wire_pending = True

            feed._on_text, feed._on_trade = text, trade
            journal.commit_intent, client.submit, client.gate.admit = commit_intent, venue_submit, gate_admit

    return BenchNode(config, "live", env=ENV, strategy_classes={"bench_tick_orders": _strategy_class()})


def node_config(state: Path, url: str, every: int) -> Any:
    from bot4.live.config import parse_node_config

    return parse_node_config({
        "mode": "live", "live_enabled": True, "state_dir": str(state), "bar_interval": "1s", "settle_timeout_s": 3,
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": url,
                  "rate_limit_weight_1m": 10**9},
        "strategies": [{"name": "bench_tick_orders", "id": "bench", "params": {"every": every}}],
        "risk": {"limits": {"max_orders_per_window": 10**9, "max_total_orders": 10**9, "spread_events_to_trip": 10**6,
                            "price_band": 0.05}},
    })  # fmt: skip


async def _until(cond: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"live_loop: {what} not within {timeout:g} s")
        await asyncio.sleep(0.02)


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of another process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _window(feed: Any, seconds: float, server_pid: int) -> dict[str, float | None]:
    """Messages the feed handled in ``seconds``, and the CPU share this process and the server used meanwhile."""
    m0, c0, s0, t0 = feed.stats.messages, time.process_time(), _cpu_s(server_pid), time.perf_counter()
    await asyncio.sleep(seconds)
    m, c, t = feed.stats.messages - m0, time.process_time() - c0, time.perf_counter() - t0
    s1 = _cpu_s(server_pid)
    return {
        "msgs_per_s": round(m / t),
        "cpu_share": round(c / t, 2),
        "msgs_per_cpu_s": round(m / c) if c else 0,
        "server_cpu_share": None if s0 is None or s1 is None else round((s1 - s0) / t, 2),
    }


async def node_phase(srv: ServerProcess, state: Path, every: int, run: Any) -> tuple[Any, Any]:
    node = _bench_node(node_config(state, srv.url, every))
    task = asyncio.create_task(node.run())
    try:
        await _until(lambda: node.started.is_set() or task.done(), 60, "node start")
        if task.done():
            raise SystemExit(f"live_loop: the node exited with code {task.result()} (see stderr)")
        out = await run(node)
    finally:
        node.request_stop("benchmark done")
        code = await asyncio.wait_for(task, 30)
    if code != 0:
        raise SystemExit(f"live_loop: the node stopped with exit code {code}")
    return out, node


def _ignore(*_a: Any) -> None:
    pass


async def feed_alone(srv: ServerProcess, warmup: float, seconds: float) -> dict[str, float | None]:
    from bot4.engine.clock import LiveClock
    from bot4.live.venues import market_feed, rest_client

    settings = node_config(Path("."), srv.url, 0).venue.settings
    instruments = await asyncio.to_thread(rest_client(settings, LiveClock()).load_instruments)
    feed = market_feed(settings, instruments, LiveClock(), on_trade=_ignore, on_quote=_ignore, on_state=_ignore,
                       stale_after_s=10.0)  # fmt: skip
    task = asyncio.create_task(feed.run())
    try:
        srv.pump("flood")  # the book syncs on the first diffs
        await _until(lambda: feed.healthy(IID), 20, "feed book sync")
        await asyncio.sleep(warmup)
        return await _window(feed, seconds, srv.pid)
    finally:
        srv.pump("idle")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _pct(values: list[int], q: float) -> float:
    return round(values[min(len(values) - 1, int(len(values) * q))] / 1000, 1)


def _summary(ns: list[int]) -> dict[str, float]:
    ns = sorted(ns)
    return {"p50": _pct(ns, 0.5), "p90": _pct(ns, 0.9), "p99": _pct(ns, 0.99), "max": round(ns[-1] / 1000, 1)}


def latency_report(samples: list[tuple[int, ...]], warmup: int) -> dict[str, Any]:
    """Percentiles of the whole path, of the part after the handler picked the frame up, and of each stage."""
    full = [s for s in samples[warmup:] if s[0] and len(s) == len(STAGES) + 1]
    out: dict[str, Any] = {"samples": len(full), "samples_incomplete": len(samples[warmup:]) - len(full)}
    if not full:
        return out
    out["tick_to_order_us"] = _summary([s[-1] - s[0] for s in full])
    out["handler_to_order_us"] = _summary([s[-1] - s[1] for s in full])
    stages = {name: sorted(s[i + 1] - s[i] for s in full) for i, name in enumerate(STAGES)}
    out["stages_p50_us"] = {name: _pct(v, 0.5) for name, v in stages.items()}
    out["stages_p99_us"] = {name: _pct(v, 0.99) for name, v in stages.items()}
    return out


NOTE = (
    "tick_to_order = trade frame read off the node's WebSocket (data_received) -> order request written to the "
    "REST socket (urllib3 request returned). Includes: queueing on the event loop and on the node's trading "
    "thread (its REST calls are synchronous, so an earlier order or cancel delays the next), JSON parse, the "
    "hand-over to the trading thread, engine dispatch, strategy, node gate + full risk check, order manager, "
    "the journal's intent commit (SQLite WAL, synchronous=FULL: an fsync), ccxt request building and "
    "HMAC signing (ccxt's own throttle is off in the node), our request gate, requests/urllib3. "
    "Excludes the venue's answer. "
    "The exchange server runs in its own process (throughput is bounded by how fast it sends: see "
    "server_cpu_share and msgs_per_cpu_s); the benchmark lifts the request gate's 10 s order budget and the "
    "server's weight limit."
)


def _target(text: str, value: float | None, ok: bool) -> dict[str, Any]:
    return {"target": text, "value": value, "pass": value is not None and ok}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    warmup_s = 0.3 if args.quick else 1.0
    srv = ServerProcess(args.data)

    async def md_only(node: Any) -> dict[str, float | None]:
        srv.pump("flood")
        await _until(lambda: node.feed.healthy(IID), 20, "node feed sync")
        try:
            await asyncio.sleep(warmup_s)
            return await _window(node.feed, args.seconds, srv.pid)
        finally:
            srv.pump("idle")

    async def orders(node: Any) -> dict[str, Any]:
        srv.pump("paced", args.speed)
        await _until(lambda: node.feed.healthy(IID) and node.gate.stream_gap is None, 20, "node ready")
        PROBE.armed, t0 = True, time.monotonic()
        with contextlib.suppress(SystemExit):  # out of time: report the samples there are
            await _until(lambda: len(PROBE.samples) >= args.orders + args.warmup_orders, args.max_seconds, "")
        PROBE.armed = False
        srv.pump("idle")
        return {"seconds": round(time.monotonic() - t0, 1), "denied": node.gate.denials}

    try:
        with tempfile.TemporaryDirectory() as tmp:
            feed = await feed_alone(srv, warmup_s, args.seconds)
            node_tp, _ = await node_phase(srv, Path(tmp) / "md", 0, md_only)
            lat_run, node = await node_phase(srv, Path(tmp) / "lat", args.every, orders)
    finally:
        srv.close()
    lat = latency_report(PROBE.samples, args.warmup_orders)
    rejects = sum(1 for r in node.oms.orders.values() if r.status.value == "REJECTED")
    lat.update(lat_run, replay_speed=args.speed, order_every_n_trades=args.every, orders_sent=len(node.oms.orders))
    lat.update(venue_rejects=rejects, ccxt_throttle=PROBE.ccxt_throttle, ccxt_throttle_sleeps=PROBE.throttle_sleeps)
    lat["ccxt_throttle_ms"] = round(PROBE.throttle_ns / 1e6, 1)
    round_trips = PROBE.round_trips[args.warmup_orders :]
    if round_trips:
        lat["order_rest_round_trip_us"] = _summary(round_trips)
    p99, rate = lat.get("tick_to_order_us", {}).get("p99"), node_tp["msgs_per_s"]
    lim_us, lim_rate = TARGETS["tick_to_order_p99_us"], TARGETS["node_msgs_per_s"]
    return {
        "benchmark": "live_loop",
        "latency": lat,
        "throughput": {"window_s": args.seconds, "feed_alone": feed, "node": node_tp},
        "note": NOTE,
        "targets": [
            _target(f"tick-to-order p99 <= {lim_us:,} us", p99, p99 is not None and p99 <= lim_us),
            _target(f"node handles >= {lim_rate:,} market-data msgs/s", rate, rate is not None and rate >= lim_rate),
        ],
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=10.0, help="throughput window per phase")
    ap.add_argument("--orders", type=int, default=300, help="latency samples to collect (after warm-up)")
    ap.add_argument("--every", type=int, default=20, help="order on every n-th trade tick")
    ap.add_argument("--speed", type=float, default=5.0, help="replay speed of the latency phase (x recorded)")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="give up collecting samples after this")
    ap.add_argument("--data", type=Path, default=DATA / "nautilus_trader" / "binance", help="recorded BTC/USDT")
    ap.add_argument("--quick", action="store_true", help="a short run for the smoke test")
    ap.add_argument(
        "--no-ccxt-throttle", action="store_true", help="diagnostic: turn ccxt's own rate limiter off in the node"
    )
    args = ap.parse_args(argv)
    args.warmup_orders = 5 if args.quick else 20
    if args.quick:  # about 12 s in all
        args.seconds, args.orders, args.max_seconds = min(args.seconds, 1.0), min(args.orders, 20), 6.0
    if args.every < 1 or args.orders < 1 or args.seconds <= 0:
        ap.error("--every and --orders must be >= 1 and --seconds > 0")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _hook_wire()
    PROBE.ccxt_throttle = not args.no_ccxt_throttle
    print(json.dumps(asyncio.run(bench(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
