"""The trading node against the local exchange server replaying real recorded BTC/USDT quotes and trades.

The server runs in its own thread and event loop: the node's REST calls are synchronous (the order
manager's contract), so they must not share a loop with the server answering them. The node runs in
paper mode (public streams, local fills) and in live mode (ccxt REST + the user stream) with
``ema_cross`` on fast bars, so it trades within seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from bot4.engine.backtest import Feed
from bot4.engine.clock import LiveClock
from bot4.engine.config import BacktestConfig
from bot4.engine.kernel import build_backtest
from bot4.live.bars import bar_series, bars_from_trades
from bot4.live.config import NodeConfig, parse_node_config
from bot4.live.node import EXIT_CONFIG, EXIT_KEY_PERMISSIONS, EXIT_LOCKED, EXIT_NOT_RECONCILED, EXIT_OK, TradingNode
from bot4.live.venues import rest_client
from bot4.model.enums import Side
from bot4.model.orders import Order
from bot4.strategies.base import Strategy
from bot4.venues.sim.server import Account, ExchangeServer, FaultPlan, ServerConfig

T = TypeVar("T")
KEY, SECRET = "alice-key", "alice-secret"
ENV = {"BOT4__MAIN__API_KEY": KEY, "BOT4__MAIN__SECRET": SECRET}
IID = "BINANCE:BTC/USDT"


def alice(**kw: Any) -> Account:
    return Account("alice", KEY, SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")}, **kw)


class ServerThread:
    """The exchange server on its own loop in a daemon thread."""

    def __init__(self, shared_data: Path, *, speed: float | None = None, **kw: Any) -> None:
        d = shared_data / "nautilus_trader" / "binance"
        accounts = kw.pop("accounts", None) or [alice()]
        self.server = ExchangeServer(
            ServerConfig(
                accounts=accounts,
                data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"],
                speed=speed,
                debug=True,
                **kw,
            )
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._replay: asyncio.Future[None] | None = None

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._replay is not None:
            self.loop.call_soon_threadsafe(self._replay.cancel)
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def play(self, speed: float) -> None:
        """Start replaying the recorded market, ``speed`` times faster (after the node is up)."""

        async def start() -> None:
            self._replay = asyncio.ensure_future(self.server.replay.run(speed))

        self.call(start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    @property
    def url(self) -> str:
        return self.server.url

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sim/ledger", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data


class RestOnce(Strategy):
    """Rests one limit buy 2 % under the first bar's close, so a stop has something to cancel."""

    name = "rest_once"

    def on_start(self) -> None:
        self.sent = bool(self.ctx.open_orders())

    def on_bar(self, bar: Any) -> None:
        if not self.sent:
            self.sent = True
            inst = self.ctx.instrument(bar.instrument_id)
            price = inst.make_price(Decimal(str(bar.close)) * Decimal("0.98"))
            self.ctx.submit(bar.instrument_id, "BUY", Decimal("0.001"), type="LIMIT", price=price)


def config(tmp_path: Path, url: str, *, live: bool = False, rest: bool = False, **over: Any) -> NodeConfig:
    strategies: list[dict[str, Any]] = [{"name": "ema_cross", "params": {"fast": 2, "slow": 5, "size": "0.002"}}]
    if rest:
        strategies.append({"name": "rest_once"})
    raw: dict[str, Any] = {
        "mode": "live" if live else "paper",
        "live_enabled": live,
        "state_dir": str(tmp_path / "state"),
        "bar_interval": "100ms",
        "bar_grace_ms": 30,
        "reconcile_interval_s": 0.5,
        "settle_timeout_s": 3,
        "venue": {"exchange": "binance", "name": "BINANCE", "symbols": ["BTC/USDT"], "url": url},
        "strategies": strategies,
        # the recorded spread varies a lot at this speed: the spread breaker would pause the test's trading
        "risk": {"limits": {"max_orders_per_window": 1000, "max_total_orders": 100_000, "spread_events_to_trip": 1000}},
        "paper": {"cash": {"USDT": "100000"}, "fee_rate": "0.001"},
    }
    raw.update(over)
    return parse_node_config(raw)


def make(cfg: NodeConfig, mode: str, stale_after_s: float = 5.0) -> TradingNode:
    return TradingNode(
        cfg, mode, env=ENV, strategy_classes={"rest_once": RestOnce}, stale_after_s=stale_after_s, user_silence_s=5
    )


