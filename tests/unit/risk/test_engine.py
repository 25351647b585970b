"""The risk engine's control modes, guards and breakers, driven through a fake ExecutionControl."""

from __future__ import annotations

import os
import signal
from decimal import Decimal
from pathlib import Path

import pytest

from bot4.model.events import OrderAccepted, OrderRejected, QuoteTick
from bot4.risk.breakers import BreakerState
from bot4.risk.engine import RiskEngine
from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode, ModeStore
from bot4.risk.signals import install_signal_handlers
from tests.unit.risk.fakes import BTC, PERMISSIVE, FakeControl, S, bar, make_risk, order


def test_mode_when_set_then_persisted_and_restored_by_a_new_engine(tmp_path: Path) -> None:
    risk, _control = make_risk(tmp_path)
    risk.operator_set_mode(ControlMode.PAUSE, "alice", "maintenance")
    again = RiskEngine(RiskLimits.parse(PERMISSIVE), state_dir=tmp_path / "state")
    again.bind(FakeControl())
    assert again.mode is ControlMode.PAUSE
    assert ModeStore(tmp_path / "state").read().actor == "alice"


def test_escalate_when_less_severe_then_ignored(tmp_path: Path) -> None:
    risk, _ = make_risk(tmp_path)
    assert risk.escalate(ControlMode.REDUCE, "auto", "x")
    assert not risk.escalate(ControlMode.PAUSE, "auto", "y")
    assert not risk.escalate(ControlMode.NORMAL, "auto", "z")
    assert risk.mode is ControlMode.REDUCE


def test_resume_when_not_confirmed_then_refused(tmp_path: Path) -> None:
    risk, _ = make_risk(tmp_path)
    risk.operator_set_mode(ControlMode.EMERGENCY, "op", "x")
    with pytest.raises(PermissionError, match="confirm"):
        risk.operator_set_mode(ControlMode.NORMAL, "op", "back")
    risk.operator_set_mode(ControlMode.NORMAL, "op", "back", confirm=True)
    assert risk.mode is ControlMode.NORMAL


def test_emergency_when_entered_then_cancels_and_flattens_before_anything_else(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "1", "100")
    risk.operator_set_mode(ControlMode.EMERGENCY, "op", "kill")
    assert control.cancel_calls and control.flatten_calls
    assert (risk.check(order()) or "").startswith("MODE_EMERGENCY")


def test_emergency_when_positions_remain_and_no_flatten_working_then_flattens_again(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "1", "100")
    risk.operator_set_mode(ControlMode.EMERGENCY, "op", "kill")
    bar(risk, control, 100.0)  # the flatten order was rejected: the position is still there
    assert len(control.flatten_calls) == 2


def test_restart_when_mode_was_emergency_then_kill_actions_rerun_on_first_bar(tmp_path: Path) -> None:
    ModeStore(tmp_path / "state").write(ControlMode.EMERGENCY, "op", "before restart", 1)
    risk, control = make_risk(tmp_path)
    assert risk.mode is ControlMode.EMERGENCY and not control.cancel_calls
    bar(risk, control, 100.0)
    assert control.cancel_calls and control.flatten_calls


