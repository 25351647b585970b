"""Risk scenarios replayed through the real engine, bar venue and portfolio on recorded market data.

* the FTX BTC-PERP January 2022 sell-off trips the drawdown guard to REDUCE, then EMERGENCY, and ends flat;
* a runaway strategy (an order per bar) is stopped by the rate cap and the breaker: no more orders reach
  the venue than the cap allows;
* fat-finger orders never reach the venue;
* EMERGENCY with 20 working orders and 3 positions leaves none of either within 5 simulated seconds, also
  while another connection holds the audit database locked;
* PAUSE set from the CLI survives restarts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

from bot4.cli.risk_commands import control_app
from bot4.data.bars import BarSeries
from bot4.data.loaders import load_ohlcv
from bot4.engine.backtest import Feed
from bot4.engine.config import BacktestConfig, DataFeedConfig, StrategyEntry
from bot4.engine.engine import TradingEngine
from bot4.engine.kernel import build_backtest
from bot4.model.events import Bar, OrderDenied, OrderEvent
from bot4.model.instrument import Instrument
from bot4.research.results import BacktestResult
from bot4.risk.audit import AuditLog, verify
from bot4.risk.engine import RiskEngine
from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode, ModeStore
from bot4.strategies.base import Strategy

S = 1_000_000_000


def _feed(path: Path, symbol: str, start: int = 0, stop: int | None = None, tick: str = "0.000001",
          step: str = "0.001", seconds: int | None = None) -> Feed:
    """A slice of a recorded file; ``seconds`` re-stamps the bars that many seconds apart."""
    b = load_ohlcv(path, symbol=symbol)
    sl = slice(start, stop)
    ts = b.ts_open[sl].copy()
    tf = b.timeframe_ns
    if seconds is not None:
        tf = seconds * S
        ts = ts[0] + np.arange(len(ts), dtype=np.int64) * tf
    bars = BarSeries(b.symbol, tf, ts, b.open[sl].copy(), b.high[sl].copy(), b.low[sl].copy(), b.close[sl].copy(),
                     b.volume[sl].copy(), b.source)
    inst = Instrument.spot("SIM", b.symbol, tick_size=tick, step_size=step, maker_fee="0.001", taker_fee="0.001")
    return Feed(inst, bars)


def _run(feeds: list[Feed], strategies: dict[str, type[Strategy]], risk: RiskEngine, cash: str,
         entries: list[StrategyEntry] | None = None) -> tuple[BacktestResult, TradingEngine]:
    cfg = BacktestConfig(data=[DataFeedConfig()], cash=Decimal(cash),
                         strategies=entries or [StrategyEntry(name=n) for n in strategies])
    runner = build_backtest(cfg, feeds=feeds, risk=risk, strategy_classes=strategies)
    Probe.engine = runner.engine
    return runner.run(), runner.engine


class Probe(Strategy):
    """Gives scenario strategies a view of the whole engine (test-only)."""

    engine: ClassVar[TradingEngine | None] = None


# -- 1. replayed crash -----------------------------------------------------------------------------------


class AllIn(Strategy):
    name = "all_in"

    def on_start(self) -> None:
        self.done = False

    def on_bar(self, bar: Bar) -> None:
        if not self.done:
            self.done = True
            qty = self.ctx.instrument(bar.instrument_id).make_quantity(0.9 * 100_000 / bar.close)
            self.ctx.submit(bar.instrument_id, "BUY", qty)


def test_crash_when_ftx_selloff_replayed_then_drawdown_trips_reduce_then_emergency_and_ends_flat(
    shared_data: Path, tmp_path: Path
) -> None:
    # 2022-01-02 .. 2022-01-24: from near the month's high (47,988) into the low (33,061)
    feed = _feed(shared_data / "nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", "BTC/USD",
                 2000, 34_500, tick="1", step="0.0001")
    limits = RiskLimits.parse({"max_position_fraction": 1, "max_asset_concentration": 1, "max_risk_per_trade": 1,
                               "max_portfolio_heat": 1, "daily_loss_limit": 0.5, "max_order_notional": "1e9",
                               # a slow staged unwind (1 % a day), so the crash still carries on to the hard limit
                               "reduce_stage_fraction": 0.01, "reduce_stage_interval_ns": 86_400 * 10**9})
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path / "head.json")
    risk = RiskEngine(limits, state_dir=tmp_path / "state", audit=audit)
    result, _engine = _run([feed], {"all_in": AllIn}, risk, "100000")

    changes = [(c.old, c.new, c.actor) for c in risk.mode_changes]
    assert changes == [(ControlMode.NORMAL, ControlMode.REDUCE, "drawdown"),
                       (ControlMode.REDUCE, ControlMode.EMERGENCY, "drawdown")]
    reduce_at, emergency_at = risk.mode_changes[0].ts_ns, risk.mode_changes[1].ts_ns
    assert reduce_at < emergency_at
    assert "drawdown 15." in risk.mode_changes[0].reason and "drawdown 20." in risk.mode_changes[1].reason
    system = [f for f in result.fills if f.client_order_id.startswith("risk-")]
    stages = [f for f in system if f.ts < emergency_at]
    flatten = [f for f in system if f.ts >= emergency_at]
    assert stages and all(f.side == "SELL" and reduce_at <= f.ts for f in stages)  # REDUCE unwinds in stages
    assert len(flatten) == 1 and flatten[0].side == "SELL"
    assert flatten[0].ts - emergency_at <= 60 * S  # at the open of the next 1-minute bar
    assert result.open_positions == {}
    assert ModeStore(tmp_path / "state").read().mode is ControlMode.EMERGENCY
    audit.close()
    report = verify(audit.url, tmp_path / "head.json")
    assert report.ok, report.message


# -- 2. runaway strategy -------------------------------------------------------------------------------


class Runaway(Strategy):
    name = "runaway"

    def on_start(self) -> None:
        self.denied: list[str] = []

    def on_bar(self, bar: Bar) -> None:
        self.ctx.submit(bar.instrument_id, "BUY", "0.01")

    def on_order_update(self, event: OrderEvent) -> None:
        if isinstance(event, OrderDenied):
            self.denied.append(event.reason)


@pytest.mark.parametrize(("limits", "cap", "first_denial"), [
    ({"max_orders_per_window": 5, "order_window_ns": 600 * S}, 5, "ORDER_RATE"),
    ({"max_total_orders": 8}, 8, "TOTAL_ORDERS"),
])
def test_runaway_when_order_every_bar_then_cap_holds_and_breaker_stops_it(
    shared_data: Path, tmp_path: Path, limits: dict[str, Any], cap: int, first_denial: str
) -> None:
    feed = _feed(shared_data / "ohlcv/BITTREX_ETH_BTC_1m.csv", "ETH/BTC", 0, 2_000)
    risk = RiskEngine(RiskLimits.parse({**limits, "runaway_denials_to_trip": 3}), state_dir=tmp_path)
    result, engine = _run([feed], {"runaway": Runaway}, risk, "10")
    sent = [o for o in engine.orders.values() if o.client_order_id.startswith("runaway-")]
    venue_seen = [cid for cid in engine.venues["SIM"].status if cid.startswith("runaway")]  # type: ignore[attr-defined]
    assert len(sent) == len(venue_seen) == cap
    assert risk.mode is ControlMode.EMERGENCY and risk.mode_changes[0].actor == "breaker:runaway"
    strategy = engine.strategies[0]
    assert isinstance(strategy, Runaway)
    assert [r.split(":")[0] for r in strategy.denied[:3]] == [first_denial] * 3
    assert all(r.startswith("MODE_EMERGENCY") for r in strategy.denied[3:])
    assert len(strategy.denied) == len(feed.bars) - cap
    assert result.open_positions == {}  # the breaker's EMERGENCY flattened what the loop bought


# -- 3. fat finger ---------------------------------------------------------------------------------------


class FatFinger(Strategy):
    name = "fat_finger"

    def on_start(self) -> None:
        self.denied: dict[str, str] = {}

    def on_bar(self, bar: Bar) -> None:
        if bar.ts_close == self.ctx.now_ns() and not hasattr(self, "sent"):
            self.sent = True
            inst = self.ctx.instrument(bar.instrument_id)
            self.price_cid = self.ctx.submit(bar.instrument_id, "BUY", "0.1", type="LIMIT",
                                             price=inst.make_price(bar.close * 1.5))
            self.size_cid = self.ctx.submit(bar.instrument_id, "BUY", "1000")  # x1000 the usual 1
            self.sane_cid = self.ctx.submit(bar.instrument_id, "BUY", "0.1")

    def on_order_update(self, event: OrderEvent) -> None:
        if isinstance(event, OrderDenied):
            self.denied[event.client_order_id] = event.reason


def test_fat_finger_when_price_or_size_absurd_then_denied_and_never_at_venue(shared_data: Path, tmp_path: Path) -> None:
    feed = _feed(shared_data / "ohlcv/BITTREX_ETH_BTC_1m.csv", "ETH/BTC", 0, 50)
    risk = RiskEngine(RiskLimits.parse({"max_order_notional": "1", "max_position_fraction": 1}), state_dir=tmp_path)
    result, engine = _run([feed], {"fat_finger": FatFinger}, risk, "10")
    s = engine.strategies[0]
    assert isinstance(s, FatFinger)
    assert s.denied[s.price_cid].startswith("PRICE_BAND: price ")
    assert s.denied[s.size_cid].startswith("MAX_ORDER_NOTIONAL: notional ")
    at_venue = set(engine.venues["SIM"].status)  # type: ignore[attr-defined]
    assert at_venue == {s.sane_cid}
    assert [f.client_order_id for f in result.fills] == [s.sane_cid]


# -- 4. EMERGENCY kill switch ----------------------------------------------------------------------------


class Book(Probe):
    """Buys each instrument, then rests 20 limit orders in all, then the operator hits EMERGENCY."""

    name = "book"
    trigger_bar: ClassVar[int] = 10
    state_dir: ClassVar[Path] = Path()
    log: ClassVar[list[tuple[int, int, int]]] = []  # (ts, open orders, open positions) after each bar
    triggered_at: ClassVar[int] = 0

    def on_start(self) -> None:
        self.n: dict[str, int] = {}
        self.resting = 0

    def on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        k = self.n[iid] = self.n.get(iid, 0) + 1
        inst = self.ctx.instrument(iid)
        if k == 1:
            self.ctx.submit(iid, "BUY", inst.make_quantity(0.5 / bar.close))
        elif 2 <= k <= 8 and self.resting < 20:
            self.resting += 1
            self.ctx.submit(iid, "BUY", inst.make_quantity(0.05 / bar.close), type="LIMIT",
                            price=inst.make_price(bar.close * 0.96, rounding="floor"))
        engine = Probe.engine
        assert engine is not None
        if iid == self.ctx.instrument_ids[-1]:
            Book.log.append((bar.ts_close, len(engine.open_orders()), len(engine.net_positions())))
            if k == Book.trigger_bar:
                Book.triggered_at = bar.ts_close
                out = CliRunner().invoke(control_app, ["emergency", "--state-dir", str(Book.state_dir),
                                                       "--actor", "operator", "--reason", "kill test"])
                assert out.exit_code == 0, out.output


@pytest.mark.parametrize("db_locked", [False, True], ids=["db-ok", "db-locked"])
def test_emergency_when_20_orders_and_3_positions_then_none_left_within_5_seconds(
    shared_data: Path, tmp_path: Path, db_locked: bool
) -> None:
    feeds = [_feed(shared_data / f"ohlcv/BITTREX_{c}_BTC_1m.csv", f"{c}/BTC", 0, 40, tick="0.00000001",
                   step="0.01", seconds=1) for c in ("ETH", "LTC", "ADA")]
    feeds[1] = replace(feeds[1], bars=replace(feeds[1].bars, ts_open=feeds[0].bars.ts_open.copy()))
    feeds[2] = replace(feeds[2], bars=replace(feeds[2].bars, ts_open=feeds[0].bars.ts_open.copy()))
    Book.state_dir = tmp_path / "state"
    Book.log = []
    db = Book.state_dir / "audit.db"
    Book.state_dir.mkdir()
    audit = AuditLog(f"sqlite:///{db}", Book.state_dir / "audit.head.json")
    limits = RiskLimits.parse({"max_position_fraction": 1, "max_asset_concentration": 1, "max_risk_per_trade": 1,
                               "max_order_notional": "100", "control_poll_ns": S, "max_orders_per_window": 100})
    risk = RiskEngine(limits, state_dir=Book.state_dir, audit=audit)
    locker = sqlite3.connect(db, isolation_level=None)
    if db_locked:
        locker.execute("BEGIN EXCLUSIVE")
    try:
        _, engine = _run(feeds, {"book": Book}, risk, "10")
        if db_locked:
            assert audit.pending > 0 and not audit.flush()  # the kill went ahead; the audit waits
    finally:
        if db_locked:
            locker.execute("ROLLBACK")
        locker.close()

    before = [row for row in Book.log if row[0] == Book.triggered_at]
    assert not [e for e in engine.events if e.kind in ("ORDER_DENIED", "ORDER_REJECTED") and e.ts < Book.triggered_at]
    assert before == [(Book.triggered_at, 20, 3)]
    after = [row for row in Book.log if Book.triggered_at < row[0] <= Book.triggered_at + 5 * S]
    assert after[-1] == (Book.triggered_at + 5 * S, 0, 0)
    assert risk.mode is ControlMode.EMERGENCY and risk.mode_changes[-1].actor == "operator"
    assert audit.flush() and audit.pending == 0
    report = verify(audit.url, Book.state_dir / "audit.head.json")
    assert report.ok, report.message
    restarted = RiskEngine(limits, state_dir=Book.state_dir)
    assert restarted.mode is ControlMode.EMERGENCY


# -- 5. PAUSE survives a restart ---------------------------------------------------------------------------


class EveryTenBars(Strategy):
    name = "every_ten"

    def on_start(self) -> None:
        self.n = 0
        self.denied: list[str] = []

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n % 10 == 0:
            self.ctx.submit(bar.instrument_id, "BUY", "0.01")

    def on_order_update(self, event: OrderEvent) -> None:
        if isinstance(event, OrderDenied):
            self.denied.append(event.reason)


def test_pause_when_set_by_cli_then_survives_restarts_and_nothing_trades(shared_data: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    out = CliRunner().invoke(control_app, ["pause", "--state-dir", str(state), "--reason", "maintenance"])
    assert out.exit_code == 0
    feed = _feed(shared_data / "ohlcv/BITTREX_LTC_BTC_1m.csv", "LTC/BTC", 0, 200)
    for _restart in range(2):
        risk = RiskEngine(RiskLimits(), state_dir=state)
        result, engine = _run([feed], {"every_ten": EveryTenBars}, risk, "10")
        s = engine.strategies[0]
        assert isinstance(s, EveryTenBars)
        assert len(s.denied) == 20 and all(r.startswith("MODE_PAUSE") for r in s.denied)
        assert result.fills == () and risk.mode is ControlMode.PAUSE
    assert ModeStore(state).read().mode is ControlMode.PAUSE
