"""Journal writes that never block the kill path: write through while the journal commits, queue while it cannot.

Why: a locked or failing database must not slow cancels and flattening (F3), and must not lose the
fills and state changes that arrive meanwhile (B4). Each write runs at once in its own transaction;
when one fails it goes into an in-memory backlog and every later write queues behind it, so the
journal sees the same order of changes once it is writable again. ``flush`` replays the backlog (at
most once per ``retry_ns``; the first replayed write does not wait for a lock at all), and
``urgent()`` makes the writes inside it wait for a lock at most ``urgent_ms``.

Only intents need more than memory: a system (risk) intent that the journal cannot take goes to the
fsynced ``EmergencyLog`` before it is sent. Order and fill updates can be lost with the process without
harm, because the venue is the source of truth for them and recovery reads it again by client id.
Strategy intents keep the strict rule: ``strict_intent`` commits to the journal or raises.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace

from bot4.execution.emergency import EmergencyLog, intent_entry
from bot4.execution.errors import JournalError
from bot4.execution.ports import Journal, MonotonicClock
from bot4.execution.records import OrderRecord

log = logging.getLogger(__name__)

Op = Callable[[Journal], object]


class WriteBehind:
    """The order manager's only path to its journal."""

    def __init__(
        self,
        journal: Journal,
        clock: MonotonicClock,
        emergency_log: EmergencyLog | None = None,
        *,
        urgent_ms: int = 150,
        retry_ns: int = 500_000_000,
    ) -> None:
        if urgent_ms < 0 or retry_ns < 0:
            raise ValueError(f"urgent_ms and retry_ns: must be >= 0 (got {urgent_ms}, {retry_ns})")
        self.journal = journal
        self.clock = clock
        self.emergency_log = emergency_log
        self.urgent_ms = urgent_ms
        self.retry_ns = retry_ns
        self.backlog: deque[tuple[str, Op]] = deque()
        self.down: str | None = None  # why the journal is not taking writes (None: healthy as far as we know)
        self._urgent = 0
        self._next_try = 0

    @property
    def degraded(self) -> bool:
        return bool(self.backlog)

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        """Writes inside wait for a database lock at most ``urgent_ms``, then queue."""
        self._urgent += 1
        try:
            yield
        finally:
            self._urgent -= 1

    def run(self, what: str, op: Op) -> tuple[bool, object]:
        """``(True, result)`` when written now, ``(False, None)`` when queued behind the backlog."""
        if self.backlog and not self.flush():
            self.backlog.append((what, op))
            return False, None
        try:
            with self.journal.wait_at_most(self.urgent_ms if self._urgent else None):
                return True, op(self.journal)
        except JournalError as exc:
            self._went_down(what, exc)
            self.backlog.append((what, op))
            return False, None

    def order(self, rec: OrderRecord, what: str = "commit order") -> bool:
        snapshot = replace(rec)  # the record moves on; the queued write must keep this state
        return self.run(what, lambda j: j.commit_order(snapshot))[0]

    def event(self, kind: str, client_order_id: str, detail: str) -> None:
        self.run("record event", lambda j: j.record_event(kind, client_order_id, detail))

    def meta(self, key: str, value: str) -> None:
        self.run("set meta", lambda j: j.set_meta(key, value))

    def strict_intent(self, rec: OrderRecord) -> None:
        """Commit a strategy intent now (after the backlog, with the journal's own lock wait) or raise JournalError."""
        if self.backlog and not self.flush(force=True, wait_ms=None):
            raise JournalError(f"journal is down ({self.down}); {len(self.backlog)} writes wait to be replayed")
        self.journal.commit_intent(rec)

    def emergency_intent(self, rec: OrderRecord) -> bool:
        """Make a system intent durable: in the journal if it commits quickly, else in the emergency log.

        True when the journal has it. Raises ``JournalError`` only when neither could take it.
        """
        if self.emergency_log is None:
            if self.backlog and not self.flush(force=True, wait_ms=None):
                raise JournalError(f"journal is down ({self.down}) and there is no emergency log")
            self.journal.commit_intent(rec)
            return True
        if not self.backlog or self.flush():
            try:
                with self.journal.wait_at_most(self.urgent_ms):
                    self.journal.commit_intent(rec)
                return True
            except JournalError as exc:
                self._went_down("commit intent", exc)
        self.emergency_log.append(intent_entry(rec))  # fsynced before the caller sends
        snapshot = replace(rec)
        self.backlog.append(("replay emergency intent", lambda j: j.commit_order(snapshot)))
        return False

    def note_cancel(self, client_order_id: str, reason: str) -> None:
        """A cancel sent while the journal is down: a log line (synced with the next intent) for the record."""
        if self.backlog and self.emergency_log is not None:
            with contextlib.suppress(JournalError):  # cancels are idempotent: the audit never blocks them
                self.emergency_log.append(
                    {"kind": "cancel", "client_order_id": client_order_id, "reason": reason}, sync=False
                )

    def flush(self, *, force: bool = False, wait_ms: int | None = 0) -> bool:
        """Replay the backlog in order; True when it is empty. Tried at most once per ``retry_ns`` unless forced."""
        if not self.backlog:
            return True
        now = self.clock.monotonic_ns()
        if not force and now < self._next_try:
            return False
        self._next_try = now + self.retry_ns
        wait = wait_ms
        while self.backlog:
            what, op = self.backlog[0]
            try:
                with self.journal.wait_at_most(wait):
                    op(self.journal)
            except JournalError as exc:
                self._went_down(what, exc)
                return False
            self.backlog.popleft()
            wait = self.urgent_ms  # the lock is ours now; later writes only wait briefly
        log.warning("journal writable again: backlog replayed (was down: %s)", self.down)
        self.down = None
        if self.emergency_log is not None:
            try:
                self.emergency_log.clear()
            except JournalError as exc:  # replaying it again later is harmless (upserts, deduplicated fills)
                log.error("%s", exc)
        return True

    def _went_down(self, what: str, exc: JournalError) -> None:
        if self.down is None:
            log.error("journal %s failed, queueing writes until it commits again: %s", what, exc)
        self.down = f"{what}: {exc}"
        self._next_try = self.clock.monotonic_ns() + self.retry_ns


__all__ = ["WriteBehind"]
