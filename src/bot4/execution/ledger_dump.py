"""A canonical byte dump of a journal's ledger, to prove replays are idempotent.

Replaying the same event log once or twice must leave byte-identical ledgers (reliability.md 5.2).
The dump covers what money depends on (orders' status and quantities, fills, positions, fees) in a
fixed order with Decimals written exactly; local bookkeeping (monotonic send times) is left out.
"""

from __future__ import annotations

import json
from decimal import Decimal

from bot4.execution.records import JournalSnapshot


def dump_ledger(snap: JournalSnapshot) -> bytes:
    orders = [
        [
            r.client_order_id,
            r.intent_seq,
            r.venue,
            r.role,
            r.parent_id,
            r.status.value,
            _d(r.filled_qty),
            _d(r.reported_cum),
            _d(r.notional),
        ]
        for r in sorted(snap.orders, key=lambda r: r.client_order_id)
    ]
    fills = [
        [
            f.venue,
            f.fill.instrument_id,
            f.fill.trade_id,
            f.trade_seq,
            f.fill.client_order_id,
            f.fill.side.value,
            _d(f.fill.quantity),
            _d(f.fill.price),
            _d(f.fill.fee),
            f.fill.fee_currency,
            f.fill.liquidity.value,
            f.fill.ts_event,
        ]
        for f in sorted(snap.fills, key=lambda f: (f.venue, f.fill.instrument_id, f.fill.trade_id))
    ]
    positions = [
        [p.venue, p.instrument_id, _d(p.quantity), _d(p.avg_price), _d(p.realized_pnl)]
        for p in sorted(snap.positions, key=lambda p: (p.venue, p.instrument_id))
    ]
    fees = [[v, c, _d(a)] for (v, c), a in sorted(snap.fees.items())]
    doc = {"orders": orders, "fills": fills, "positions": positions, "fees": fees}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def _d(x: Decimal) -> str:
    """Exact and canonical: 1.50 and 1.5 are the same amount, so both print as 1.5."""
    return format(x.normalize(), "f")
