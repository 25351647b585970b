"""Reconnect backoff, the silence watchdog and per-instrument feed health (D3 logic without sockets)."""

from __future__ import annotations

import random

import pytest

from bot4.engine.clock import SimClock
from bot4.venues.streams.backoff import Backoff
from bot4.venues.streams.health import FeedHealth
from bot4.venues.streams.watchdog import Watchdog

S = 1_000_000_000


def test_backoff_when_failures_repeat_then_delays_grow_exponentially_with_jitter_and_cap() -> None:
    b = Backoff(base_s=0.5, cap_s=4.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(7)]
    tops = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(top / 2 <= d <= top for d, top in zip(delays, tops, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lockstep


def test_backoff_when_seeded_alike_then_same_delays_and_reset_starts_over() -> None:
    a, b = Backoff(rng=random.Random(3)), Backoff(rng=random.Random(3))
    assert [a.next_delay() for _ in range(5)] == [b.next_delay() for _ in range(5)]
    a.reset()
    assert a.next_delay() <= a.base_s


@pytest.mark.parametrize(("base", "cap", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_backoff_when_parameters_make_no_sense_then_refused_naming_them(base: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError, match="base_s <= cap_s"):
        Backoff(base, cap, factor)


def test_watchdog_when_never_touched_or_silent_past_timeout_then_expired() -> None:
    clock = SimClock()
    w = Watchdog(clock, timeout_s=1.0)
    assert w.expired("x") and w.age_s("x") is None
    w.touch("x")
    clock.advance_to(S)
    assert not w.expired("x") and w.age_s("x") == 1.0
    clock.advance_to(S + 1)
    assert w.expired("x")


def test_feed_health_when_book_synced_then_healthy_until_silence_then_stale_and_back_on_fresh_data() -> None:
    clock = SimClock()
    seen: list[tuple[str, bool, str]] = []
    h = FeedHealth(["A"], clock, 2.0, lambda *a: seen.append(a))
    h.watchdog.touch("A")
    h.set_book("A", True)
    assert seen == [("A", True, "book in sync, data fresh")] and h.healthy("A")
    clock.advance_to(2 * S + 1)
    assert not h.healthy("A")  # refused at once, before any periodic check runs
    h.check("A")
    assert seen[-1][:2] == ("A", False) and seen[-1][2].startswith("stale: no book update for 2.0 s")
    h.check("A")
    assert len(seen) == 2 and h.stats.stale == 1  # reported on change only
    h.watchdog.touch("A")
    h.check("A")
    assert seen[-1] == ("A", True, "book in sync, data fresh")


def test_feed_health_when_book_invalidated_then_reason_reported_and_callback_errors_contained() -> None:
    clock = SimClock()

    def boom(*_a: object) -> None:
        raise RuntimeError("node bug")

    h = FeedHealth(["A"], clock, 2.0, boom)
    h.watchdog.touch("A")
    h.set_book("A", True)
    h.set_book("A", False, "sequence gap: U=5")
    assert not h.healthy("A") and h.stats.callback_errors == 2
    with pytest.raises(KeyError, match="'B' is not fed here"):
        h.healthy("B")
