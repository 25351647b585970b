"""Comparing a live run with a backtest of the same trades: decisions, fill prices and the latency model.

A backtest decides on a bar's close and fills a market order at the next bar's open; the live node
decides on the same bar (built from the same exchange trades) but its order fills against the
exchange's book when it arrives: after the bar is emitted, the strategy has run, the REST call has
crossed the wire and the exchange's order-entry latency has passed. So the decisions must be equal,
while each live fill is checked against the book the exchange held between the bar close and the
fill (``docs/live_parity.md``), and the gap to the backtest's next open is measured, not asserted.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot4.model.events import Bar
from bot4.model.orders import Order
from tests.acceptance.livenode import Top, VenueFill


@dataclass(frozen=True, slots=True)
class Decision:
    """One order a strategy sent, pinned to the close of the bar it decided on."""

    bar_close: int
    side: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class FillCheck:
    """One live order's fills against the book at arrival and against the backtest's fill."""

    client_order_id: str
    side: str
    bar_close: int
    live_vwap: Decimal
    live_qty: Decimal
    ordered_qty: Decimal
    backtest_price: Decimal | None
    diff_bps: float | None  # (live - backtest) / backtest, signed so that positive = worse for us
    arrival_ms: float  # first fill time minus the bar close
    in_book: bool  # every fill price was the exchange's touch on our side during [bar close, fill]
    fee_rates: tuple[Decimal, ...]


def decisions(orders: Mapping[str, Order], bars: list[Bar], strategy_id: str) -> list[Decision]:
    """Each of ``strategy_id``'s orders on the last bar that had closed when it was created.

    In a backtest the order's ``ts_init`` is the bar close itself; live it is the node's clock a few
    milliseconds later (the bar is emitted after its close), before the next bar closes.
    """
    closes = [b.ts_close for b in bars]
    out = []
    for cid, order in orders.items():
        if order.strategy_id != strategy_id:
            continue
        i = bisect.bisect_right(closes, order.ts_init) - 1
        if i < 0:
            raise AssertionError(f"{cid}: created at {order.ts_init} before any bar closed")
        out.append(Decision(closes[i], order.side.value, cid))
    return out


def book_at(tops: list[Top], start_ns: int, end_ns: int) -> list[Top]:
    """The tops in force at any moment of ``[start_ns, end_ns]``: the one standing at the start, then changes."""
    stamps = [t.ts_ns for t in tops]
    first = max(0, bisect.bisect_right(stamps, start_ns) - 1)
    last = bisect.bisect_right(stamps, end_ns)
    return tops[first:last]


def check_fills(
    live: list[Decision],
    ordered: Mapping[str, Decimal],
    backtest_prices: Mapping[int, Decimal],
    fills: Iterable[VenueFill],
    tops: list[Top],
) -> list[FillCheck]:
    """One ``FillCheck`` per live decision the exchange filled (fully or partly)."""
    by_cid: dict[str, list[VenueFill]] = {}
    for f in fills:
        by_cid.setdefault(f.client_order_id, []).append(f)
    out = []
    for d in live:
        mine = by_cid.get(d.client_order_id)
        if not mine:
            continue
        qty = sum((f.qty for f in mine), Decimal(0))
        vwap = sum((f.qty * f.price for f in mine), Decimal(0)) / qty
        end_ns = (max(f.time_ms for f in mine) + 1) * 1_000_000  # the ledger keeps ms: the whole ms counts
        window = book_at(tops, d.bar_close, end_ns)
        touch = {t.ask for t in window} if d.side == "BUY" else {t.bid for t in window}
        bt = backtest_prices.get(d.bar_close)
        diff = None
        if bt is not None:
            sign = 1 if d.side == "BUY" else -1
            diff = float((vwap - bt) / bt) * 1e4 * sign
        out.append(
            FillCheck(
                d.client_order_id,
                d.side,
                d.bar_close,
                vwap,
                qty,
                ordered[d.client_order_id],
                bt,
                diff,
                (min(f.time_ms for f in mine) * 1_000_000 - d.bar_close) / 1e6,
                all(f.price in touch for f in mine),
                tuple(f.commission / (f.qty * f.price) for f in mine),
            )
        )
    return out


def summary(checks: list[FillCheck]) -> dict[str, object]:
    """The measured differences, for the report (bps and ms, rounded)."""
    diffs = [c.diff_bps for c in checks if c.diff_bps is not None]
    arrivals = [c.arrival_ms for c in checks]
    return {
        "fills_compared": len(diffs),
        "diff_bps": [round(d, 3) for d in diffs],
        "diff_bps_mean": round(sum(diffs) / len(diffs), 3) if diffs else None,
        "diff_bps_max_abs": round(max(abs(d) for d in diffs), 3) if diffs else None,
        "arrival_ms_max": round(max(arrivals), 1) if arrivals else None,
        "arrival_ms_mean": round(sum(arrivals) / len(arrivals), 1) if arrivals else None,
        "partial_fills": [c.client_order_id for c in checks if c.live_qty < c.ordered_qty],
    }
