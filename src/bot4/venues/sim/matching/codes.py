"""Binance-style error codes and the events that carry them, so a client sees what Binance would say.

The model's ``OrderRejected`` has a reason but no code, and the model has no event for a refused
cancel or a triggered stop; the subclasses and events here add them without changing the model
(consumers matching on ``OrderRejected`` still see every rejection).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot4.model.events import CancelRejected, FundingPaid, OrderRejected, OrderTriggered

__all__ = ["CancelRejected", "FundingPaid", "OrderTriggered", "Rejection", "VenueOrderRejected"]

FILTER_FAILURE = -1013  # "Filter failure: <FILTER>"
INVALID_SYMBOL = -1121
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
CANCEL_REPLACE_PARTIAL = -2021
CANCEL_REPLACE_FAILED = -2022
REDUCE_ONLY_REJECTED = -2022  # USD-M futures reuse -2022 for "ReduceOnly Order is rejected."

MSG_INVALID_SYMBOL = "Invalid symbol."
MSG_INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
MSG_DUPLICATE = "Duplicate order sent."
MSG_WOULD_TAKE = "Order would immediately match and take."
MSG_WOULD_TRIGGER = "Order would trigger immediately."
MSG_OCO_PRICES = "The relationship of the prices for the orders is not correct."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_REDUCE_ONLY = "ReduceOnly Order is rejected."
MSG_CANCEL_REPLACE_FAILED = "Order cancel-replace failed."
MSG_CANCEL_REPLACE_PARTIAL = "Order cancel-replace partially failed."


def filter_failure(name: str) -> str:
    return f"Filter failure: {name}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refusal before anything happened: the code and message Binance would return, plus detail."""

    code: int
    message: str
    detail: str = ""

    @property
    def reason(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


@dataclass(frozen=True, slots=True)
class VenueOrderRejected(OrderRejected):
    """``OrderRejected`` with the exchange error code."""

    code: int = NEW_ORDER_REJECTED


