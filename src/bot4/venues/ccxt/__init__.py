"""Live venue adapter through ccxt (synchronous): settings, error mapping, clock sync, rate-limit gate.

Only the kernel/CLI names this package; the order manager sees a ``VenueClient``.
"""

from bot4.venues.ccxt.client import CcxtVenueClient, build_exchange
from bot4.venues.ccxt.errors import DuplicateOrderError, RateLimitedError, TimeSyncError, classify
from bot4.venues.ccxt.gate import RequestGate
from bot4.venues.ccxt.limits import VenueLimits, parse_rate_limits
from bot4.venues.ccxt.overrides import OVERRIDES, ExchangeOverrides, overrides_for
from bot4.venues.ccxt.settings import VenueSettings
from bot4.venues.ccxt.timesync import TimeSync

__all__ = [
    "OVERRIDES",
    "CcxtVenueClient",
    "DuplicateOrderError",
    "ExchangeOverrides",
    "RateLimitedError",
    "RequestGate",
    "TimeSync",
    "TimeSyncError",
    "VenueLimits",
    "VenueSettings",
    "build_exchange",
    "classify",
    "overrides_for",
    "parse_rate_limits",
]
