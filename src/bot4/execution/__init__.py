"""Order management: write-ahead intents, the order state machine, fills exactly once, recovery, contingents.

The core (``order_manager``, ``states``, ``ledger``, ``contingent``, ``recovery``) is synchronous and
storage-free; it talks to a ``Journal`` (``bot4.persistence.journal.SqlJournal`` in production,
``MemoryJournal`` in tests) and a ``VenueClient`` (``MatchingClient`` and ``BarClient`` in-process,
``BinanceRestClient`` over HTTP).
"""

from bot4.execution.errors import (
    FatalError,
    JournalError,
    JournalLocked,
    RejectedError,
    RetryableError,
    TradingHalted,
    UnknownOutcomeError,
    VenueError,
)
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.records import ExecReport, OrderRecord, OrderSnapshot, VenueTrade
from bot4.execution.recovery import RecoveryReport, recover
from bot4.execution.states import OmsStatus

__all__ = [
    "ExecReport",
    "FatalError",
    "JournalError",
    "JournalLocked",
    "OmsConfig",
    "OmsStatus",
    "OrderManager",
    "OrderRecord",
    "OrderSnapshot",
    "RecoveryReport",
    "RejectedError",
    "RetryableError",
    "TradingHalted",
    "UnknownOutcomeError",
    "VenueError",
    "VenueTrade",
    "recover",
]
