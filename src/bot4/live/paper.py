"""Paper trading: live market data, orders filled locally by the same simulator the backtests use.

Fill model (the bar venue's rules, applied to the node's bars built from live trades):

* The node closes a bar from the venue's public trades (``bot4.live.bars``) and hands it to the engine,
  which matches working orders on it *before* strategies see it, exactly as in a backtest.
* While a bar is being delivered the paper clock reads the bar's close time, so an order a strategy
  sends on that bar is stamped at the close and trades from the next bar on: a MARKET order fills at
  the next bar's open, a LIMIT rests and fills at its price once a bar's range reaches it, stops trigger
  on the bar's range (see ``bot4.venues.sim.bar_venue`` for every rule, fees and slippage included).
  The same trades replayed through ``bars_from_trades`` and a backtest give the same orders and fills.
* Orders sent outside a bar (from ``on_quote``, the risk engine's flattening) are stamped with the wall
  clock and trade on the first bar that opens after them.
* Bars carry no depth: every fill is complete, there is no queue position and no market impact.

Restarts keep state: the journal (SQLite under the state dir) holds orders, fills and positions, and
``PaperVenue.restore`` rebuilds the simulated account from it (balances from the starting cash plus
every journaled fill, the trade numbering after the last fill, working orders booked again), so
recovery finds the venue and the journal in agreement instead of a freshly reset account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Protocol

from bot4.execution.records import JournalSnapshot
from bot4.execution.sim_client import trade_seq
from bot4.execution.states import OmsStatus, to_order_status
from bot4.model.enums import Side
from bot4.model.fill import Fill
from bot4.model.numbers import ZERO
from bot4.venues.sim.bar_venue import BarVenue


class NodeClock(Protocol):
    """Wall time for stamping, monotonic time for deadlines (``LiveClock`` and ``PaperClock``)."""

    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class PaperClock:
    """The node's clock, pinned to a bar's close while that bar is delivered (see the module docstring)."""

    __slots__ = ("_base", "_pinned")

    def __init__(self, base: NodeClock) -> None:
        self._base = base
        self._pinned: int | None = None

    def now_ns(self) -> int:
        return self._pinned if self._pinned is not None else self._base.now_ns()

    def monotonic_ns(self) -> int:
        return self._base.monotonic_ns()

    @contextlib.contextmanager
    def at(self, ts_ns: int) -> Iterator[None]:
        self._pinned = ts_ns
        try:
            yield
        finally:
            self._pinned = None


class PaperVenue(BarVenue):
    """The bar venue plus a way to rebuild its account from the journal after a restart."""

    def restore(self, snapshot: JournalSnapshot) -> int:
        """Re-apply journaled fills to the balances and book working orders again; returns orders re-booked.

        Runs before the order manager is wired to the venue's events: nothing here is reported as news.
        """
        fills: list[Fill] = sorted((row.fill for row in snapshot.fills), key=lambda f: trade_seq(f.trade_id))
        for f in fills:
            self._apply_balance(f)
            self._fills.setdefault(f.instrument_id, []).append(f)
            self._trade_seq = max(self._trade_seq, trade_seq(f.trade_id))
        for rec in snapshot.orders:
            self._orders.setdefault(rec.client_order_id, rec.order)
            if rec.status.is_terminal and rec.status is not OmsStatus.FAILED:
                self.status[rec.client_order_id] = to_order_status(rec.status)
        sink = self._sink
        self._sink = lambda _event: None
        booked = 0
        try:
            for rec in snapshot.orders:
                if rec.status in _BOOKED:
                    self.submit(rec.order)
                    working = self._by_id.get(rec.client_order_id)
                    if working is not None:  # it has rested since it was first sent, not since the restart
                        working.ts_submit = rec.order.ts_init
                    booked += 1
        finally:
            self._sink = sink
        return booked

    def _apply_balance(self, f: Fill) -> None:
        inst = self._instruments.get(f.instrument_id)
        if inst is None:
            return
        notional = f.quantity * f.price
        if f.side is Side.BUY:
            self.free[inst.quote] = self.free.get(inst.quote, ZERO) - notional
            self.free[inst.base] = self.free.get(inst.base, ZERO) + f.quantity
        else:
            self.free[inst.base] = self.free.get(inst.base, ZERO) - f.quantity
            self.free[inst.quote] = self.free.get(inst.quote, ZERO) + notional
        self.free[f.fee_currency] = self.free.get(f.fee_currency, ZERO) - f.fee

    def totals(self) -> dict[str, Decimal]:
        """Free plus locked per currency (what a balance query of a real venue would call 'total')."""
        out = dict(self.free)
        for ccy, amount in self.locked.items():
            out[ccy] = out.get(ccy, ZERO) + amount
        return out


_BOOKED = frozenset({OmsStatus.ACCEPTED, OmsStatus.PARTIALLY_FILLED, OmsStatus.PENDING_CANCEL})
