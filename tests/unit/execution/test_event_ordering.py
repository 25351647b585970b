"""Property tests (C2, 5.1, 5.2): permuted and duplicated venue reports give the ordered outcome."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot4.engine.clock import SimClock
from bot4.execution.errors import VenueError
from bot4.execution.ledger_dump import dump_ledger
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OrderManager
from bot4.execution.records import ExecReport, OrderSnapshot, VenueTrade
from bot4.execution.states import OmsStatus
from bot4.model import Fill, Liquidity, Order, Side
from tests.unit.execution.harness import INST, D


class SilentVenue:
    """Books nothing and answers no query: every state change must come from the reports fed in."""

    name = "SIM"

    def set_listener(self, listener: Callable[[ExecReport], None]) -> None:
        pass

    def submit(self, order: Order) -> list[ExecReport]:
        return []

    def cancel(self, client_order_id: str, instrument_id: str) -> list[ExecReport]:
        return []

    def query_order(self, client_order_id: str, instrument_id: str) -> OrderSnapshot | None:
        raise VenueError("silent venue: no queries")

    def open_orders(self) -> list[OrderSnapshot]:
        raise VenueError("silent venue: no queries")

    def my_trades(self, instrument_id: str, since_seq: int) -> list[VenueTrade]:
        raise VenueError("silent venue: no queries")


def fresh(journal: MemoryJournal | None = None) -> OrderManager:
    oms = OrderManager(SilentVenue(), journal or MemoryJournal(), SimClock())
    oms.resume()
    return oms


def place(oms: OrderManager, lots: int) -> str:
    qty = D(lots) / 100
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", quantity=qty, price="100")
    return rec.client_order_id


@st.composite
def order_story(draw: Any) -> tuple[int, list[ExecReport]]:
    """A legal venue history of one order ``b4-1``: accepted, some fills, one terminal event."""
    lots = draw(st.integers(1, 12))
    end = draw(st.sampled_from(["filled", "canceled", "expired", "rejected"]))
    reps: list[ExecReport] = []
    seq = 0
    if end == "rejected":
        return lots, [ExecReport("b4-1", OmsStatus.REJECTED, 1, 1, INST.id, reason="no")]
    seq += 1
    reps.append(ExecReport("b4-1", OmsStatus.ACCEPTED, seq, seq, INST.id))
    filled_lots = lots if end == "filled" else draw(st.integers(0, lots - 1))
    cuts = sorted(draw(st.sets(st.integers(1, max(filled_lots - 1, 1)), max_size=4))) if filled_lots > 1 else []
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, filled_lots], strict=True) if b > a]
    cum = 0
    for i, part in enumerate(parts):
        seq += 1
        cum += part
        price = D(100) - D(i) / 10
        q = D(part) / 100
        fill = Fill(
            f"SIM-{seq}", "b4-1", "s", INST.id, Side.BUY, q, price, q * price / 1000, "USDT", Liquidity.MAKER, seq
        )
        status = OmsStatus.FILLED if cum == lots else OmsStatus.PARTIALLY_FILLED
        reps.append(ExecReport("b4-1", status, seq, seq, INST.id, D(cum) / 100, fill, seq))
    if end in ("canceled", "expired"):
        seq += 1
        status = OmsStatus.CANCELED if end == "canceled" else OmsStatus.EXPIRED
        reps.append(ExecReport("b4-1", status, seq, seq, INST.id, D(cum) / 100))
    return lots, reps


def outcome(oms: OrderManager) -> tuple[OmsStatus, Decimal, Decimal, Decimal]:
    rec = oms.get("b4-1")
    return rec.status, rec.filled_qty, oms.position(INST.id).quantity, oms.ledger.fees.get(("SIM", "USDT"), D(0))


@settings(max_examples=150, deadline=None)
@given(story=order_story(), data=st.data())
def test_reports_when_permuted_and_duplicated_then_same_final_state_and_quantity(
    story: tuple[int, list[ExecReport]], data: Any
) -> None:
    lots, reps = story
    ordered = fresh()
    place(ordered, lots)
    for r in reps:
        ordered.on_report(r)
    noisy = data.draw(st.lists(st.sampled_from(reps), max_size=6)) + reps
    shuffled = data.draw(st.permutations(noisy))
    other = fresh()
    place(other, lots)
    for r in shuffled:
        other.on_report(r)
    assert outcome(other) == outcome(ordered)
    rec = other.get("b4-1")
    assert rec.filled_qty == sum((r.fill.quantity for r in reps if r.fill), D(0))


@settings(max_examples=60, deadline=None)
@given(story=order_story(), data=st.data())
def test_cum_quantity_when_reports_arrive_in_any_order_then_never_decreases(
    story: tuple[int, list[ExecReport]], data: Any
) -> None:
    lots, reps = story
    oms = fresh()
    place(oms, lots)
    last_filled, last_rank = D(0), -1
    from bot4.execution.states import RANK

    for r in data.draw(st.permutations(reps + reps)):
        oms.on_report(r)
        rec = oms.get("b4-1")
        assert rec.filled_qty >= last_filled
        assert RANK[rec.status] >= last_rank or rec.status.is_terminal
        last_filled, last_rank = rec.filled_qty, RANK[rec.status]


@settings(max_examples=40, deadline=None)
@given(story=order_story())
def test_replay_when_event_log_applied_twice_then_ledger_byte_identical(story: tuple[int, list[ExecReport]]) -> None:
    lots, reps = story
    once, twice = MemoryJournal(), MemoryJournal()
    a = fresh(once)
    place(a, lots)
    for r in reps:
        a.on_report(r)
    b = fresh(twice)
    place(b, lots)
    for r in reps + reps:
        b.on_report(r)
    assert dump_ledger(once.load()) == dump_ledger(twice.load())
