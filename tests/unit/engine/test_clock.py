import pytest

from bot4.engine.clock import SimClock


def test_advance_when_timers_due_then_fired_in_time_order_at_their_own_time() -> None:
    clock = SimClock(0)
    fired: list[tuple[str, int, int]] = []
    clock.schedule(30, lambda t: fired.append(("b", t, clock.now_ns())))
    clock.schedule(10, lambda t: fired.append(("a", t, clock.now_ns())))
    clock.schedule(30, lambda t: fired.append(("c", t, clock.now_ns())))
    clock.schedule(99, lambda t: fired.append(("late", t, clock.now_ns())))
    clock.advance_to(50)
    assert fired == [("a", 10, 10), ("b", 30, 30), ("c", 30, 30)]
    assert clock.now_ns() == 50


def test_advance_when_going_backwards_then_refused() -> None:
    clock = SimClock(100)
    with pytest.raises(ValueError, match="cannot go back from 100 to 99"):
        clock.advance_to(99)
