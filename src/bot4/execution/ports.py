"""The two small interfaces the order manager depends on: a venue client and a journal.

Both are synchronous. The core imports neither SQLAlchemy nor an HTTP library; the SQL journal
lives in ``bot4.persistence.journal`` and adapters in ``bot4.execution.*_client``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from bot4.execution.records import (
    ExecReport,
    FillRow,
    JournalSnapshot,
    OrderRecord,
    OrderSnapshot,
    PositionRow,
    VenueTrade,
)
from bot4.model.orders import Order


class VenueClient(Protocol):
    """Order entry and order/trade queries for one account on one venue.

    Raises only ``bot4.execution.errors`` classes. ``submit``/``cancel`` return the reports the
    response itself carried (ack, immediate fills); later events arrive through ``set_listener``.
    ``query_order`` returns None only for a definite "not found" (Binance -2013).
    """

    name: str

    def set_listener(self, listener: Callable[[ExecReport], None]) -> None: ...

    def submit(self, order: Order) -> list[ExecReport]: ...

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]: ...

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None: ...

    def open_orders(self) -> list[OrderSnapshot]: ...

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        """Our executions with a sequence above ``since_seq``, in sequence order."""
        ...


class Journal(Protocol):
    """Write-ahead storage of intents, order states, fills and positions; each call is one transaction."""

    def load(self) -> JournalSnapshot: ...

    def commit_intent(self, record: OrderRecord) -> None:
        """Insert a new intent; it is durable when this returns (else ``JournalError``)."""
        ...

    def commit_order(self, record: OrderRecord) -> None:
        """Update an order's status and quantities."""
        ...

    def commit_fill(self, fill: FillRow, order: OrderRecord, position: PositionRow, fee: tuple[str, Decimal]) -> bool:
        """Insert the fill unless its key exists; only if inserted, also update order, position and fee.

        Returns False for a duplicate (nothing changed).
        """
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Small durable settings (trade-sync watermarks, the halt reason)."""
        ...

    def record_event(self, kind: str, client_order_id: str, detail: str) -> None:
        """Audit line (e.g. "duplicate dropped"); best effort."""
        ...

    def wait_at_most(self, ms: int | None) -> AbstractContextManager[None]:
        """Writes inside wait for a database lock at most ``ms`` (None: the journal's own setting)."""
        ...

    @property
    def emergency_log_path(self) -> Path | None:
        """Where system intents go when the journal cannot commit them (None: nowhere, stay strict)."""
        ...

    def close(self) -> None: ...


class MonotonicClock(Protocol):
    def monotonic_ns(self) -> int: ...