async def drive(
    node: TradingNode, until: Callable[[], bool], timeout: float = 12.0, on_start: Callable[[], None] | None = None
) -> int:
    """Run the node until ``until()`` holds (or the timeout), then stop it like SIGTERM does."""
    task = asyncio.create_task(node.run())
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end and not task.done():
        if node.started.is_set():
            if on_start is not None:
                on_start()
                on_start = None
            if until():
                break
        await asyncio.sleep(0.05)
    node.request_stop("test")
    return await asyncio.wait_for(task, 10)


def filled(node: TradingNode) -> list[Any]:
    assert node.oms is not None
    return sorted((r for r in node.oms.orders.values() if r.filled_qty > 0), key=lambda r: r.intent_seq)


def test_paper_node_when_replaying_real_trades_then_trades_on_own_bars_matching_a_backtest(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data) as srv:
        node = make(config(tmp_path, srv.url, keep_trades=1_000_000), "paper")  # the parity check reads them
        code = asyncio.run(drive(node, lambda: len(filled(node)) >= 3, on_start=lambda: srv.play(5)))
        ledger = srv.ledger()
    assert code == EXIT_OK
    fills = filled(node)
    assert len(fills) >= 2, f"no trading: {len(node.bars)} bars, events {node.engine.events if node.engine else []}"
    assert ledger["posts"] == []  # paper never sends an order to the venue
    assert node.mode() == "normal" and node.last_reconcile is not None and node.last_reconcile.status == "ok"
    assert all(r.client_order_id.startswith("b4-ema_cross-") for r in fills)
    # the bars the node traded on are exactly the bars built from the trades it received
    bars = list(node.bars)
    assert bars_from_trades(IID, list(node.trades_seen), 100_000_000)[: len(bars)] == bars
    # parity: a backtest over those bars sends the same orders and gets the same fills
    inst = node.instruments[IID]
    cfg = BacktestConfig.model_validate(
        {"data": [{"bundled": "x"}], "strategies": [node.config.strategies[0].model_dump()], "cash": "100000",
         "fee_rate": "0.001", "risk": {"limits": node.config.risk.limits, "state_dir": str(tmp_path / "bt")}}
    )  # fmt: skip
    result = build_backtest(cfg, feeds=[Feed(inst, bar_series(inst.symbol, bars, 100_000_000))]).run()
    assert node.engine is not None
    node_fills = [(f.side, f.quantity, f.price) for f in sorted(node.engine.portfolio.fills, key=lambda f: f.ts)]
    bt_fills = [(f.side, f.quantity, f.price) for f in result.fills]
    assert node_fills == bt_fills and len(bt_fills) >= 2


def test_live_node_when_trading_then_server_orders_equal_journal_position_matches_and_stop_cancels(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data) as srv:
        cfg = config(tmp_path, srv.url, live=True, rest=True)
        node = make(cfg, "live")
        code = asyncio.run(
            drive(
                node,
                lambda: len([r for r in filled(node) if "ema" in r.client_order_id]) >= 2,
                on_start=lambda: srv.play(5),
            )
        )
        first = srv.ledger()
        assert code == EXIT_OK
        assert node.oms is not None
        journal = {cid: r for cid, r in node.oms.orders.items()}
        server_orders = {o["clientOrderId"]: o for o in first["orders"] if o["account"] == "alice"}
        assert set(server_orders) == set(journal) and len(journal) >= 3
        for cid, o in server_orders.items():
            assert o["status"] == journal[cid].status.value, cid
        # the resting order was cancelled by the graceful stop, on the venue too
        rest = [cid for cid in journal if cid.startswith("b4-rest_once-")]
        assert rest and all(server_orders[c]["status"] == "CANCELED" for c in rest)
        # position: what the server booked for alice equals the journal's
        btc = sum(Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in first["trades"] if t["account"] == "alice")
        assert len([t for t in first["trades"] if t["account"] == "alice"]) >= 2
        assert node.oms.position(IID).quantity == btc
        assert node.last_reconcile is not None and node.last_reconcile.status != "mismatch"
        assert node.mode() == "normal"
        # restart on the same journal: state adopted as is, nothing re-sent
        again = make(cfg, "live")
        at_start: list[Decimal] = []
        code2 = asyncio.run(
            drive(
                again,
                lambda: True,
                timeout=5,
                on_start=lambda: at_start.append(again.oms.position(IID).quantity if again.oms else Decimal(-1)),
            )
        )
        second = srv.ledger()
    assert code2 == EXIT_OK
    posts = {p["clientOrderId"]: p["count"] for p in second["posts"]}
    assert all(posts[cid] == 1 for cid in journal)  # no old order was sent twice
    assert again.oms is not None and not again.oms.adopted and again.oms.halted_reason is None
    assert at_start == [btc]  # the restarted node starts from the position the venue holds
    for cid, rec in journal.items():
        assert again.oms.orders[cid].status is rec.status


