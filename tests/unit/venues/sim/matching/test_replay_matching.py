"""The matching venue driven by recorded feeds: Bybit L2 deltas and Binance quotes + trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot4.data.book import Scale
from bot4.data.book.loaders import load_binance_quotes_parquet, load_binance_trades_parquet, load_bybit_orderbook
from bot4.engine.clock import SimClock
from bot4.model import Instrument, Liquidity, Order, OrderFilled, QuoteTick, TradeTick
from bot4.venues.sim.matching import MatchingVenue

D = Decimal


def test_bybit_l2_market_order_when_mid_replay_then_fills_walk_levels_at_book_vwap(shared_data: Path) -> None:
    inst = Instrument.spot(
        "BYBIT", "XRP/USDT", tick_size="0.0001", step_size="1", maker_fee="0.0002", taker_fee="0.00055"
    )
    msgs = load_bybit_orderbook(
        shared_data / "nautilus_trader/bybit/xrpusdt-ob500.data.zip", Scale(inst.tick_size, inst.step_size)
    )
    events: list[object] = []
    venue = MatchingVenue("BYBIT", {inst.id: inst}, {"USDT": D(10**6), "XRP": D(0)}, SimClock(), events.append)
    venue.load_book(inst.id, msgs[0].bids, msgs[0].asks)
    for msg in msgs[1:25]:
        venue.apply_deltas(inst.id, msg.deltas())
    book = venue.market(inst.id).book
    expected_vwap = book.vwap(True, 50_000)
    top3 = book.ask_levels(3)
    venue.place(Order.create(inst, client_order_id="m", strategy_id="s", side="BUY", type="MARKET", quantity="50000"))
    fills = [e.fill for e in events if isinstance(e, OrderFilled)]
    assert sum(f.quantity for f in fills) == D(50_000) and len(fills) > 1
    assert [(f.price, f.quantity) for f in fills[:2]] == [(D(p) * inst.tick_size, D(q)) for p, q in top3[:2]]
    vwap = sum(f.price * f.quantity for f in fills) / D(50_000)
    assert expected_vwap is not None
    assert abs(vwap - D(repr(expected_vwap)) * inst.tick_size) < D("1e-12")  # the analytics agree with matching
    for msg in msgs[25:]:  # the rest of the feed still applies on top of the consumed book
        venue.apply_deltas(inst.id, msg.deltas())


def test_binance_quotes_and_trades_when_resting_at_touch_then_fills_only_on_prints_through(shared_data: Path) -> None:
    inst = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.000001")
    d = shared_data / "nautilus_trader/binance"
    quotes = load_binance_quotes_parquet(d / "btcusdt-quotes.parquet", inst.id)
    trades = load_binance_trades_parquet(d / "btcusdt-trades.parquet", inst.id)
    stream: list[tuple[int, int, QuoteTick | TradeTick]] = sorted(
        [(q.ts_event, 0, q) for q in quotes] + [(t.ts_event, 1, t) for t in trades], key=lambda x: (x[0], x[1])
    )
    clock = SimClock(0)
    causes: list[tuple[str, QuoteTick | TradeTick]] = []
    current: list[QuoteTick | TradeTick] = []

    def sink(event: object) -> None:
        if isinstance(event, OrderFilled):
            causes.append((event.client_order_id, current[0]))

    venue = MatchingVenue("BINANCE", {inst.id: inst}, {"USDT": D(100_000), "BTC": D(1)}, clock, sink)
    first = quotes[0]
    for ts, _, item in stream:
        clock.advance_to(ts)
        current[:] = [item]
        if isinstance(item, QuoteTick):
            venue.on_quote(item)
            if item is first:
                for cid, side, px in (("b", "BUY", first.bid), ("a", "SELL", first.ask)):
                    venue.place(
                        Order.create(
                            inst,
                            client_order_id=cid,
                            strategy_id="s",
                            side=side,
                            type="LIMIT",
                            quantity="0.05",
                            price=repr(px),
                        )
                    )
        else:
            venue.on_trade(item)
    bid, ask = D(repr(first.bid)), D(repr(first.ask))
    trades_by_cid = {cid: [f for f in venue.my_trades() if f.client_order_id == cid] for cid in "ab"}
    assert sum(f.quantity for f in trades_by_cid["b"]) == D("0.05")
    assert sum(f.quantity for f in trades_by_cid["a"]) == D("0.05")
    assert all(f.liquidity is Liquidity.MAKER for f in venue.my_trades())
    assert {f.price for f in trades_by_cid["b"]} == {bid} and {f.price for f in trades_by_cid["a"]} == {ask}
    for cid, cause in causes:
        if isinstance(cause, TradeTick):
            assert (
                (cause.aggressor, cause.price <= first.bid) == ("SELL", True)
                if cid == "b"
                else (cause.aggressor, cause.price >= first.ask) == ("BUY", True)
            )
        else:
            assert cause.ask <= first.bid if cid == "b" else cause.bid >= first.ask
