"""Recursive-hedge safeguards (reliability.md 5.4): a hedge is never hedged, one hedge per parent fill.

A hedger that reacts to every fill will also react to its own hedge fills, to a duplicated maker
fill and to a fill that raced a cancel, and hedge again and again. The guard answers "how much may
I hedge for this fill?" from a per-parent ledger (``parent qty - hedged - in flight``), drops
duplicates by trade id, refuses HEDGE-role fills outright, blocks new maker orders while a hedge is
in flight, and trips when net unhedged exposure passes a cap.
"""

from __future__ import annotations

from decimal import Decimal

from bot4.model.fill import Fill
from bot4.model.numbers import ZERO, non_negative

HEDGE_ROLE = "HEDGE"


class HedgeGuard:
    def __init__(self, max_unhedged: object) -> None:
        self.max_unhedged = non_negative(max_unhedged, "max_unhedged")
        self.parent_qty: dict[str, Decimal] = {}  # parent trade id -> signed qty to offset
        self.hedged: dict[str, Decimal] = {}
        self.inflight: dict[str, Decimal] = {}
        self.net_unhedged = ZERO

    def on_fill(self, role: str, fill: Fill) -> Decimal:
        """Record a fill; return the quantity to hedge now for it (0 for hedges and duplicates)."""
        signed = fill.quantity if fill.side.sign > 0 else -fill.quantity
        if role == HEDGE_ROLE:
            self.net_unhedged += signed  # a hedge fill offsets exposure; it is never hedged itself
            return ZERO
        if fill.trade_id in self.parent_qty:
            return ZERO  # the same maker fill again (stream + poll + replay)
        self.parent_qty[fill.trade_id] = fill.quantity
        self.net_unhedged += signed
        return self.to_hedge(fill.trade_id)

    def to_hedge(self, parent: str) -> Decimal:
        left = self.parent_qty.get(parent, ZERO) - self.hedged.get(parent, ZERO) - self.inflight.get(parent, ZERO)
        return max(ZERO, left)

    def hedge_sent(self, parent: str, qty: Decimal) -> None:
        if qty > self.to_hedge(parent):
            raise ValueError(f"hedge for {parent}: {qty} exceeds what is left to hedge ({self.to_hedge(parent)})")
        self.inflight[parent] = self.inflight.get(parent, ZERO) + qty

    def hedge_done(self, parent: str, sent: Decimal, filled: Decimal) -> None:
        """A hedge order reached a terminal state: move its fill to ``hedged``, free the rest."""
        self.inflight[parent] = self.inflight.get(parent, ZERO) - sent
        if self.inflight[parent] <= 0:
            del self.inflight[parent]
        self.hedged[parent] = self.hedged.get(parent, ZERO) + filled

    @property
    def makers_blocked(self) -> bool:
        """No new maker orders while a hedge is in flight."""
        return bool(self.inflight)

    @property
    def tripped(self) -> bool:
        return abs(self.net_unhedged) > self.max_unhedged
