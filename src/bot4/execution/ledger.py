"""Fills exactly once, and what they do to positions and fees.

A fill is keyed by (venue, instrument, trade id). The ledger computes the effect of a new fill on a
copy first (``preview``) so the journal can commit fill, position and fee in one transaction before
anything in memory changes; a failed commit leaves memory as it was.
"""

from __future__ import annotations

from decimal import Decimal

from bot4.execution.records import FillRow, PositionRow
from bot4.model.fill import Fill
from bot4.model.numbers import ZERO
from bot4.model.position import Position

FillKey = tuple[str, str, str]


def fill_key(venue: str, fill: Fill) -> FillKey:
    return (venue, fill.instrument_id, fill.trade_id)


class FillLedger:
    """Seen trade keys, positions per (venue, instrument) and fees per (venue, currency)."""

    __slots__ = ("_last_seq", "_positions", "_seen", "fees")

    def __init__(self) -> None:
        self._seen: set[FillKey] = set()
        self._positions: dict[tuple[str, str], Position] = {}
        self._last_seq: dict[tuple[str, str], int] = {}
        self.fees: dict[tuple[str, str], Decimal] = {}

    def load(self, fills: list[FillRow], positions: list[PositionRow], fees: dict[tuple[str, str], Decimal]) -> None:
        for row in fills:
            self._seen.add(fill_key(row.venue, row.fill))
            k = (row.venue, row.fill.instrument_id)
            self._last_seq[k] = max(self._last_seq.get(k, 0), row.trade_seq)
        for p in positions:
            self._positions[(p.venue, p.instrument_id)] = _position_from(p)
        self.fees = dict(fees)

    def seen(self, venue: str, fill: Fill) -> bool:
        return fill_key(venue, fill) in self._seen

    def last_trade_seq(self, venue: str, instrument_id: str) -> int:
        return self._last_seq.get((venue, instrument_id), 0)

    def position(self, venue: str, instrument_id: str) -> PositionRow:
        p = self._positions.get((venue, instrument_id))
        if p is None:
            return PositionRow(venue, instrument_id, ZERO, ZERO, ZERO)
        return PositionRow(venue, instrument_id, p.quantity, p.avg_price, p.realized_pnl)

    def positions(self) -> list[PositionRow]:
        return [self.position(v, i) for (v, i) in sorted(self._positions)]

    def preview(self, venue: str, fill: Fill) -> tuple[PositionRow, tuple[str, Decimal]]:
        """The position and fee total after ``fill``, computed on copies."""
        p = _position_from(self.position(venue, fill.instrument_id))
        p.apply(fill)
        fee_total = self.fees.get((venue, fill.fee_currency), ZERO) + fill.fee
        return PositionRow(venue, fill.instrument_id, p.quantity, p.avg_price, p.realized_pnl), (
            fill.fee_currency,
            fee_total,
        )

    def apply(self, row: FillRow, position: PositionRow, fee: tuple[str, Decimal]) -> None:
        """Make a committed fill's effect visible in memory."""
        self._seen.add(fill_key(row.venue, row.fill))
        k = (row.venue, row.fill.instrument_id)
        self._last_seq[k] = max(self._last_seq.get(k, 0), row.trade_seq)
        self._positions[k] = _position_from(position)
        self.fees[(row.venue, fee[0])] = fee[1]


def _position_from(row: PositionRow) -> Position:
    p = Position(row.instrument_id)
    p.quantity, p.avg_price, p.realized_pnl = row.quantity, row.avg_price, row.realized_pnl
    return p
