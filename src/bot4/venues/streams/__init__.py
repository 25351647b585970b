"""Streaming market data and user data for the live node (asyncio), surviving reliability.md C and D faults."""

from bot4.venues.streams.backoff import Backoff, MonotonicClock
from bot4.venues.streams.binance_messages import MessageError, parse_execution_report
from bot4.venues.streams.ccxt_market import CcxtMarketFeed
from bot4.venues.streams.health import FeedStats
from bot4.venues.streams.market import MarketDataFeed, MarketFeed
from bot4.venues.streams.user import UserStream, UserStreamError, UserStreamStats
from bot4.venues.streams.watchdog import Watchdog

__all__ = [
    "Backoff",
    "CcxtMarketFeed",
    "FeedStats",
    "MarketDataFeed",
    "MarketFeed",
    "MessageError",
    "MonotonicClock",
    "UserStream",
    "UserStreamError",
    "UserStreamStats",
    "Watchdog",
    "parse_execution_report",
]
