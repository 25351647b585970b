"""In-memory journals: ``MemoryJournal`` for unit tests, ``NullJournal`` for backtests.

It keeps the same rules as the SQL journal (a fill key is inserted once; fill, order and position
change together) so the order manager's tests do not depend on a database. ``fail_next`` lets a
test make the next commit fail, as a locked or full disk would.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from bot4.execution.errors import JournalError
from bot4.execution.ledger import FillKey, fill_key
from bot4.execution.records import FillRow, JournalSnapshot, OrderRecord, PositionRow


class MemoryJournal:
    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[FillKey, FillRow] = {}
        self.positions: dict[tuple[str, str], PositionRow] = {}
        self.fees: dict[tuple[str, str], Decimal] = {}
        self.meta: dict[str, str] = {}
        self.events: list[tuple[str, str, str]] = []
        self.fail_next = 0
        self.down = False  # every commit fails while set, as a locked database would
        self.emergency_log_path: Path | None = None
        self.waits: list[int | None] = []  # the lock waits asked for, in order

    def wait_at_most(self, ms: int | None) -> AbstractContextManager[None]:
        self.waits.append(ms)
        return nullcontext()

    def _check(self) -> None:
        if self.down:
            raise JournalError("memory journal: database is locked (injected)")
        if self.fail_next:
            self.fail_next -= 1
            raise JournalError("memory journal: injected commit failure")

    def load(self) -> JournalSnapshot:
        orders = [replace(r) for r in sorted(self.orders.values(), key=lambda r: (r.intent_seq, r.client_order_id))]
        top = max((r.intent_seq for r in orders), default=0)
        return JournalSnapshot(
            orders, list(self.fills.values()), list(self.positions.values()), dict(self.fees), dict(self.meta), top + 1
        )

    def commit_intent(self, record: OrderRecord) -> None:
        self._check()
        if record.client_order_id in self.orders:
            raise JournalError(f"intent {record.client_order_id}: already journaled")
        self.orders[record.client_order_id] = replace(record)

    def commit_order(self, record: OrderRecord) -> None:
        self._check()
        self.orders[record.client_order_id] = replace(record)

    def commit_fill(self, fill: FillRow, order: OrderRecord, position: PositionRow, fee: tuple[str, Decimal]) -> bool:
        self._check()
        key = fill_key(fill.venue, fill.fill)
        if key in self.fills:
            return False
        self.fills[key] = fill
        self.orders[order.client_order_id] = replace(order)
        self.positions[(position.venue, position.instrument_id)] = position
        self.fees[(fill.venue, fee[0])] = fee[1]
        return True

    def set_meta(self, key: str, value: str) -> None:
        self._check()
        self.meta[key] = value

    def record_event(self, kind: str, client_order_id: str, detail: str) -> None:
        if self.down:
            raise JournalError("memory journal: database is locked (injected)")
        self.events.append((kind, client_order_id, detail))

    def close(self) -> None:
        pass


class NullJournal:
    """A journal that keeps nothing, for backtests: a simulated run has nothing to recover.

    The order manager still dedups fills in its own ledger before it asks the journal, so answering
    "inserted" to every fill keeps the exactly-once rule; ``load`` is always empty, so recovery is trivial.
    """

    emergency_log_path: Path | None = None

    def wait_at_most(self, ms: int | None) -> AbstractContextManager[None]:
        return nullcontext()

    def load(self) -> JournalSnapshot:
        return JournalSnapshot()

    def commit_intent(self, record: OrderRecord) -> None:
        pass

    def commit_order(self, record: OrderRecord) -> None:
        pass

    def commit_fill(self, fill: FillRow, order: OrderRecord, position: PositionRow, fee: tuple[str, Decimal]) -> bool:
        return True

    def set_meta(self, key: str, value: str) -> None:
        pass

    def record_event(self, kind: str, client_order_id: str, detail: str) -> None:
        pass

    def close(self) -> None:
        pass