def test_poll_when_cli_wrote_mode_file_then_engine_follows(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    ModeStore(tmp_path / "state").write(ControlMode.REDUCE, "bob", "cli", 5)
    bar(risk, control, 100.0)
    assert risk.mode is ControlMode.REDUCE and risk.mode_changes[-1].actor == "bob"
    ModeStore(tmp_path / "state").write(ControlMode.NORMAL, "bob", "resume --confirm", 6)
    bar(risk, control, 100.0)
    assert risk.mode is ControlMode.NORMAL


def test_poll_when_sentinel_file_appears_then_emergency(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    (tmp_path / "state" / "EMERGENCY").touch()
    bar(risk, control, 100.0)
    assert risk.mode is ControlMode.EMERGENCY and risk.mode_changes[-1].actor == "sentinel"


def test_signal_when_sigusr2_received_then_emergency_at_next_check(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    old = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2)}
    try:
        install_signal_handlers(risk)
        os.kill(os.getpid(), signal.SIGUSR2)
        assert (risk.check(order()) or "").startswith("MODE_EMERGENCY")
        assert risk.mode_changes[-1].actor == "signal:SIGUSR2" and control.flatten_calls
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def test_deadman_when_heartbeat_stops_then_cancel_all_and_pause(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, heartbeat_timeout_ns=10 * S)
    bar(risk, control, 100.0, dt=5 * S)
    risk.heartbeat()
    bar(risk, control, 100.0, dt=10 * S)  # exactly at the timeout: still alive
    assert risk.mode is ControlMode.NORMAL
    bar(risk, control, 100.0, dt=1 * S)
    assert risk.mode is ControlMode.PAUSE and control.cancel_calls == ["dead man's switch: no heartbeat"]


@pytest.mark.parametrize(("close", "mode"), [(85.01, ControlMode.NORMAL), (85.0, ControlMode.REDUCE),
                                             (80.0, ControlMode.EMERGENCY)])
def test_drawdown_when_equity_falls_then_soft_reduces_hard_is_emergency(
    tmp_path: Path, close: float, mode: ControlMode
) -> None:
    risk, control = make_risk(tmp_path, Decimal(10_000), drawdown_soft=0.15, drawdown_hard=0.20)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "100", "100")  # all in
    bar(risk, control, close)
    assert risk.mode is mode


def test_slippage_when_fills_3x_worse_than_expected_then_breaker_pauses(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, expected_slippage_bps=10, slippage_events_to_trip=2)
    bar(risk, control, 100.0)
    for i, price in enumerate(["100.30", "100.31", "100.31"]):  # 30 bps is at the limit, 31 over
        assert risk.check(order(cid=f"o{i}")) is None
        control.fill(risk, BTC.id, "BUY", "1", price, cid=f"o{i}")
    assert risk.breakers["slippage"].state is BreakerState.OPEN
    assert risk.mode is ControlMode.PAUSE


def test_rejects_when_storm_then_breaker_trips(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, rejects_to_trip=3)
    for i in range(2):
        risk.on_order_event(OrderRejected(f"c{i}", "s", BTC.id, control.now + i, "insufficient balance"))
    assert risk.mode is ControlMode.NORMAL
    risk.on_order_event(OrderAccepted("ok", "s", BTC.id, control.now + 3))
    risk.on_order_event(OrderRejected("c3", "s", BTC.id, control.now + 4, "insufficient balance"))
    assert risk.mode is ControlMode.PAUSE


def test_api_errors_when_cascade_then_breaker_trips_configured_mode(tmp_path: Path) -> None:
    risk, _control = make_risk(tmp_path, api_errors_to_trip=4, breaker_mode="EMERGENCY")
    for _ in range(3):
        risk.record_api_error("HTTP 503")
    assert risk.mode is ControlMode.NORMAL
    risk.record_api_error("HTTP 503")
    assert risk.mode is ControlMode.EMERGENCY


def test_spread_when_over_3x_normal_then_breaker_trips(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, spread_events_to_trip=2)
    for i in range(30):
        risk.on_quote(QuoteTick(BTC.id, control.now + i, 99.99, 1.0, 100.01, 1.0))  # 2 bps
    risk.on_quote(QuoteTick(BTC.id, control.now + 40, 99.97, 1.0, 100.03, 1.0))  # 6 bps = 3x: normal
    assert risk.breakers["spread"].state is BreakerState.CLOSED
    risk.on_quote(QuoteTick(BTC.id, control.now + 41, 99.9, 1.0, 100.1, 1.0))
    risk.on_quote(QuoteTick(BTC.id, control.now + 42, 99.9, 1.0, 100.1, 1.0))
    assert risk.mode is ControlMode.PAUSE


