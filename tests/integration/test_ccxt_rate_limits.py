"""The ccxt client sizes its request gate from the venue's published ``exchangeInfo.rateLimits`` (E1).

A local server with a 600 weight/min budget (a tenth of Binance's): the client, configured with the
default 6000, must learn 600 and shed reads before the server ever answers 429.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.execution.errors import RetryableError
from bot4.venues.ccxt import VenueLimits, parse_rate_limits
from bot4.venues.sim.server import WeightLimiter
from tests.integration.test_ccxt_client import IID, client_for, fault, serving


def test_rate_limits_when_venue_publishes_600_per_min_then_gate_sized_and_sheds_before_any_429(
    shared_data: Path,
) -> None:
    with serving(shared_data, limiter=WeightLimiter(capacity=600, window_s=60.0)) as ex:
        client, _ = client_for(ex)  # rate_limit_weight_1m stays at its default, 6000
        client.load_instruments()
        assert client.venue_limits == VenueLimits(weight_1m=600, orders_10s=100)
        assert client.gate.capacity == 600 and client.gate.orders_10s_limit == 100
        reached = fault(ex, "*", "delay", ms=0)  # counts requests reaching the server
        shed, statuses = None, set()
        for _ in range(40):  # myTrades weighs 20: 600/min is gone after ~25 reads
            try:
                client.my_trades(IID, 0)
            except RetryableError as exc:
                shed = str(exc)
                break
            statuses.add(client.last_status)
        assert shed is not None and "shed" in shed and "of 600/min" in shed, shed
        assert statuses == {200} and client.gate.blocked_until_ms == 0  # the server never had to answer 429
        assert 20 <= reached.seen < 30


def test_rate_limits_when_configured_budget_smaller_then_setting_stays_the_upper_bound(shared_data: Path) -> None:
    with serving(shared_data) as ex:  # the server publishes 6000
        client, _ = client_for(ex, rate_limit_weight_1m=1200)
        client.load_instruments()
        assert client.venue_limits is not None and client.venue_limits.weight_1m == 6000
        assert client.gate.capacity == 1200


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}], (6000, None)),
        ([{"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 10, "limit": 200}], (1200, None)),
        ([{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": 5}], (None, 50)),
        ([{"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000}], (None, None)),
        ([{"rateLimitType": "REQUEST_WEIGHT", "interval": "EON", "limit": 1}, "junk", None], (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_rate_limits_when_rows_vary_then_scaled_to_the_gate_windows_and_junk_skipped(
    rows: object, expected: tuple[int | None, int | None]
) -> None:
    assert parse_rate_limits(rows) == VenueLimits(*expected)
