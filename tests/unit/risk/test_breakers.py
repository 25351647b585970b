"""Circuit breaker states: closed -> open on threshold, quiet during cool-down, half-open re-arming."""

from __future__ import annotations

import pytest

from bot4.risk.breakers import BreakerState, CircuitBreaker, SpreadMonitor
from bot4.risk.drawdown import DrawdownGuard
from bot4.risk.modes import ControlMode

S = 1_000_000_000


def _breaker() -> CircuitBreaker:
    return CircuitBreaker("t", threshold=3, window_ns=10 * S, cooldown_ns=60 * S, mode=ControlMode.PAUSE,
                          probe_successes=2)


def test_record_when_bad_below_threshold_in_window_then_stays_closed() -> None:
    b = _breaker()
    assert not b.record(True, 0) and not b.record(True, S)
    assert not b.record(True, 12 * S)  # the first bad one has left the 10 s window
    assert b.state is BreakerState.CLOSED


def test_record_when_threshold_reached_in_window_then_trips_once() -> None:
    b = _breaker()
    assert [b.record(True, t * S) for t in range(3)] == [False, False, True]
    assert b.state is BreakerState.OPEN and b.trips == 1
    assert not b.record(True, 5 * S)  # open: quiet during the cool-down


def test_record_when_cooldown_over_then_half_open_trips_on_single_bad() -> None:
    b = _breaker()
    for t in range(3):
        b.record(True, t * S)
    b.poll(62 * S)
    assert b.state is BreakerState.HALF_OPEN
    assert b.record(True, 63 * S) and b.trips == 2


def test_record_when_half_open_and_good_probes_then_closes() -> None:
    b = _breaker()
    for t in range(3):
        b.record(True, t * S)
    b.record(False, 70 * S)
    assert b.state is BreakerState.HALF_OPEN
    b.record(False, 71 * S)
    assert b.state is BreakerState.CLOSED
    assert not b.record(True, 72 * S)  # closed again: needs the full threshold


def test_breaker_when_threshold_zero_then_error_names_it() -> None:
    with pytest.raises(ValueError, match="breaker x: threshold"):
        CircuitBreaker("x", 0, S, S, ControlMode.PAUSE)


def test_spread_monitor_when_crossed_book_then_abnormal() -> None:
    m = SpreadMonitor(3.0)
    assert m.observe(101.0, 100.0)


@pytest.mark.parametrize(("equity", "want"), [(8501.0, None), (8500.0, ControlMode.REDUCE),
                                              (8001.0, ControlMode.REDUCE), (8000.0, ControlMode.EMERGENCY)])
def test_drawdown_guard_when_near_limits_then_modes_at_the_limits(equity: float, want: ControlMode | None) -> None:
    g = DrawdownGuard(0.15, 0.20)
    g.update(10_000.0)
    assert g.update(equity) is want


def test_drawdown_guard_when_limits_out_of_order_then_error() -> None:
    with pytest.raises(ValueError, match=r"soft=0\.3, hard=0\.2"):
        DrawdownGuard(0.3, 0.2)


def test_spread_monitor_when_tick_bound_book_widens_under_floor_then_normal_over_floor_then_abnormal() -> None:
    m = SpreadMonitor(3.0, floor_bps=5.0)
    for _ in range(30):
        assert not m.observe(90_000.00, 90_000.01)  # one tick: about 0.001 bp
    assert not m.observe(90_000.00, 90_005.25)  # 525x the normal spread, yet 0.58 bp: noise, not a breaker event
    assert m.observe(90_000.00, 90_050.00)  # 5.6 bp: over the floor and over 3x normal
