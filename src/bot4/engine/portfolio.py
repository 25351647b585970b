"""bot4's own books: cash, positions, fees and round-trip trades, kept exactly from fills.

The venue keeps its ledger and bot4 keeps this one; in live trading reconciliation compares them.
Positions are kept per strategy (for attribution and trade records) and summed per instrument.
Fees are booked in the fill's fee currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot4.model.enums import Side
from bot4.model.events import FundingPaid
from bot4.model.fill import Fill
from bot4.model.instrument import Instrument
from bot4.model.numbers import ZERO
from bot4.model.position import Position
from bot4.research.results import FillRecord, TradeRecord


@dataclass
class _OpenTrade:
    direction: int
    entry_ts: int
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_ts: int = 0
    max_qty: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO


@dataclass
class _Book:
    position: Position
    trade: _OpenTrade | None = None
    trades: list[TradeRecord] = field(default_factory=list)


class Portfolio:
    """Cash per currency, positions per (strategy, instrument), fills, fees and closed trades."""

    def __init__(self, instruments: dict[str, Instrument], balances: dict[str, Decimal]) -> None:
        self._instruments = instruments
        self.cash: dict[str, Decimal] = dict(balances)
        self.starting_balances = dict(balances)
        self._books: dict[tuple[str, str], _Book] = {}
        self.net: dict[str, Decimal] = {iid: ZERO for iid in instruments}
        self.fees_paid: dict[str, Decimal] = {}
        self.fills: list[FillRecord] = []
        # (ts, instrument_id, net qty after, cash in quote after): the equity curve is rebuilt from this
        self.changes: list[tuple[int, str, float, float]] = []

    # -- reading ------------------------------------------------------------------------------------

    def position(self, strategy_id: str, instrument_id: str) -> Decimal:
        book = self._books.get((strategy_id, instrument_id))
        return book.position.quantity if book else ZERO

    def position_snapshot(self, strategy_id: str, instrument_id: str) -> tuple[Decimal, Decimal, Decimal]:
        """(quantity, average entry price, realized PnL) of one strategy's position."""
        book = self._books.get((strategy_id, instrument_id))
        if book is None:
            return ZERO, ZERO, ZERO
        p = book.position
        return p.quantity, p.avg_price, p.realized_pnl

    def balance(self, currency: str) -> Decimal:
        """Cash held in ``currency`` plus any base-asset holdings in it."""
        held = sum((q for iid, q in self.net.items() if self._instruments[iid].base == currency), ZERO)
        return self.cash.get(currency, ZERO) + held

    def trades(self) -> list[TradeRecord]:
        out = [t for book in self._books.values() for t in book.trades]
        out.sort(key=lambda t: (t.exit_ts, t.entry_ts, t.strategy_id, t.instrument_id))
        return out

    def strategy_positions(self) -> list[tuple[str, str, Decimal]]:
        """(strategy id, instrument id, signed quantity) of every non-flat per-strategy position."""
        return [(sid, iid, b.position.quantity) for (sid, iid), b in self._books.items() if b.position.quantity]

    def open_positions(self) -> dict[str, Decimal]:
        return {iid: q for iid, q in self.net.items() if q != 0}

    # -- applying fills ------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill, ts_now: int) -> None:
        """Book one fill: position, cash, fees, trade records and the equity change log."""
        inst = self._instruments[fill.instrument_id]
        key = (fill.strategy_id, fill.instrument_id)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = _Book(Position(fill.instrument_id))
        before = book.position.quantity
        realized = book.position.apply(fill)
        after = book.position.quantity

        notional = fill.quantity * fill.price
        quote = inst.quote
        if fill.side is Side.BUY:
            self.cash[quote] = self.cash.get(quote, ZERO) - notional
        else:
            self.cash[quote] = self.cash.get(quote, ZERO) + notional
        self.cash[fill.fee_currency] = self.cash.get(fill.fee_currency, ZERO) - fill.fee
        self.fees_paid[fill.fee_currency] = self.fees_paid.get(fill.fee_currency, ZERO) + fill.fee
        self.net[fill.instrument_id] += after - before

        self._track_trade(book, fill, before, after, realized)
        self.fills.append(
            FillRecord(
                ts=fill.ts_event,
                strategy_id=fill.strategy_id,
                instrument_id=fill.instrument_id,
                client_order_id=fill.client_order_id,
                side=fill.side.value,
                quantity=fill.quantity,
                price=fill.price,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
                liquidity=fill.liquidity.value,
            )
        )
        self.changes.append((ts_now, fill.instrument_id, float(self.net[fill.instrument_id]), float(self.cash[quote])))

    def apply_funding(self, event: FundingPaid, ts_now: int) -> None:
        """Book a perpetual funding payment against cash (``amount`` > 0 was paid)."""
        self.cash[event.currency] = self.cash.get(event.currency, ZERO) - event.amount
        self.changes.append(
            (ts_now, event.instrument_id, float(self.net[event.instrument_id]), float(self.cash[event.currency]))
        )

    def _track_trade(self, book: _Book, fill: Fill, before: Decimal, after: Decimal, realized: Decimal) -> None:
        fee_share = fill.fee
        trade = book.trade
        if before == 0:
            trade = book.trade = _OpenTrade(direction=1 if after > 0 else -1, entry_ts=fill.ts_event)
        assert trade is not None
        opening = fill.quantity if before == 0 or (before > 0) == (after > before) else ZERO
        crossed = before != 0 and after != 0 and (before > 0) != (after > 0)
        if crossed:
            # The fill closed the old trade and opened a new one with the remainder: split it.
            closing_qty = abs(before)
            fee_close = fill.fee * closing_qty / fill.quantity
            trade.exit_qty += closing_qty
            trade.exit_value += closing_qty * fill.price
            trade.exit_ts = fill.ts_event
            trade.realized += realized
            trade.fees += fee_close
            self._close_trade(book, fill)
            remainder = fill.quantity - closing_qty
            book.trade = _OpenTrade(
                direction=1 if after > 0 else -1,
                entry_ts=fill.ts_event,
                entry_qty=remainder,
                entry_cost=remainder * fill.price,
                max_qty=remainder,
                fees=fill.fee - fee_close,
            )
            return
        if opening:
            trade.entry_qty += fill.quantity
            trade.entry_cost += fill.quantity * fill.price
        else:
            trade.exit_qty += fill.quantity
            trade.exit_value += fill.quantity * fill.price
            trade.exit_ts = fill.ts_event
        trade.realized += realized
        trade.fees += fee_share
        trade.max_qty = max(trade.max_qty, abs(after))
        if after == 0:
            self._close_trade(book, fill)

    def _close_trade(self, book: _Book, fill: Fill) -> None:
        t = book.trade
        assert t is not None
        entry_price = t.entry_cost / t.entry_qty
        exit_price = t.exit_value / t.exit_qty
        pnl = t.realized - t.fees
        basis = entry_price * t.max_qty
        book.trades.append(
            TradeRecord(
                strategy_id=fill.strategy_id,
                instrument_id=fill.instrument_id,
                direction="LONG" if t.direction > 0 else "SHORT",
                quantity=t.max_qty,
                entry_ts=t.entry_ts,
                entry_price=entry_price,
                exit_ts=t.exit_ts,
                exit_price=exit_price,
                pnl=pnl,
                fees=t.fees,
                return_pct=float(pnl / basis * 100) if basis else 0.0,
            )
        )
        book.trade = None
