"""Every ccxt exception mapped to bot4's venue errors, by what the caller may safely do next.

The rule that matters (reliability.md rule 1): whatever *might* have reached the venue on a write
(timeout, dropped connection, 5xx, ``-1007``/``-1006``, an error ccxt cannot place) is an unknown
outcome, never a rejection; on a read the same thing is just retryable. Binance's own code, when the
message carries one, decides before ccxt's class: ccxt files ``-1006`` under ``OperationFailed`` and
``-1013`` under ``BadRequest``, and the code is what Binance documents.

Messages name the operation and are scrubbed: ccxt puts the full signed URL (``signature=...``) into
transport errors, and nothing here may leak a key, a secret or a signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from ccxt.base import errors as cx  # type: ignore[import-untyped]

from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError, VenueError

DUPLICATE_ORDER = -2010
NOT_FOUND = -2013
UNKNOWN_ORDER = -2011
BAD_TIMESTAMP = -1021


class RateLimitedError(RetryableError):
    """HTTP 429/418 (or -1003/-1015): refused before anything happened; wait ``retry_after_s`` first."""

    def __init__(self, message: str, retry_after_s: float | None = None, *, banned: bool = False) -> None:
        self.retry_after_s = retry_after_s
        self.banned = banned
        super().__init__(message)


class TimeSyncError(RetryableError):
    """-1021: the request was refused for its timestamp (nothing happened); re-sync the clock offset."""


class DuplicateOrderError(RejectedError):
    """-2010 "Duplicate order sent": the client id is in use by an open order, which exists: query it."""


class Outcome(Enum):
    """What a ccxt class means; ``AMBIGUOUS`` is unknown on a write and retryable on a read."""

    FATAL = "fatal"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate limited"
    TIME_SYNC = "clock out of sync"
    AMBIGUOUS = "outcome unknown"
    RETRYABLE = "retryable"


# Every ccxt.base.errors class, listed explicitly: a unit test fails when ccxt adds one.
CLASS_TABLE: dict[type[Exception], Outcome] = {
    cx.BaseError: Outcome.AMBIGUOUS,
    cx.ExchangeError: Outcome.AMBIGUOUS,  # an error ccxt could not place: assume it may have happened
    cx.AuthenticationError: Outcome.FATAL,
    cx.PermissionDenied: Outcome.FATAL,
    cx.AccountNotEnabled: Outcome.FATAL,
    cx.AccountSuspended: Outcome.FATAL,
    cx.ArgumentsRequired: Outcome.FATAL,  # refused locally by ccxt: an adapter bug, retrying cannot help
    cx.BadRequest: Outcome.REJECTED,
    cx.BadSymbol: Outcome.REJECTED,
    cx.OperationRejected: Outcome.REJECTED,
    cx.NoChange: Outcome.REJECTED,
    cx.MarginModeAlreadySet: Outcome.REJECTED,
    cx.MarketClosed: Outcome.REJECTED,
    cx.ManualInteractionNeeded: Outcome.FATAL,
    cx.RestrictedLocation: Outcome.FATAL,
    cx.InsufficientFunds: Outcome.REJECTED,
    cx.InvalidAddress: Outcome.REJECTED,
    cx.AddressPending: Outcome.REJECTED,
    cx.InvalidOrder: Outcome.REJECTED,
    cx.OrderNotFound: Outcome.REJECTED,
    cx.OrderNotCached: Outcome.RETRYABLE,  # ccxt's local cache, nothing was sent
    cx.OrderImmediatelyFillable: Outcome.REJECTED,
    cx.OrderNotFillable: Outcome.REJECTED,
    cx.DuplicateOrderId: Outcome.DUPLICATE,
    cx.ContractUnavailable: Outcome.REJECTED,
    cx.NotSupported: Outcome.FATAL,
    cx.InvalidProxySettings: Outcome.FATAL,
    cx.ExchangeClosedByUser: Outcome.FATAL,
    cx.OperationFailed: Outcome.AMBIGUOUS,
    cx.NetworkError: Outcome.AMBIGUOUS,
    cx.DDoSProtection: Outcome.RATE_LIMITED,
    cx.RateLimitExceeded: Outcome.RATE_LIMITED,
    cx.ExchangeNotAvailable: Outcome.AMBIGUOUS,
    cx.OnMaintenance: Outcome.AMBIGUOUS,
    cx.InvalidNonce: Outcome.TIME_SYNC,
    cx.ChecksumError: Outcome.RETRYABLE,  # a WS order-book checksum: market data only
    cx.RequestTimeout: Outcome.AMBIGUOUS,
    cx.BadResponse: Outcome.AMBIGUOUS,
    cx.NullResponse: Outcome.AMBIGUOUS,
    cx.CancelPending: Outcome.AMBIGUOUS,
    cx.UnsubscribeError: Outcome.RETRYABLE,  # WS unsubscribe only
}

# Binance codes that override the class (errors.md); -2010 only counts as duplicate with its message.
CODE_TABLE: dict[int, Outcome] = {
    -1006: Outcome.AMBIGUOUS,
    -1007: Outcome.AMBIGUOUS,
    -1003: Outcome.RATE_LIMITED,
    -1015: Outcome.RATE_LIMITED,
    -1021: Outcome.TIME_SYNC,
    -1022: Outcome.FATAL,
    -2014: Outcome.FATAL,
    -2015: Outcome.FATAL,
    -2008: Outcome.FATAL,
    -1013: Outcome.REJECTED,
    -2010: Outcome.REJECTED,
    -2011: Outcome.REJECTED,
    -2013: Outcome.REJECTED,
}

_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')
_HTTP = re.compile(r"\b(418|429|5\d\d)\b")
_MSG = re.compile(r'"msg"\s*:\s*"((?:[^"\\]|\\.)*)"')
_SIGNATURE = re.compile(r"(signature=)[^&\s\"']+", re.IGNORECASE)
_RETRY_AFTER = re.compile(r"retry[- ]after\D{0,3}(\d+)", re.IGNORECASE)
MAX_MESSAGE = 300


def outcome_of(exc_type: type[BaseException]) -> Outcome:
    """The table entry of ``exc_type`` or its nearest listed ancestor (ccxt classes added later)."""
    for klass in exc_type.__mro__:
        found = CLASS_TABLE.get(klass)
        if found is not None:
            return found
    return Outcome.AMBIGUOUS


def venue_code(text: str) -> int | None:
    """The venue's numeric error code in a ccxt message (``{"code":-2010,...}``), if any."""
    m = _CODE.search(text)
    return int(m.group(1)) if m else None


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without signatures or any of ``secrets``, cut to a readable length."""
    out = _SIGNATURE.sub(r"\1<redacted>", text)
    for s in secrets:
        if s and len(s) >= 4:
            out = out.replace(s, "<redacted>")
    return out if len(out) <= MAX_MESSAGE else out[:MAX_MESSAGE] + "..."


def classify(
    exc: Exception,
    *,
    write: bool,
    operation: str = "venue call",
    secrets: Iterable[str] = (),
    retry_after_s: float | None = None,
) -> VenueError:
    """The bot4 error for a ccxt exception raised by ``operation`` (a write: submit, cancel).

    ``retry_after_s`` is the ``Retry-After`` the transport saw, if any (ccxt drops headers from messages).
    """
    if isinstance(exc, VenueError):
        return exc
    raw = str(exc)
    text = scrub(raw, secrets)
    code = venue_code(raw)
    if code is None and isinstance(exc, cx.OrderNotFound):
        code = NOT_FOUND  # bot4 speaks Binance's "does not exist" code for every venue
    outcome = outcome_of(type(exc))
    if code is not None and code in CODE_TABLE:
        outcome = CODE_TABLE[code]
    http = _HTTP.search(raw.split("{", 1)[0])  # the status ccxt prints before the body, not numbers inside it
    if http and http.group(1).startswith("5") and outcome is Outcome.REJECTED:
        outcome = Outcome.AMBIGUOUS  # a 5xx is never a definite refusal (Binance: status unknown)
    where = f"{operation}: {type(exc).__name__}"
    if outcome is Outcome.REJECTED and code == DUPLICATE_ORDER and "uplicate" in raw:
        outcome = Outcome.DUPLICATE
    if outcome is Outcome.FATAL:
        return FatalError(f"{where}: {text}")
    if outcome is Outcome.DUPLICATE:
        return DuplicateOrderError(code if code is not None else DUPLICATE_ORDER, f"{operation}: {_reason(raw, text)}")
    if outcome is Outcome.REJECTED:
        return RejectedError(code if code is not None else 0, f"{operation}: {_reason(raw, text)}")
    if outcome is Outcome.RATE_LIMITED:
        banned = bool(http and http.group(1) == "418")
        if retry_after_s is None:
            m = _RETRY_AFTER.search(raw)
            retry_after_s = float(m.group(1)) if m else None
        return RateLimitedError(f"{where}: rate limited: {text}", retry_after_s, banned=banned)
    if outcome is Outcome.TIME_SYNC:
        return TimeSyncError(f"{where}: timestamp refused, clock offset to re-sync: {text}")
    if outcome is Outcome.AMBIGUOUS and write:
        return UnknownOutcomeError(f"{where}: outcome unknown, query before acting: {text}")
    return RetryableError(f"{where}: {text}")


def _reason(raw: str, scrubbed: str) -> str:
    m = _MSG.search(raw)
    return scrub(m.group(1)) if m else scrubbed


__all__ = [
    "CLASS_TABLE",
    "CODE_TABLE",
    "DuplicateOrderError",
    "Outcome",
    "RateLimitedError",
    "TimeSyncError",
    "classify",
    "outcome_of",
    "scrub",
    "venue_code",
]
