"""Local Binance-spot-compatible exchange server over the matching venue, for fault-injection tests."""

from bot4.venues.sim.server.accounts import Account, AccountsError, load_accounts
from bot4.venues.sim.server.clock import ManualClock, ServerClock
from bot4.venues.sim.server.exchange import SimExchange
from bot4.venues.sim.server.faults import FaultPlan, FaultPlanError
from bot4.venues.sim.server.latency import Latency, LatencyModel
from bot4.venues.sim.server.listing import Listing
from bot4.venues.sim.server.ratelimit import WeightLimiter
from bot4.venues.sim.server.records import Ledger, OrderRecord, TradeRecord
from bot4.venues.sim.server.server import ExchangeServer, ServerConfig
from bot4.venues.sim.server.signing import ApiError, sign

__all__ = [
    "Account",
    "AccountsError",
    "ApiError",
    "ExchangeServer",
    "FaultPlan",
    "FaultPlanError",
    "Latency",
    "LatencyModel",
    "Ledger",
    "Listing",
    "ManualClock",
    "OrderRecord",
    "ServerClock",
    "ServerConfig",
    "SimExchange",
    "TradeRecord",
    "WeightLimiter",
    "load_accounts",
    "sign",
]
