"""Request-weight token bucket: 429 with Retry-After when weight does not fit, 418 for clients that keep going."""

from __future__ import annotations

import pytest

from bot4.venues.sim.server.ratelimit import WeightLimiter

S = 1_000_000_000


def test_check_when_weight_fits_then_200_and_used_weight_grows() -> None:
    lim = WeightLimiter(capacity=10, window_s=60)
    assert (lim.check("ip", 4, 0).status, lim.check("ip", 4, 0).used) == (200, 8)


def test_check_when_weight_does_not_fit_then_429_with_retry_after_until_refilled() -> None:
    lim = WeightLimiter(capacity=60, window_s=60)  # refills 1 weight per second
    assert lim.check("ip", 58, 0).status == 200
    verdict = lim.check("ip", 5, 0)
    assert (verdict.status, verdict.retry_after_s) == (429, 3)


def test_check_when_client_waits_out_retry_after_then_served_again() -> None:
    lim = WeightLimiter(capacity=60, window_s=60, ban_after=1)
    lim.check("ip", 60, 0)
    assert lim.check("ip", 5, 0).status == 429
    assert lim.check("ip", 5, 6 * S).status == 200


def test_check_when_client_keeps_going_after_429_then_banned_with_418_for_ban_time() -> None:
    lim = WeightLimiter(capacity=10, window_s=60, ban_after=2, ban_s=120)
    lim.check("ip", 10, 0)
    assert [lim.check("ip", 1, i).status for i in range(1, 5)] == [429, 429, 429, 418]
    later = lim.check("ip", 1, 100 * S)
    assert (later.status, later.retry_after_s) == (418, 21)
    assert lim.check("ip", 1, 125 * S).status == 200


def test_check_when_other_ip_then_its_own_budget() -> None:
    lim = WeightLimiter(capacity=5, window_s=60)
    lim.check("a", 5, 0)
    assert lim.check("a", 1, 0).status == 429
    assert lim.check("b", 1, 0).status == 200


def test_limiter_when_capacity_not_positive_then_error_names_it() -> None:
    with pytest.raises(ValueError, match="capacity"):
        WeightLimiter(capacity=0)
