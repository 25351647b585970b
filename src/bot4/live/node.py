"""The trading node: the backtest's engine, risk and order manager on a live clock and a real or paper venue.

Start order, failing closed at each step (reliability.md rule 5): validated config -> the journal's
single-writer lock (a second instance exits 3 before any trading connection, B6) -> credentials
(live; registered with the log redactor) -> time sync -> key permissions (live: a withdraw-enabled
key exits 4, S3) -> instruments (an unknown symbol exits 2) -> order manager, risk, engine ->
reconciliation (the engine's start runs recovery; a venue that cannot answer keeps the node halted and
retried with backoff, never read as "flat", B3) -> streams, timers, control API.

At runtime two threads share the work. The asyncio loop does only I/O: the market feed and user
stream sockets, timers, the control API and the stuck-call watchdog. Every call into the engine,
order manager, risk engine and journal is posted, in arrival order, to one trading lane thread
(``lane.py``: one thread, so the same single-threaded semantics as a backtest): market data drives
strategies (trades, quotes, bars built from trades), the user stream drives the order manager, timers
poll the order manager (~100 ms), the risk engine (1 s, with the heartbeat) and the reconciler. The
order manager's REST calls are synchronous (its contract) and run on the lane, so a hanging exchange
(E4) delays trading work but never the sockets, watchdogs or control API; a call stuck longer than
``venue_stall_s`` blocks new entries until a REST reconcile after it returns (``stall.py``).
A 429 denies new orders until its Retry-After passes; a 418 ban also pauses the node with an
alert, and entries wait for a REST reconcile after it (``limits.py``, E1/E2). A ``-1013`` filter
failure reloads the venue's filters once and retries that order once (``filters.py``, G1).
A user-stream gap denies new orders until a REST resync, and reconciliation gives no verdict
("unknown") until that resync has applied what the gap missed; an unhealthy feed blocks new entries on
its instrument. The bar-flush timer reads the time when it fires, on the loop, so trades queued ahead
of it on a busy lane still land in their bars. Per-event records are bounded (``keep_trades``, opt-in;
``keep_bars``; the engine's run events), so memory stays flat over a long run. SIGTERM stops
strategies, cancels or keeps working orders (config), waits for them to settle (bounded), closes the
journal and exits 0. Startup venue probes run in a worker thread.

Limits: a mode change from the control API is recorded at once (mode file, entries held), but the
cancels/flattening it triggers wait in the lane's queue behind a stuck call, so they go out at most
one request timeout (``venue.timeout_ms``, per ccxt request) later. Market events queue up behind a
stuck call too and are applied late, in order, with entries blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from bot4.engine.clock import LiveClock
from bot4.engine.engine import TradingEngine
from bot4.engine.risk_hook import PassThroughRisk, RiskHook
from bot4.execution.bar_client import BarClient
from bot4.execution.errors import JournalLocked, VenueError
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import ExecReport, OrderRecord
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.live.bars import TradeBarAggregator
from bot4.live.config import NodeConfig, check_strategies
from bot4.live.control import NodeControl
from bot4.live.filters import FilterRetry
from bot4.live.gates import NodeGate
from bot4.live.lane import TradingLane
from bot4.live.limits import VenueLimitGuard
from bot4.live.oplog import log_fill, log_order_status
from bot4.live.paper import NodeClock, PaperClock, PaperVenue
from bot4.live.reconcile import Reconciler, ReconcileResult
from bot4.live.resync import resync
from bot4.live.stall import StallWatch
from bot4.live.venues import check_live_support, market_feed, rest_client, user_stream
from bot4.live.wiring import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_KEY_PERMISSIONS,
    EXIT_LOCKED,
    EXIT_NOT_RECONCILED,
    EXIT_OK,
    NodeExit,
    NoMatching,
    add_strategies,
    make_risk,
    portfolio_from_journal,
    retry_blocking,
)
from bot4.model.errors import ConfigError
from bot4.model.events import Bar, QuoteTick, TradeTick
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO
from bot4.persistence.journal import SqlJournal
from bot4.strategies.base import Strategy

log = logging.getLogger("bot4.node")
T = TypeVar("T")
__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_KEY_PERMISSIONS",
    "EXIT_LOCKED",
    "EXIT_NOT_RECONCILED",
    "EXIT_OK",
    "NodeExit",
    "TradingNode",
]

OMS_POLL_S = 0.1
RISK_POLL_S = 1.0
ENGINE_EVENTS_KEPT = 10_000  # the latest engine run events (denials, rejects) a long run keeps in memory


class TradingNode:
    """One account on one venue, paper or live; ``await run()`` until ``request_stop``; returns the exit code."""

    def __init__(
        self,
        config: NodeConfig,
        mode: str | None = None,
        *,
        clock: NodeClock | None = None,
        env: Mapping[str, str] | None = None,
        strategy_classes: dict[str, type[Strategy]] | None = None,
        stale_after_s: float = 10.0,
        user_silence_s: float = 30.0,
    ) -> None:
        self.config = config
        self.run_mode = mode or config.mode
        if self.run_mode not in ("paper", "live"):
            raise ConfigError(f"mode: 'paper' or 'live' (got {self.run_mode!r})")
        if self.run_mode == "live" and not config.live_enabled:
            raise ConfigError("live_enabled: live trading needs live_enabled = true in the config as well as --live")
        if self.run_mode == "live" and not config.risk_enabled:
            raise ConfigError("risk_enabled: the risk engine cannot be turned off in live mode")
        check_strategies(config, strategy_classes)
        if self.run_mode == "live":
            check_live_support(config.venue.settings)
        if config.venue_stall_s * 1000 >= config.venue.settings.timeout_ms:
            log.warning(
                "venue_stall_s (%g s) >= venue.timeout_ms (%d ms): one hanging request times out before it is "
                "seen as stuck; only a lane call made of several slow requests trips the watchdog",
                config.venue_stall_s,
                config.venue.settings.timeout_ms,
            )
        self.env = dict(os.environ if env is None else env)
        self.base_clock: NodeClock = clock or LiveClock()
        self.clock: NodeClock = PaperClock(self.base_clock) if self.run_mode == "paper" else self.base_clock
        self.strategy_classes = strategy_classes or {}
        self.stale_after_s = stale_after_s
        self.user_silence_s = user_silence_s
        self.venue_name = config.venue.settings.name
        # built by start()
        self.journal: SqlJournal | None = None
        self.client: Any = None  # the order manager's venue client (ccxt, or the paper bar client)
        self.paper_venue: PaperVenue | None = None
        self.instruments: dict[str, Instrument] = {}
        self.engine: TradingEngine | None = None
        self.oms: OrderManager | None = None
        self.risk: RiskHook | None = None
        self.gate: NodeGate | None = None
        self.limits: VenueLimitGuard | None = None  # 429/418 at the node (E1/E2)
        self.filter_retry: FilterRetry | None = None  # -1013 after a filter change (G1)
        self.reconciler: Reconciler | None = None
        self.feed: Any = None
        self.user: Any = None
        self.control: Any = None
        self.aggregators: dict[str, TradeBarAggregator] = {}
        # bounded records for parity checks and status: a long run must not grow with the market (H10)
        self.bars: deque[Bar] = deque(maxlen=config.keep_bars)  # the latest bars the strategies saw
        self.bar_count = 0  # every bar delivered, kept or not
        self.trades_seen: deque[TradeTick] = deque(maxlen=config.keep_trades)  # opt-in; 0 keeps none
        self.last_reconcile: ReconcileResult | None = None
        self.stall_heals = 0  # REST reconciles that re-enabled entries after a stuck venue call
        self.stream_gaps = 0  # user-stream gaps seen (each one denied new orders until a resync)
        self.resyncs = 0  # successful REST resyncs after a gap
        self.started = asyncio.Event()
        self.exit_code = EXIT_OK
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._resync_task: asyncio.Task[None] | None = None
        self._venue_free: dict[str, Decimal] = {}  # live: the venue's free balances (strategies' free cash)
        self._venue_totals: dict[str, Decimal] = {}
        self._creds: Any = None
        self._shut = False
        self._engine_started = False
        # the trading lane owns engine, order manager, risk and journal once started (see lane.py)
        self.lane = TradingLane(self.base_clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stall: StallWatch | None = None
        self.published: dict[str, Any] | None = None  # the lane's latest copy of what status() shows
        self.pending_mode: tuple[int, str] | None = None  # an operator's mode, recorded, not yet applied

    # -- lifecycle -----------------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            await self.start()
            await self._stop.wait()
        except NodeExit as exc:
            log.error("node stopped: %s", exc, extra={"exit_code": exc.code})
            self.exit_code = exc.code
        except ConfigError as exc:
            log.error("configuration error: %s", exc)
            self.exit_code = EXIT_CONFIG
        except Exception:
            log.exception("node failed")
            self.exit_code = EXIT_ERROR
        finally:
            await self.shutdown()
        return self.exit_code

    def request_stop(self, reason: str = "stop requested", code: int = EXIT_OK) -> None:
        """Safe from a signal handler: the run loop wakes up and shuts down in order."""
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            if code != EXIT_OK:
                self.exit_code = code
            self._stop.set()

    async def start(self) -> None:
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self._open_journal()
        if self.run_mode == "live":
            self._load_credentials()
        await self._connect()
        self.lane.start()
        await self.lane.call(self._build)
        await self._reconcile_at_start()
        self._start_tasks()
        if cfg.control.enabled:
            await self._start_control()
        self.started.set()
        log.info(
            "node started",
            extra={"run_mode": self.run_mode, "venue": self.venue_name, "instruments": list(self.instruments)},
        )

    def _open_journal(self) -> None:
        state = self.config.state_path(self.run_mode)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        url = self.config.journal_for(self.run_mode)
        try:
            self.journal = SqlJournal(url, account=f"{self.venue_name}:{self.run_mode}")
        except JournalLocked as exc:
            raise NodeExit(EXIT_LOCKED, f"another bot4 instance holds the journal: {exc}") from None
        except ValueError as exc:
            raise NodeExit(EXIT_CONFIG, f"journal_url: {exc}") from None

    def _load_credentials(self) -> None:
        from bot4.live.secrets import SecretsError, load_credentials

        ref = self.config.venue.secrets
        try:
            self._creds = load_credentials(
                ref.account, env=self.env, secrets_file=Path(ref.file).expanduser() if ref.file else None
            )
        except SecretsError as exc:
            raise NodeExit(EXIT_CONFIG, f"venue.secrets: {exc}") from None

    async def _connect(self) -> None:
        """REST client, time sync, key permissions and instruments; each network step retried with backoff."""
        settings = self.config.venue.settings
        key = self._creds.api_key if self._creds is not None else ""
        secret = self._creds.secret if self._creds is not None else ""
        try:
            rest = rest_client(settings, self.base_clock, key, secret)
        except ConfigError as exc:
            raise NodeExit(EXIT_CONFIG, str(exc)) from None
        if self.run_mode == "live":
            self.client = rest
            await self._retry("time sync", lambda: rest.timesync.sync() if hasattr(rest, "timesync") else None)
            warnings = await self._retry("key permission check", rest.check_key_permissions)
            for w in warnings or []:
                log.warning("api key: %s", w)
        try:
            instruments: dict[str, Instrument] = await self._retry("instruments", rest.load_instruments)
        except ConfigError as exc:
            raise NodeExit(EXIT_CONFIG, f"venue.{exc}") from None
        if self.run_mode == "paper":
            fee = self.config.paper.fee_rate
            instruments = {iid: replace(i, maker_fee=fee, taker_fee=fee) for iid, i in instruments.items()}
        self.instruments = instruments
        if self.run_mode == "live":
            balances = await self._retry("balances", rest.balances)
            self._venue_free = {ccy: free for ccy, (free, _total) in balances.items()}
            self._venue_totals = {ccy: total for ccy, (_free, total) in balances.items()}

    async def _retry(self, what: str, fn: Callable[[], T]) -> T:
        code = EXIT_KEY_PERMISSIONS if "permission" in what else EXIT_ERROR
        return await retry_blocking(what, fn, self.config.reconcile_deadline_s, fatal_code=code)

    def _build(self) -> None:
        """Portfolio, risk, engine, order manager and strategies: the same classes as a backtest."""
        cfg = self.config
        assert self.journal is not None
        snapshot = self.journal.load()
        quotes = sorted({i.quote for i in self.instruments.values()})
        balances = dict(cfg.paper.cash) if self.run_mode == "paper" else {q: ZERO for q in quotes}
        venue_cash = self._venue_totals if self.run_mode == "live" else None
        portfolio = portfolio_from_journal(self.instruments, balances, snapshot, self.clock.now_ns(), venue_cash)
        inner = make_risk(cfg, self.run_mode, quotes[0]) if cfg.risk_enabled else PassThroughRisk()
        self.risk = inner
        self.gate = NodeGate(inner)
        self.engine = engine = TradingEngine(
            self.clock, self.instruments, portfolio, self.gate, id_prefix=f"{cfg.node_id}-"
        )
        oms_cfg = OmsConfig(id_prefix=f"{cfg.node_id}-", caller_ids=True, also_ours=("risk-",))
        assert self.journal is not None
        if self.run_mode == "paper":
            venue = PaperVenue(
                self.venue_name, self.instruments, dict(cfg.paper.cash), self.clock, engine.on_venue_event,
                cfg.paper.slippage_bps,
            )  # fmt: skip
            client = BarClient(self.venue_name)
            client.bind(venue)
            self.client, self.paper_venue = client, venue
            self.oms = OrderManager(client, self.journal, self.clock, oms_cfg)
            venue.restore(snapshot)
            engine.add_venue(self.venue_name, venue, free_balance=venue.free_balance, oms=self.oms)
        else:
            self.oms = OrderManager(self.client, self.journal, self.clock, oms_cfg)
            engine.add_venue(self.venue_name, NoMatching(), free_balance=self._free_balance, oms=self.oms)  # type: ignore[arg-type]
        self.oms.on_fill(self._on_fill)
        self.oms.on_status(log_order_status)
        mono = self.base_clock.monotonic_ns
        self.filter_retry = FilterRetry(
            engine, self.client, self.instruments, mono, self._alert, min_refresh_s=cfg.filter_refresh_min_s
        )
        engine.reject_listener = self.filter_retry.on_reject
        request_gate = getattr(self.client, "gate", None) if self.run_mode == "live" else None
        self.limits = VenueLimitGuard(
            request_gate, self.gate, monotonic_ns=mono, alert=self._alert, pause=self._pause, heal=self._heal_ban
        )
        add_strategies(engine, cfg, self.instruments, self.strategy_classes)
        grace = cfg.bar_grace_ms * 1_000_000
        self.aggregators = {
            iid: TradeBarAggregator(iid, cfg.bar_interval_ns, self._on_bar, grace_ns=grace) for iid in self.instruments
        }
        self.reconciler = Reconciler(self.instruments, cfg.reconcile_tolerance_steps)

    async def _reconcile_at_start(self) -> None:
        """Recovery before any strategy runs; a venue that cannot answer keeps the node halted (B3)."""
        assert self.engine is not None and self.oms is not None
        oms = self.oms
        if self.run_mode == "live":
            # probe the reconciliation sources first: a 500 here must never reach recovery as "no orders"
            await self._retry("open orders", self.client.open_orders)
            assert self.gate is not None
            self.gate.stream_gap = "user stream not connected yet"
        await self.lane.call(self.engine.start)  # recovery (journal vs venue), then the strategies' on_start
        self._engine_started = True
        if oms.halted_reason is not None:
            if oms.adopted:
                log.error("ALERT journal is behind the venue: %s", oms.halted_reason)
                await self.lane.call(self._pause, f"startup: {oms.halted_reason}")
            else:
                log.error("recovery failed: %s; retrying with backoff", oms.halted_reason)
                await self._recover_until_ok()
        await self.lane.call(self._baseline)
        await self.lane.call(self._publish)

    async def _recover_until_ok(self) -> None:
        assert self.oms is not None
        deadline_s = self.config.reconcile_deadline_s
        loop = asyncio.get_running_loop()
        t_end = None if deadline_s is None else loop.time() + deadline_s
        delay = 0.5
        while True:
            report = await self.lane.call(recover, self.oms, sorted(self.instruments))
            if report.ok or report.regressed:
                if report.regressed:
                    await self.lane.call(self._pause, f"startup: {report.reason}")
                log.info("recovered: %s", report.reason or "journal and venue agree")
                return
            log.error("recovery failed: %s; retrying in %.1f s", report.reason, delay)
            if t_end is not None and loop.time() + delay > t_end:
                raise NodeExit(EXIT_NOT_RECONCILED, f"not reconciled within {deadline_s} s: {report.reason}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _baseline(self) -> None:
        assert self.reconciler is not None
        totals = self._totals()
        if totals is not None:
            self.reconciler.set_baseline(totals)

    def _start_tasks(self) -> None:
        settings = self.config.venue.settings
        post = self.lane.post
        self.feed = market_feed(
            settings, self.instruments, self.base_clock, on_trade=lambda t: post(self._on_trade, t),
            on_quote=lambda q: post(self._on_quote, q), on_state=lambda *a: post(self._on_feed_state, *a),
            stale_after_s=self.stale_after_s, may_request=self._may_request,
        )  # fmt: skip
        self._spawn("market feed", self.feed.run())
        if self.run_mode == "live":
            self.user = user_stream(
                settings, self._creds.api_key, self.instruments, self.base_clock,
                on_report=lambda r: post(self._on_user_report, r), on_gap=lambda g: post(self._on_user_gap, g),
                on_live=self._on_user_live, silence_s=self.user_silence_s, may_request=self._may_request,
            )  # fmt: skip
            self._spawn("user stream", self.user.run())
        assert self.gate is not None
        self.stall = StallWatch(self.lane, self.gate, self.config.venue_stall_s, self._heal_after_stall)
        self._spawn("venue stall watchdog", self.stall.run())
        self._spawn("order poll", self._every(OMS_POLL_S, self._fast_timer))
        self._spawn("risk poll", self._every(RISK_POLL_S, self._slow_timer))
        self._spawn("reconcile", self._every(self.config.reconcile_interval_s, self._reconcile_timer))

    def _may_request(self) -> float:
        """Seconds until the ccxt client's gate lets a request out (E1/E2); the streams' own REST calls wait on it."""
        gate = getattr(self.client, "gate", None) if self.run_mode == "live" else None
        until = gate.blocked_until_ms if gate is not None else 0
        return max(0.0, (until - self.base_clock.now_ns() // 1_000_000) / 1000) if until else 0.0

    def _spawn(self, name: str, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._stop.is_set():
            return
        exc = task.exception()
        if exc is not None:
            code = exc.code if isinstance(exc, NodeExit) else EXIT_ERROR
            log.error("task %s failed: %s: %s", task.get_name(), type(exc).__name__, exc)
            self.request_stop(f"task {task.get_name()} failed", code)

    async def _every(self, period_s: float, fire: Callable[[], Awaitable[Any]]) -> None:
        """``fire()`` (a lane call) every ``period_s``; waits for it, so a stuck lane never piles timers up."""
        while True:
            await asyncio.sleep(period_s)
            try:
                await fire()
            except NodeExit:
                raise
            except Exception:
                log.exception("timer %s raised; continuing", getattr(fire, "__name__", fire))

    async def _start_control(self) -> None:
        from bot4.live.secrets import SecretsError, load_control_tokens
        from bot4.monitor.control_api import ControlApi, ControlApiError

        c = self.config.control
        ref = self.config.venue.secrets
        try:
            tokens = load_control_tokens(env=self.env, secrets_file=Path(ref.file).expanduser() if ref.file else None)
            target = NodeControl(self)
            self.control = ControlApi(
                target, tokens, host=c.host, port=c.port, allow_remote=c.allow_remote, audit=target.audit
            )
        except (SecretsError, ControlApiError) as exc:
            raise NodeExit(EXIT_CONFIG, f"control: {exc}") from None
        await self.control.start()

    async def shutdown(self) -> None:
        """Stop strategies, cancel (or keep) working orders, wait for them to settle, close the journal.

        Each step runs on the lane, bounded: a lane stuck in a venue call gets one request timeout
        (plus the settle time) before the node gives up on it and closes anyway.
        """
        if self._shut:
            return
        self._shut = True
        if self.gate is not None:
            self.gate.stopping = True
        bound = self.config.venue.settings.timeout_ms / 1000 + self.config.settle_timeout_s
        if self.engine is not None and self.oms is not None and self._engine_started:
            try:
                await self._on_lane(self._stop_trading, timeout=bound)
            except TimeoutError:
                log.error("shutdown: the trading lane is stuck (%s); cancels not confirmed", self.lane.busy())
            await self._settle()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.stall is not None:
            self.stall.cancel()
        if self._resync_task is not None:
            self._resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._resync_task
        if self.control is not None:
            with contextlib.suppress(Exception):
                await self.control.close()
        try:
            await self._on_lane(self._close_books, timeout=bound)
        except TimeoutError:
            log.error("shutdown: the trading lane is stuck (%s); closing the journal anyway", self.lane.busy())
            self._close_books()
        self.lane.stop(timeout_s=1.0)
        log.info("node stopped", extra={"exit_code": self.exit_code})

    async def _on_lane(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """``fn`` on the lane; inline when the lane is not running (before start, after stop, unit tests)."""
        if not self.lane.running or self.lane.on_lane():
            return fn(*args)
        return await asyncio.wait_for(self.lane.call(fn, *args), timeout)

    def _stop_trading(self) -> None:
        assert self.engine is not None
        with contextlib.suppress(Exception):
            self.engine.stop()
        if self.config.shutdown == "cancel":
            try:
                sent = self.engine.cancel_all("node shutdown")
                log.info("shutdown: %d cancel(s) sent", sent)
            except Exception:
                log.exception("shutdown: cancel_all failed")

    def _close_books(self) -> None:
        if self.risk is not None and hasattr(self.risk, "poll"):
            with contextlib.suppress(Exception):
                self.risk.poll()  # flushes the audit buffer
        if self.oms is not None:
            with contextlib.suppress(Exception):
                self.oms.flush_journal(force=True)  # the write-behind backlog, before the journal goes
        if self.journal is not None:
            self.journal.close()

    async def _settle(self) -> None:
        """Wait (bounded) until no order's outcome is unknown, and none works if cancel was asked."""
        loop = asyncio.get_running_loop()
        t_end = loop.time() + self.config.settle_timeout_s
        left: list[str] = []
        while loop.time() < t_end:
            try:
                left = await self._on_lane(self._settle_step, timeout=max(0.01, t_end - loop.time()))
            except TimeoutError:
                break
            if not left:
                return
            await asyncio.sleep(0.05)
        log.warning("shutdown: orders still unsettled after %.1f s: %s", self.config.settle_timeout_s, ", ".join(left))

    def _settle_step(self) -> list[str]:
        assert self.oms is not None
        oms = self.oms
        unsettled = (OmsStatus.PENDING_SEND, OmsStatus.IN_FLIGHT, OmsStatus.PENDING_CANCEL)
        left = [r for r in oms.working() if r.status in unsettled or self.config.shutdown == "cancel"]
        if left:
            with contextlib.suppress(Exception):
                oms.poll()
        return [f"{r.client_order_id}={r.status}" for r in left]

    # -- market data ---------------------------------------------------------------------------------

    def _on_trade(self, tick: TradeTick) -> None:
        assert self.engine is not None
        self.trades_seen.append(tick)
        agg = self.aggregators.get(tick.instrument_id)
        if agg is not None:
            agg.on_tick(tick)  # may close the previous bar first: strategies see the bar before this trade
        self.engine.on_trade(tick)

    def _on_quote(self, quote: QuoteTick) -> None:
        assert self.engine is not None
        self.engine.on_quote(quote)

    def _on_bar(self, bar: Bar) -> None:
        assert self.engine is not None
        self.bars.append(bar)
        self.bar_count += 1
        if isinstance(self.clock, PaperClock):
            with self.clock.at(bar.ts_close):
                self.engine.on_bar(bar)
        else:
            self.engine.on_bar(bar)

    def _on_feed_state(self, instrument_id: str, healthy: bool, reason: str) -> None:
        assert self.gate is not None
        if healthy:
            if self.gate.unhealthy.pop(instrument_id, None) is not None:
                log.info("market data healthy again: %s", instrument_id)
        else:
            self.gate.unhealthy[instrument_id] = reason or "market data unhealthy"
            log.warning("market data unhealthy: %s: %s; no new entries", instrument_id, reason)

    # -- user stream ---------------------------------------------------------------------------------

    def _on_user_report(self, report: ExecReport) -> None:
        assert self.oms is not None
        self.oms.on_report(report)

    def _on_user_gap(self, reason: str) -> None:
        assert self.gate is not None
        self.gate.stream_gap = reason or "user stream gap"
        self.stream_gaps += 1
        log.warning("user stream gap: %s; new orders denied until the REST resync", reason)

    def _on_user_live(self) -> None:
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.ensure_future(self._resync_loop())

    async def _resync_loop(self) -> None:
        """Resync on the lane, after the reports and the gap posted before (FIFO); retried with backoff."""
        delay = 0.2
        while True:
            if await self.lane.call(self._resync_step):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _resync_step(self) -> bool:
        assert self.oms is not None and self.gate is not None
        report = resync(self.oms, sorted(self.instruments))
        if not report.ok:
            log.error("%s", report.reason)
            return False
        self.gate.stream_gap = None
        self.resyncs += 1
        log.info("user stream resynced: %d fill(s) recovered, adopted %s", report.fills_applied, report.adopted)
        return True

    # -- stuck venue calls (E4) -------------------------------------------------------------------------

    async def _heal_after_stall(self) -> bool:
        return await self.lane.call(self._heal_stall)

    def _heal_stall(self) -> bool:
        """After a stuck call returned: REST resync and reconcile; only an answered check re-enables entries."""
        assert self.gate is not None
        if not self._rest_check("after a venue stall"):
            return False
        self.gate.venue_stall = None
        self.stall_heals += 1
        return True

    def _heal_ban(self) -> bool:
        """After a 418 ban ended (E2): the same REST resync and reconcile before entries are allowed again."""
        return self._rest_check("after a venue ban")

    def _rest_check(self, when: str) -> bool:
        assert self.oms is not None
        report = resync(self.oms, sorted(self.instruments))
        if not report.ok:
            log.error("%s: %s", when, report.reason)
            return False
        return self.reconcile_now().status != "unknown"

    def _alert(self, kind: str, subject: str, text: str) -> None:
        """An ALERT log line (ERROR) and an audit row in the journal (``oms_audit``)."""
        log.error("ALERT %s: %s", kind.lower().replace("_", " "), text)
        if self.oms is not None:
            self.oms.record_event(kind, subject, text[:2000])  # queued, never blocks, when the journal is locked
        elif self.journal is not None:
            try:
                self.journal.record_event(kind, subject, text[:2000])
            except Exception as exc:  # the alert is logged; a journal that cannot write halts elsewhere
                log.error("could not journal the %s alert: %s", kind, exc)

    # -- timers --------------------------------------------------------------------------------------

    def _fast_timer(self) -> Awaitable[None]:
        """The order-poll/bar-flush timer fired: the time is read now, on the loop, not when the lane gets to it.

        The lane may be busy for a while (a reconcile's REST calls take 150-250 ms). Trades that reached
        the loop before this moment are already queued ahead of the tick (FIFO) and are applied first;
        trades arriving later queue behind it. Flushing with the time the lane runs the tick would close
        bars whose last trades (inside the grace period) still wait behind it: dropped as late, and the
        bars, hence the decisions, would differ from a backtest over the same trades (H10).
        """
        return self.lane.call(self._fast_tick, self._exchange_now())

    def _fast_tick(self, now_ns: int | None = None) -> None:
        """Order poll, bar flush (at ``now_ns``, the exchange time the timer fired) and the status copy."""
        assert self.oms is not None
        if now_ns is None:
            now_ns = self._exchange_now()
        if self.limits is not None:
            self.limits.tick()
        if self.filter_retry is not None:
            self.filter_retry.drain()
        if self.oms.working() or self._has_gap() or self.oms.journal_down:
            self.oms.poll()  # also replays the write-behind backlog of a journal that was down
        for agg in self.aggregators.values():
            agg.flush(now_ns)
        self._publish()

    def _publish(self) -> None:
        """Copy what ``status()`` shows, on the lane, so the loop never iterates the lane's dicts."""
        self.published = NodeControl(self).lane_fields()

    def _has_gap(self) -> bool:
        assert self.oms is not None
        return any(r.has_gap for r in self.oms.orders.values())

    def _exchange_now(self) -> int:
        ts = self.client.timesync.server_now_ms() * 1_000_000 if hasattr(self.client, "timesync") else 0
        return ts or self.base_clock.now_ns()

    def _slow_timer(self) -> Awaitable[None]:
        return self.lane.call(self._slow_tick)

    def _slow_tick(self) -> None:
        engine = self.engine
        if engine is not None and len(engine.events) > 2 * ENGINE_EVENTS_KEPT:  # a paused strategy adds one per bar
            del engine.events[:-ENGINE_EVENTS_KEPT]
        risk: Any = self.risk
        if risk is not None and hasattr(risk, "poll"):
            risk.heartbeat()
            risk.poll()
        user = self.user
        if user is not None and hasattr(user, "set_expect_activity") and self.oms is not None:
            working = bool(self.oms.working())
            if self._loop is not None and self.lane.on_lane():  # the stream object belongs to the loop
                with contextlib.suppress(RuntimeError):  # the loop is gone: shutting down
                    self._loop.call_soon_threadsafe(user.set_expect_activity, working)
            else:
                user.set_expect_activity(working)

    def _reconcile_timer(self) -> Awaitable[ReconcileResult]:
        return self.lane.call(self._reconcile)

    def reconcile_now(self) -> ReconcileResult:
        """Venue open orders and balances vs the journal; a mismatch pauses trading with an alert (B2).

        Runs on the lane: called from another thread while the lane runs, it waits for its turn there
        (blocking the caller; on the event loop use ``await node.lane.call(node.reconcile_now)``).
        """
        if self.lane.running and not self.lane.on_lane():
            wait_s = 4 * self.config.venue.settings.timeout_ms / 1000 + 5
            return self.lane.submit(self._reconcile).result(timeout=wait_s)
        return self._reconcile()

    def _reconcile(self) -> ReconcileResult:
        assert self.oms is not None and self.reconciler is not None and self.journal is not None
        oms = self.oms
        why = self._stream_out_of_sync()
        limited = self.gate.venue_limited() if self.gate is not None and self.gate.venue_limited else None
        if limited is not None:  # the gate refuses every read: asking would only log "unknown" (E1/E2)
            result = self.reconciler.skip(f"{limited}; compared after it ends")
            self.last_reconcile = result
            return result
        if why is not None:  # the venue may hold fills the resync has not applied yet: no verdict (H10)
            result = self.reconciler.skip(f"user stream out of sync ({why}); compared after the REST resync")
            self.last_reconcile = result
            log.info("%s", result.describe())
            return result
        error = ""
        try:
            venue_open = oms.venue.open_orders()
        except VenueError as exc:
            venue_open, error = None, f"open orders: {exc}"
        totals = self._totals() if venue_open is not None else None
        if venue_open is not None and totals is None:
            error = "balances query failed"
        if self.reconciler.baseline is None and totals is not None:
            self.reconciler.set_baseline(totals)
        result = self.reconciler.check(venue_open, totals, oms.orders, oms.is_ours, error=error)
        self.last_reconcile = result
        if result.status == "unknown":
            log.warning("%s (not a mismatch, never 'flat')", result.describe())
        elif result.status == "mismatch":
            text = result.describe()
            log.error("ALERT reconciliation mismatch: %s; trading paused", text)
            for m in result.mismatches:
                oms.record_event("RECONCILE_MISMATCH", m.subject if m.kind != "balance" else "", text[:2000])
            self._pause(f"reconciliation mismatch: {text}")
        return result

    def _stream_out_of_sync(self) -> str | None:
        """Why our view of our own orders may lag the venue's now, or None when the user stream is in sync.

        A gap (disconnect, silence, expired key) holds ``gate.stream_gap`` until the REST resync after the
        reconnect has applied what was missed; the stream object's ``healthy`` turns False at once on the
        loop, before the lane even sees the gap.
        """
        gate = self.gate
        if gate is not None and gate.stream_gap is not None:
            return gate.stream_gap
        user = self.user
        if user is not None and not getattr(user, "healthy", True):
            return "user stream disconnected"
        return None

    def _totals(self) -> dict[str, Decimal] | None:
        if self.paper_venue is not None:
            return self.paper_venue.totals()
        try:
            balances = self.client.balances()
        except VenueError as exc:
            log.warning("balances query failed: %s", exc)
            return None
        self._venue_free = {ccy: free for ccy, (free, _total) in balances.items()}
        return {ccy: total for ccy, (_free, total) in balances.items()}

    def _free_balance(self, currency: str) -> Decimal:
        return self._venue_free.get(currency, ZERO)

    def _on_fill(self, rec: OrderRecord, fill: Fill) -> None:
        log_fill(rec, fill)
        if self.reconciler is not None:
            self.reconciler.on_fill(fill)
        inst = self.instruments.get(fill.instrument_id)
        if self.run_mode == "live" and inst is not None:  # keep the free cash estimate honest between queries
            sign = -1 if fill.side.value == "BUY" else 1
            free = self._venue_free
            free[inst.quote] = free.get(inst.quote, ZERO) + sign * fill.quantity * fill.price
            free[inst.base] = free.get(inst.base, ZERO) - sign * fill.quantity
            free[fill.fee_currency] = free.get(fill.fee_currency, ZERO) - fill.fee

    def _pause(self, reason: str) -> None:
        """Escalate the risk engine to PAUSE (persisted, audited); without one, halt the order manager."""
        from bot4.risk.modes import ControlMode

        escalate = getattr(self.risk, "escalate", None)
        if escalate is not None:
            escalate(ControlMode.PAUSE, "node", reason)
        elif self.oms is not None:
            self.oms.halt(reason)

    # -- what the control API and operators read -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return NodeControl(self).status()

    def mode(self) -> str:
        """The risk engine's control mode, lower case ("normal", "pause", ...)."""
        return NodeControl(self).mode()

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        NodeControl(self).set_mode(mode, actor, reason, confirm)
