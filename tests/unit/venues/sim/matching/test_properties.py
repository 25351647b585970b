"""Property tests over random books and order flows: prices, quantities and balances stay honest."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot4.model import Liquidity, OrderFilled, Side
from bot4.venues.sim.matching import VenueOrderRejected
from tests.unit.venues.sim.matching.helpers import IID, SCALE, D, Harness, order

MID = 1000  # ticks: 100.0

levels = st.lists(st.tuples(st.integers(1, 20), st.integers(1, 5000)), min_size=1, max_size=8, unique_by=lambda x: x[0])
orders = st.tuples(
    st.just("order"),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["MARKET", "LIMIT"]),
    st.integers(20, 8000),
    st.integers(-12, 12),
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
)
actions = st.lists(
    st.one_of(
        orders,
        orders,
        st.tuples(st.just("trade"), st.integers(-12, 12), st.integers(1, 6000), st.sampled_from(["BUY", "SELL", ""])),
        st.tuples(st.just("trade"), st.integers(-3, 3), st.integers(1, 6000), st.sampled_from(["BUY", "SELL", ""])),
        st.tuples(st.just("level"), st.booleans(), st.integers(1, 20), st.integers(0, 5000)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
    ),
    min_size=3,
    max_size=30,
)


def run(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], acts: list[tuple[Any, ...]], seed: int = 0
) -> tuple[Harness, list[tuple[str, Side, int | None, dict[int, int], dict[int, int]]]]:
    h = Harness(usdt="20000", btc="50", seed=seed)
    h.venue.load_book(IID, [(MID - d, s) for d, s in bids], [(MID + d, s) for d, s in asks])
    submitted = []
    book = h.venue.market(IID).book
    for n, act in enumerate(acts):
        if act[0] == "order":
            _, side, typ, lots, off, tif = act
            price = None if typ == "MARKET" else str(SCALE.price(MID + off))
            before_asks, before_bids = dict(book.asks), dict(book.bids)
            o = order(
                f"o{n}", side, typ, str(SCALE.size(lots)), price=price, time_in_force=tif if typ == "LIMIT" else "GTC"
            )
            h.venue.place(o)
            submitted.append(
                (o.client_order_id, o.side, None if price is None else MID + off, before_asks, before_bids)
            )
        elif act[0] == "trade":
            _, off, size, aggr = act
            h.trade(float(SCALE.price(MID + off)), float(SCALE.size(size)), aggr)
        elif act[0] == "level":
            _, is_bid, d, size = act
            price = MID - d if is_bid else MID + d
            try:
                h.venue.apply_deltas(IID, [(is_bid, price, size)])
            except ValueError:
                book.apply(is_bid, price, 0)  # a crossing delta is refused; drop it and go on
                book.valid = True
        elif submitted:
            h.venue.cancel_order(submitted[act[1] % len(submitted)][0])
        for ccy, (free, locked) in h.venue.balances().items():
            assert free >= 0 and locked >= 0, f"{ccy} went negative after {act}"
    return h, submitted


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(levels, levels, actions)
def test_random_flow_when_replayed_then_prices_quantities_and_balances_hold(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], acts: list[tuple[Any, ...]]
) -> None:
    h, submitted = run(bids, asks, acts)
    for cid, side, limit, before_asks, before_bids in submitted:
        events = h.of(cid, OrderFilled)
        if h.of(cid, VenueOrderRejected):
            assert events == []
            continue
        total = D(0)
        for e in events:
            f = e.fill
            total += f.quantity
            assert e.cum_quantity == total
            ticks = SCALE.ticks(f.price)
            if limit is not None:
                assert ticks <= limit if side is Side.BUY else ticks >= limit
            if f.liquidity is Liquidity.MAKER:
                assert ticks == limit
        taker = [e.fill for e in events if e.fill.liquidity is Liquidity.TAKER]
        if taker:  # takers only trade on arrival, at prices that were on the book then
            visible = before_asks if side is Side.BUY else before_bids
            for f in taker:
                assert SCALE.ticks(f.price) in visible
        if events:
            w = h.venue.working(cid)
            leaves = SCALE.size(w.leaves) if w is not None else events[-1].leaves_quantity
            assert events[-1].leaves_quantity == leaves
    # conservation: balances move exactly by the fills
    base = D(50) + sum((f.quantity if f.side is Side.BUY else -f.quantity) for f in h.venue.my_trades())
    quote = D(20000) - sum(
        (f.notional + f.fee if f.side is Side.BUY else -(f.notional - f.fee)) for f in h.venue.my_trades()
    )
    assert h.venue.ledger.total("BTC") == base
    assert h.venue.ledger.total("USDT") == quote


@settings(max_examples=30, deadline=None)
@given(levels, levels, actions, st.integers(0, 2**32))
def test_random_flow_when_run_twice_with_same_seed_then_identical_fills(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], acts: list[tuple[Any, ...]], seed: int
) -> None:
    a, _ = run(bids, asks, acts, seed)
    b, _ = run(bids, asks, acts, seed)
    assert a.venue.my_trades() == b.venue.my_trades()
    assert a.venue.balances() == b.venue.balances()


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5000), st.integers(20, 5000), st.lists(st.integers(1, 3000), max_size=8))
def test_resting_bid_when_trades_print_at_its_level_then_fills_only_beyond_queue_ahead(
    ahead: int, qty: int, trades: list[int]
) -> None:
    h = Harness()
    h.venue.load_book(IID, [(MID, ahead)], [(MID + 1, 1000)])
    h.venue.place(order("b", "BUY", "LIMIT", str(SCALE.size(qty)), price=str(SCALE.price(MID))))
    for size in trades:
        h.trade(float(SCALE.price(MID)), float(SCALE.size(size)), "SELL")
    expected = min(qty, max(0, sum(trades) - ahead))
    assert h.filled_qty("b") == SCALE.size(expected)
    assert all(f.liquidity is Liquidity.MAKER and SCALE.ticks(f.price) == MID for f in h.fills("b"))
