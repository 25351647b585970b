"""RequestGate (E1/E2: nothing sent during Retry-After; priority shedding) and TimeSync (E3) with a hand clock."""

from __future__ import annotations

import pytest

from bot4.venues.ccxt.errors import RateLimitedError
from bot4.venues.ccxt.gate import RequestGate
from bot4.venues.ccxt.timesync import TimeSync

S = 1_000_000_000


class HandClock:
    def __init__(self, wall_ns: int = 1_700_000_000 * S, mono_ns: int = 5 * S) -> None:
        self.wall, self.mono = wall_ns, mono_ns

    def now_ns(self) -> int:
        return self.wall

    def monotonic_ns(self) -> int:
        return self.mono

    def advance(self, ns: int) -> None:
        self.wall += ns
        self.mono += ns


def test_gate_when_429_with_retry_after_then_every_class_refused_until_it_passes() -> None:
    clock = HandClock()
    gate = RequestGate(clock, 6000)
    gate.observe(429, {"Retry-After": "3", "X-MBX-USED-WEIGHT-1M": "6000"})
    for kind in ("cancel", "order", "read"):
        with pytest.raises(RateLimitedError, match=r"not sent, rate limited \(429\) for 3.0 s") as info:
            gate.admit(kind, "GET /api/v3/time")  # type: ignore[arg-type]
        assert info.value.retry_after_s == pytest.approx(3.0) and not info.value.banned
    assert gate.refused == 3 and gate.pressure() == 1.0 and not gate.is_banned
    clock.advance(2 * S)
    with pytest.raises(RateLimitedError, match=r"for 1\.0 s"):
        gate.admit("cancel", "DELETE /api/v3/order")
    clock.advance(S)
    gate.admit("cancel", "DELETE /api/v3/order")


def test_gate_when_418_then_banned_until_retry_after_and_reported_in_wall_time() -> None:
    clock = HandClock()
    gate = RequestGate(clock, 6000)
    gate.observe(418, {"retry-after": "120"})
    assert gate.is_banned and gate.banned_until_ms == clock.now_ns() // 1_000_000 + 120_000
    with pytest.raises(RateLimitedError, match="banned") as info:
        gate.admit("cancel", "x")
    assert info.value.banned
    clock.advance(120 * S)
    assert not gate.is_banned and gate.banned_until_ms == 0
    gate.admit("read", "x")


def test_gate_when_429_without_retry_after_then_default_wait() -> None:
    clock = HandClock()
    gate = RequestGate(clock, 6000, default_retry_after_s=10)
    gate.observe(429, {})
    clock.advance(9 * S)
    with pytest.raises(RateLimitedError):
        gate.admit("read", "x")
    clock.advance(S)
    gate.admit("read", "x")


def test_gate_when_weight_near_limit_then_reads_shed_before_orders_and_cancels_always_pass() -> None:
    clock = HandClock()
    gate = RequestGate(clock, 1000)
    gate.observe(200, {"X-MBX-USED-WEIGHT-1M": "850"})
    assert gate.pressure() == pytest.approx(0.85)
    with pytest.raises(RateLimitedError, match="shed above 80%"):
        gate.admit("read", "GET /api/v3/openOrders")
    gate.admit("order", "POST /api/v3/order")
    gate.observe(200, {"X-MBX-USED-WEIGHT-1M": "950"})
    with pytest.raises(RateLimitedError, match="shed above 90%"):
        gate.admit("order", "POST /api/v3/order")
    gate.admit("cancel", "DELETE /api/v3/order")
    clock.advance(30 * S)  # the estimate decays over the minute
    assert gate.pressure() == pytest.approx(0.45)
    gate.admit("read", "GET /api/v3/openOrders")


def test_gate_when_order_count_near_10s_limit_then_orders_shed() -> None:
    clock = HandClock()
    gate = RequestGate(clock, 6000, orders_10s_limit=10)
    gate.observe(200, {"X-MBX-ORDER-COUNT-10S": "9"})
    with pytest.raises(RateLimitedError):
        gate.admit("order", "POST /api/v3/order")
    clock.advance(10 * S)
    gate.admit("order", "POST /api/v3/order")


def test_timesync_when_clock_skewed_then_median_offset_and_server_now_corrected() -> None:
    clock = HandClock()
    server_offset_ms = -2000  # our wall clock is 2 s fast
    rtts = iter([10, 50, 12, 11, 400])  # one slow sample: the median ignores it

    def fetch() -> int:
        rtt = next(rtts) * 1_000_000
        clock.advance(rtt // 2)
        server = clock.now_ns() // 1_000_000 + server_offset_ms
        clock.advance(rtt - rtt // 2)
        return server

    ts = TimeSync(clock, fetch, samples=5, interval_s=60)
    assert ts.due() and ts.server_now_ms() == clock.now_ns() // 1_000_000  # unsynced: local wall
    assert ts.sync() == pytest.approx(-2000, abs=1)
    assert ts.rtt_ms == 12
    assert ts.server_now_ms() == pytest.approx(clock.now_ns() // 1_000_000 - 2000, abs=1)
    clock.wall -= 5 * S  # a wall-clock step backwards does not move server time (monotonic anchor)
    assert ts.server_now_ms() == pytest.approx(clock.now_ns() // 1_000_000 + 5000 - 2000, abs=1)
    assert not ts.due()
    clock.mono += 60 * S
    assert ts.due()
    ts2 = TimeSync(clock, lambda: 0, samples=1)
    ts2.sync()
    ts2.invalidate()
    assert ts2.due()


def test_timesync_when_bad_arguments_then_refused() -> None:
    with pytest.raises(ValueError, match="samples"):
        TimeSync(HandClock(), lambda: 0, samples=0)
    with pytest.raises(ValueError, match="capacity_weight_1m"):
        RequestGate(HandClock(), 0)