def test_live_node_when_journal_lost_then_our_open_order_adopted_as_ours_and_trading_paused_b5(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data, speed=None) as srv:
        cfg = config(tmp_path, srv.url, live=True)
        client = rest_client(cfg.venue.settings, LiveClock(), KEY, SECRET)
        inst = client.load_instruments()[IID]
        for cid in ("b4-ema_cross-7", "manual-1"):
            order = Order.create(inst, client_order_id=cid, strategy_id="x", side=Side.BUY, type="LIMIT",
                                 quantity="0.001", price="30000", ts_init=0)  # fmt: skip
            client.submit(order)
        node = make(cfg, "live")
        code = asyncio.run(drive(node, lambda: True, timeout=5))
        ledger = srv.ledger()
    assert code == EXIT_OK
    assert node.oms is not None
    assert node.oms.orders["b4-ema_cross-7"].role == "ADOPTED"
    assert node.oms.orders["manual-1"].role == "EXTERNAL"
    assert node.mode() == "pause"  # the journal was behind the venue: an operator decides
    assert {p["clientOrderId"] for p in ledger["posts"]} == {"b4-ema_cross-7", "manual-1"}


def test_node_exit_codes_config_2_lock_3_key_permissions_4_unreconciled_5_g3_s3_b3_b6(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data, speed=None, accounts=[alice(enable_withdrawals=True)]) as srv:
        node = make(config(tmp_path / "a", srv.url, live=True), "live")
        assert asyncio.run(node.run()) == EXIT_KEY_PERMISSIONS
        assert node.oms is None  # refused before any order manager existed (S3)
        cfg = config(tmp_path / "c", srv.url)
        unknown = cfg.model_copy(
            update={
                "venue": cfg.venue.model_copy(
                    update={"settings": cfg.venue.settings.model_copy(update={"symbols": ["ETH/USDT"]})}
                )
            }
        )
        node = make(unknown, "paper")
        assert asyncio.run(node.run()) == EXIT_CONFIG  # an unknown symbol, checked against the venue's markets
    plan = FaultPlan.from_dict({"endpoints": {"GET /api/v3/openOrders": [{"action": "status", "code": 500}]}})
    with ServerThread(shared_data, speed=None, faults=plan) as srv:
        cfg = config(tmp_path / "b", srv.url, live=True, reconcile_deadline_s=1.5)
        node = make(cfg, "live")
        assert asyncio.run(node.run()) == EXIT_NOT_RECONCILED
        assert node.oms is None or node.oms.halted_reason is not None
        assert srv.ledger()["posts"] == []  # never traded on a guess (B3)
        holder = make(cfg, "live")
        holder._open_journal()
        second = make(cfg, "live")
        assert asyncio.run(second.run()) == EXIT_LOCKED
        assert holder.journal is not None
        holder.journal.close()


def test_live_node_when_user_stream_drops_mid_run_then_orders_denied_and_rest_resync_recovers_c4(
    shared_data: Path, tmp_path: Path
) -> None:
    plan = FaultPlan.from_dict({"endpoints": {"ws:user": [{"action": "disconnect_at", "count": 1, "skip": 1}]}})
    with ServerThread(shared_data, faults=plan) as srv:
        node = make(config(tmp_path, srv.url, live=True), "live")

        def done() -> bool:
            return node.resyncs >= 2 and len(filled(node)) >= 2 and node.gate is not None and not node.gate.stream_gap

        code = asyncio.run(drive(node, done, on_start=lambda: srv.play(5)))
        ledger = srv.ledger()
    assert code == EXIT_OK
    assert node.stream_gaps >= 1 and node.resyncs >= 2  # the first connection, then the reconnect
    assert node.oms is not None
    server_orders = {o["clientOrderId"]: o["status"] for o in ledger["orders"] if o["account"] == "alice"}
    assert server_orders == {cid: r.status.value for cid, r in node.oms.orders.items()}
    btc = sum(Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in ledger["trades"] if t["account"] == "alice")
    assert node.oms.position(IID).quantity == btc


