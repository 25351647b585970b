"""Error classes of venue calls, sorted by what the caller may safely do next.

The class decides the reaction, not the message: retry a read, record a definite refusal, stop,
or (for an unknown outcome) keep the order in flight and ask the venue later. Nothing that might
have reached the venue is ever reported as a rejection.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base of everything a venue client raises."""


class RetryableError(VenueError):
    """Nothing happened at the venue (e.g. refused before sending, 429 with Retry-After); a read may be retried."""


class RejectedError(VenueError):
    """A definite refusal: the venue did not book the order (or did not cancel it)."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"rejected ({code}): {reason}")


class FatalError(VenueError):
    """Authentication, permissions or a protocol error: trading must stop."""


class UnknownOutcomeError(VenueError):
    """Timeout, dropped connection, 5xx, -1007 or -1006: the request may or may not have taken effect."""


class TradingHalted(RuntimeError):
    """The order manager refuses new orders (not recovered yet, venue unreachable, storage failing)."""


class JournalError(RuntimeError):
    """The journal could not commit; no order may be sent without a committed intent."""


class JournalLocked(JournalError):
    """Another instance holds the single-writer lock on this journal (one account, one writer)."""
