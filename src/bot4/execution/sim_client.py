"""What the adapters for the in-process simulated venues (``BarClient``, ``MatchingClient``) share:
binding the venue after construction, the report listener, and trade history numbered by trade id.

The venues differ in how requests report their events, so request handling and event conversion
stay in each adapter; only the plumbing that is the same to the letter lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from bot4.execution.records import ExecReport, VenueTrade
from bot4.model.fill import Fill


def trade_seq(trade_id: str) -> int:
    """The simulated venues' trade ids are ``<venue>-<n>``; ``n`` is the sequence."""
    tail = trade_id.rsplit("-", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"trade_id: expected '<venue>-<number>' (got {trade_id!r})")
    return int(tail)


class SimVenue(Protocol):
    def my_trades(self, instrument_id: str) -> list[Fill]: ...


V = TypeVar("V", bound=SimVenue)


class SimClient(Generic[V]):
    """Build it first, hand its ``sink`` to the venue, then ``bind`` the venue."""

    #: Names the adapter in the error raised when ``bind`` was forgotten.
    kind = "sim client"

    def __init__(self, name: str) -> None:
        self.name = name
        self._venue: V | None = None
        self._listener: Callable[[ExecReport], None] | None = None
        self._in_call = False
        self._seq = 0

    def bind(self, venue: V) -> None:
        self._venue = venue

    @property
    def venue(self) -> V:
        if self._venue is None:
            raise RuntimeError(f"{self.kind} {self.name}: bind(venue) was not called")
        return self._venue

    def set_listener(self, listener: Callable[[ExecReport], None]) -> None:
        self._listener = listener

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        out = []
        for f in self.venue.my_trades(instrument_id):
            seq = trade_seq(f.trade_id)
            if seq > since_seq:
                out.append(VenueTrade(f, seq))
        return out