def test_live_node_when_account_moves_behind_its_back_then_reconcile_pauses_with_alert_b2(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data) as srv:
        cfg = config(tmp_path, srv.url, live=True, reconcile_interval_s=0.3)
        node = make(cfg, "live")

        def withdraw_by_hand() -> None:
            """0.5 BTC leaves the account outside any order (a transfer): only reconciliation can see it."""

            async def move() -> None:
                srv.server.exchange.venues["alice"].ledger.free["BTC"] -= Decimal("0.5")

            srv.call(move())

        code = asyncio.run(drive(node, lambda: node.mode() == "pause", timeout=8, on_start=withdraw_by_hand))
    assert code == EXIT_OK
    assert node.mode() == "pause"
    assert node.last_reconcile is not None and node.last_reconcile.status == "mismatch"
    assert [(m.kind, m.subject) for m in node.last_reconcile.mismatches] == [("balance", "BTC")]
    assert node.journal is not None
    assert any(kind == "RECONCILE_MISMATCH" for kind, _cid, _detail in node.journal.audit())


def test_live_node_control_api_when_authorised_then_status_and_mode_change_reach_the_risk_engine_f4(
    shared_data: Path, tmp_path: Path
) -> None:
    import aiohttp

    from bot4.live.secrets import generate_token

    control, read = generate_token(), generate_token()
    with ServerThread(shared_data) as srv:
        cfg = config(tmp_path, srv.url, live=True, control={"enabled": True})
        node = TradingNode(cfg, "live", env={**ENV, "BOT4_CONTROL_TOKEN": control, "BOT4_READ_TOKEN": read})

        async def scenario() -> tuple[int, dict[str, Any], int, int]:
            task = asyncio.create_task(node.run())
            await asyncio.wait_for(node.started.wait(), 10)
            base = f"http://127.0.0.1:{node.control.port}"
            async with aiohttp.ClientSession() as s:
                async with s.get(f"{base}/status", headers={"Authorization": f"Bearer {read}"}) as r:
                    status_code, status = r.status, await r.json()
                body = {"mode": "pause", "reason": "test", "confirm": False}
                async with s.post(f"{base}/control/mode", json=body, headers={"Authorization": f"Bearer {read}"}) as r:
                    denied = r.status
                async with s.post(
                    f"{base}/control/mode", json=body, headers={"Authorization": f"Bearer {control}"}
                ) as r:
                    changed = r.status
            node.request_stop("test")
            await task
            return status_code, status, denied, changed

        status_code, status, denied, changed = asyncio.run(scenario())
    assert status_code == 200
    assert json.dumps(status).count("live") >= 1 and "working_orders" in json.dumps(status)
    assert denied == 403 and changed == 200
    assert node.mode() == "pause"


def test_paper_node_when_market_feed_goes_silent_then_entries_blocked_until_fresh_data_d3(
    shared_data: Path, tmp_path: Path
) -> None:
    silent = [{"action": "silent_stream", "duration_ms": 2500, "skip": 20, "count": 1}]
    plan = FaultPlan.from_dict({"endpoints": {"ws:depth": silent, "ws:trade": silent}})
    with ServerThread(shared_data, faults=plan) as srv:
        node = make(config(tmp_path, srv.url), "paper", stale_after_s=1.0)
        seen: list[dict[str, str]] = []
        recovered: list[bool] = []

        def watch() -> bool:
            assert node.gate is not None
            if node.gate.unhealthy and not seen:
                seen.append(dict(node.gate.unhealthy))
            if seen and not node.gate.unhealthy:
                recovered.append(True)
            return bool(recovered)

        code = asyncio.run(drive(node, watch, timeout=12, on_start=lambda: srv.play(5)))
    assert code == EXIT_OK
    assert seen and IID in seen[0] and "stale" in seen[0][IID]
    assert recovered  # healthy again on fresh data, without a restart
