"""The order manager's state machine: which status may follow which, and nothing else.

The model's ``OrderStatus`` has no word for "sent, outcome unknown" or "intent committed, not sent";
reliability.md rule 1 needs both, because an ambiguous submit must never look like a rejection.
``OmsStatus`` adds them (``PENDING_SEND``, ``IN_FLIGHT``) plus ``FAILED`` (the venue confirmed, by
repeated queries, that it never booked the order). ``to_order_status`` maps back for the engine.
"""

from __future__ import annotations

from enum import StrEnum

from bot4.model.enums import OrderStatus


class OmsStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    PENDING_SEND = "PENDING_SEND"  # intent committed to the journal, request not (known to be) sent
    IN_FLIGHT = "IN_FLIGHT"  # sent; the outcome is unknown until an ack, a stream event or a query
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel sent; outcome unknown until an event or a query
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"  # the venue refused it with a definite answer
    FAILED = "FAILED"  # never booked: the venue answered "not found" repeatedly after the grace window

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_working(self) -> bool:
        """Could trade at the venue right now (or might, when in flight)."""
        return self in _WORKING


TERMINAL = frozenset({OmsStatus.FILLED, OmsStatus.CANCELED, OmsStatus.EXPIRED, OmsStatus.REJECTED, OmsStatus.FAILED})
_WORKING = frozenset(
    {
        OmsStatus.PENDING_SEND,
        OmsStatus.IN_FLIGHT,
        OmsStatus.ACCEPTED,
        OmsStatus.PARTIALLY_FILLED,
        OmsStatus.PENDING_CANCEL,
    }
)

#: Progress rank: a venue report may only move an order forward (PENDING_CANCEL back to an open
#: state is the one exception, and only on a refused cancel or a venue query that confirms it).
RANK: dict[OmsStatus, int] = {
    OmsStatus.INITIALIZED: 0,
    OmsStatus.PENDING_SEND: 1,
    OmsStatus.IN_FLIGHT: 2,
    OmsStatus.ACCEPTED: 3,
    OmsStatus.PARTIALLY_FILLED: 4,
    OmsStatus.PENDING_CANCEL: 5,
    **{s: 9 for s in TERMINAL},
}

_VENUE_OUTCOMES = frozenset(
    {
        OmsStatus.ACCEPTED,
        OmsStatus.PARTIALLY_FILLED,
        OmsStatus.FILLED,
        OmsStatus.CANCELED,
        OmsStatus.EXPIRED,
        OmsStatus.REJECTED,
    }
)
_AFTER_BOOKED = frozenset(
    {OmsStatus.PARTIALLY_FILLED, OmsStatus.FILLED, OmsStatus.PENDING_CANCEL, OmsStatus.CANCELED, OmsStatus.EXPIRED}
)

LEGAL: dict[OmsStatus, frozenset[OmsStatus]] = {
    OmsStatus.INITIALIZED: frozenset({OmsStatus.PENDING_SEND}),
    # PENDING_SEND can jump to any venue outcome: after a crash between send and "sent" the order is
    # adopted from the venue in whatever state it is.
    OmsStatus.PENDING_SEND: _VENUE_OUTCOMES | {OmsStatus.IN_FLIGHT, OmsStatus.FAILED},
    OmsStatus.IN_FLIGHT: _VENUE_OUTCOMES | {OmsStatus.FAILED, OmsStatus.PENDING_CANCEL},
    OmsStatus.ACCEPTED: _AFTER_BOOKED,
    OmsStatus.PARTIALLY_FILLED: _AFTER_BOOKED,
    OmsStatus.PENDING_CANCEL: frozenset(
        {
            OmsStatus.ACCEPTED,
            OmsStatus.PARTIALLY_FILLED,
            OmsStatus.FILLED,
            OmsStatus.CANCELED,
            OmsStatus.EXPIRED,
        }
    ),
    **{s: frozenset() for s in TERMINAL},
}


def is_legal(old: OmsStatus, new: OmsStatus) -> bool:
    return new in LEGAL[old]


_TO_MODEL = {
    OmsStatus.INITIALIZED: OrderStatus.INITIALIZED,
    OmsStatus.PENDING_SEND: OrderStatus.SUBMITTED,
    OmsStatus.IN_FLIGHT: OrderStatus.SUBMITTED,
    OmsStatus.ACCEPTED: OrderStatus.ACCEPTED,
    OmsStatus.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    OmsStatus.PENDING_CANCEL: OrderStatus.PENDING_CANCEL,
    OmsStatus.FILLED: OrderStatus.FILLED,
    OmsStatus.CANCELED: OrderStatus.CANCELED,
    OmsStatus.EXPIRED: OrderStatus.EXPIRED,
    OmsStatus.REJECTED: OrderStatus.REJECTED,
    OmsStatus.FAILED: OrderStatus.EXPIRED,  # never booked: closest model word without implying a refusal
}


def to_order_status(status: OmsStatus) -> OrderStatus:
    return _TO_MODEL[status]