def test_stale_quotes_when_live_and_silent_then_breaker_trips(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, live=True, stale_events_to_trip=2, control_poll_ns=S)
    risk.on_quote(QuoteTick(BTC.id, control.now, 99.99, 1.0, 100.01, 1.0))
    control.now += 2 * S
    risk.poll()
    assert risk.mode is ControlMode.NORMAL
    control.now += S
    risk.poll()
    assert risk.mode is ControlMode.PAUSE


def test_runaway_when_rate_denials_reach_threshold_then_emergency(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_orders_per_window=2, order_window_ns=60 * S, runaway_denials_to_trip=3)
    bar(risk, control, 100.0)
    reasons = [risk.check(order(cid=f"c{i}")) for i in range(5)]
    assert reasons[:2] == [None, None]
    assert all((r or "").startswith("ORDER_RATE") for r in reasons[2:])
    assert risk.mode is ControlMode.EMERGENCY and risk.mode_changes[-1].actor == "breaker:runaway"


def test_var_when_portfolio_returns_breach_limit_then_crisis_halves_budgets(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, var_limit=0.01, var_refresh_bars=40, var_window=40)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "50", "100")
    for i in range(60):
        bar(risk, control, 100.0 * (1.03 if i % 2 else 0.97))
    assert risk.crisis and risk.state.budget_factor == 0.5
    assert risk.last_var is not None and risk.last_var.var > 0.01


def test_reduce_when_engine_offers_partial_unwind_then_stages_follow_interval(tmp_path: Path) -> None:
    calls: list[float] = []

    class Staged(FakeControl):
        def reduce_positions(self, fraction: float, reason: str) -> int:
            calls.append(fraction)
            return 1

    risk = RiskEngine(RiskLimits.parse({**PERMISSIVE, "reduce_stage_interval_ns": 120 * S}), state_dir=tmp_path)
    control = Staged()
    risk.bind(control)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "1", "100")
    risk.operator_set_mode(ControlMode.REDUCE, "op", "unwind")
    for _ in range(4):
        bar(risk, control, 100.0)  # 60 s apart: a stage every other bar
    assert calls == [0.25, 0.25]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -5.0])
def test_on_bar_when_price_not_finite_positive_then_ignored_and_orders_not_priced_by_it(
    tmp_path: Path, bad: float
) -> None:
    risk, control = make_risk(tmp_path, max_order_notional="150")
    bar(risk, control, bad)
    assert risk.bad_market_data == 1
    assert (risk.check(order()) or "").startswith("NO_REFERENCE_PRICE")
    bar(risk, control, 100.0)
    bar(risk, control, bad)
    assert risk.check(order()) is None  # still priced at 100, not at the bad print
    assert (risk.check(order(qty="1.6")) or "").startswith("MAX_ORDER_NOTIONAL: notional 160")


def test_refresh_correlations_when_two_instruments_then_matches_numpy(tmp_path: Path) -> None:
    import numpy as np

    from tests.unit.risk.fakes import ETH

    risk, control = make_risk(tmp_path, correlation_window=50, correlation_refresh_bars=1000)
    rng = np.random.default_rng(3)
    a = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    b = 10 * np.exp(np.cumsum(0.5 * np.diff(np.log(a), prepend=np.log(a[0])) + rng.normal(0, 0.01, 60)))
    for pa, pb in zip(a, b, strict=True):
        bar(risk, control, float(pa))
        bar(risk, control, float(pb), iid=ETH.id, dt=0)
    risk.refresh_correlations()
    ra, rb = a[1:] / a[:-1] - 1, b[1:] / b[:-1] - 1
    expected = np.corrcoef(ra[-50:], rb[-50:])[0, 1]
    assert risk.state.instruments[ETH.id].corr[BTC.id] == pytest.approx(expected)
    assert risk.state.instruments[BTC.id].corr[ETH.id] == pytest.approx(expected)
