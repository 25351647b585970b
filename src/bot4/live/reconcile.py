"""Periodic reconciliation: the venue's open orders and balances against what the journal says we hold.

Three outcomes, never more: ``ok``, ``mismatch`` (beyond tolerance, seen on consecutive checks so a
fill racing the query is not an alarm), and ``unknown`` when a venue query failed. A failed query is
never read as "no orders" or "flat" (B3): it proves nothing, so nothing is concluded from it.

Balances are compared as deltas: at the baseline (right after startup recovery) the venue's totals
are taken as given, and from then on each fill the order manager applies moves the expected totals
(base +/- quantity, quote -/+ notional, fee in the currency charged). Anything else that moves the
account (a manual trade, a deposit, a lost fill) shows up as the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot4.execution.records import OrderRecord, OrderSnapshot
from bot4.execution.states import OmsStatus
from bot4.model.enums import Side
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO

Status = Literal["ok", "mismatch", "unknown"]
_SETTLED_OPEN = frozenset({OmsStatus.ACCEPTED, OmsStatus.PARTIALLY_FILLED})


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: str  # "order_not_in_journal", "order_missing_at_venue", "balance"
    subject: str  # client order id or currency
    detail: str

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    status: Status
    mismatches: tuple[Mismatch, ...] = ()
    reason: str = ""

    def describe(self) -> str:
        if self.status == "unknown":
            return f"reconciliation unknown: {self.reason}"
        if not self.mismatches:
            return "reconciled: venue and journal agree"
        return "; ".join(f"{m.kind} {m.subject}: {m.detail}" for m in self.mismatches)


def diff_open_orders(
    venue_open: Iterable[OrderSnapshot], journal_orders: Mapping[str, OrderRecord], is_ours: Callable[[str], bool]
) -> list[Mismatch]:
    """Our orders open at the venue that the journal does not hold open, and the reverse.

    Orders whose outcome is still unknown to us (in flight, cancel pending) are skipped: the order
    manager settles those by query, and either answer is consistent with the venue's list.
    """
    out: list[Mismatch] = []
    at_venue = {s.client_order_id: s for s in venue_open}
    for cid, snap in sorted(at_venue.items()):
        rec = journal_orders.get(cid)
        if rec is None:
            if is_ours(cid):
                out.append(Mismatch("order_not_in_journal", cid, f"open at the venue ({snap.status}) but unknown"))
            continue
        if rec.status.is_terminal:
            out.append(Mismatch("order_not_in_journal", cid, f"open at the venue but {rec.status} in the journal"))
    for cid, rec in sorted(journal_orders.items()):
        if rec.status in _SETTLED_OPEN and cid not in at_venue:
            out.append(Mismatch("order_missing_at_venue", cid, f"{rec.status} in the journal, not open at the venue"))
    return out


def diff_balances(
    expected: Mapping[str, Decimal], venue_totals: Mapping[str, Decimal], tolerance: Mapping[str, Decimal]
) -> list[Mismatch]:
    """Currencies whose venue total differs from the expected total by more than the tolerance."""
    out = []
    for ccy in sorted(expected):
        have = venue_totals.get(ccy, ZERO)
        diff = have - expected[ccy]
        tol = tolerance.get(ccy, ZERO)
        if abs(diff) > tol:
            out.append(
                Mismatch(
                    "balance",
                    ccy,
                    f"venue total {have}, journal expects {expected[ccy]} (diff {diff}, tolerance {tol})",
                )
            )
    return out


@dataclass
class Reconciler:
    """Keeps the balance baseline and the fills since, and confirms a mismatch on consecutive checks."""

    instruments: Mapping[str, Instrument]
    tolerance_steps: int = 1
    confirmations: int = 2
    baseline: dict[str, Decimal] | None = None
    delta: dict[str, Decimal] = field(default_factory=dict)
    checks: int = 0
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def set_baseline(self, venue_totals: Mapping[str, Decimal]) -> None:
        self.baseline = {ccy: venue_totals.get(ccy, ZERO) for ccy in self.currencies()}
        self.delta = {}
        self._seen = {}

    def currencies(self) -> list[str]:
        return sorted({c for i in self.instruments.values() for c in (i.base, i.quote)})

    def tolerances(self) -> dict[str, Decimal]:
        """``tolerance_steps`` of the base's step size, and of the quote's tick size (fee rounding)."""
        tol: dict[str, Decimal] = {}
        for inst in self.instruments.values():
            tol[inst.base] = max(tol.get(inst.base, ZERO), inst.step_size * self.tolerance_steps)
            tol[inst.quote] = max(tol.get(inst.quote, ZERO), inst.tick_size * self.tolerance_steps)
        return tol

    def on_fill(self, fill: Fill) -> None:
        inst = self.instruments.get(fill.instrument_id)
        if inst is None:
            return
        sign = 1 if fill.side is Side.BUY else -1
        d = self.delta
        d[inst.base] = d.get(inst.base, ZERO) + sign * fill.quantity
        d[inst.quote] = d.get(inst.quote, ZERO) - sign * fill.quantity * fill.price
        d[fill.fee_currency] = d.get(fill.fee_currency, ZERO) - fill.fee

    def expected(self) -> dict[str, Decimal]:
        base = self.baseline or {}
        return {ccy: base.get(ccy, ZERO) + self.delta.get(ccy, ZERO) for ccy in base}

    def skip(self, reason: str) -> ReconcileResult:
        """No comparison now (our own view is known to lag the venue's): ``unknown``, and sightings start over.

        A mismatch seen before the user stream's gap may have been the gap itself; after the REST resync
        has applied what was missed, a real one is seen on ``confirmations`` fresh checks again.
        """
        self.checks += 1
        self._seen = {}
        return ReconcileResult("unknown", reason=reason)

    def check(
        self,
        venue_open: list[OrderSnapshot] | None,
        venue_totals: Mapping[str, Decimal] | None,
        journal_orders: Mapping[str, OrderRecord],
        is_ours: Callable[[str], bool],
        *,
        error: str = "",
    ) -> ReconcileResult:
        """Compare; a mismatch counts once it was seen on ``confirmations`` consecutive checks."""
        self.checks += 1
        if venue_open is None or venue_totals is None:
            return ReconcileResult("unknown", reason=error or "a venue query failed")
        found = diff_open_orders(venue_open, journal_orders, is_ours)
        unsettled = any(r.status.is_working and r.status not in _SETTLED_OPEN for r in journal_orders.values())
        if self.baseline is not None and not unsettled:  # in-flight orders move balances we cannot see yet
            found += diff_balances(self.expected(), venue_totals, self.tolerances())
        seen = {m.key: self._seen.get(m.key, 0) + 1 for m in found}
        self._seen = seen
        confirmed = tuple(m for m in found if seen[m.key] >= self.confirmations)
        return ReconcileResult("mismatch" if confirmed else "ok", confirmed)
