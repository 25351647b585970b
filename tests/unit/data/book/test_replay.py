"""Replaying the recorded Bybit L2, Bitfinex L3 and Binance depth feeds against plain-dict references."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot4.data.book import BinanceDepthSync, BybitBookSync, L3Book, Scale, SequenceGap, StaleSnapshot
from bot4.data.book.loaders import load_binance_depth_csv, load_bitfinex_l3, load_bybit_orderbook
from bot4.data.book.sync import DepthDiff, DepthSnapshot

BYBIT = Scale.of("0.0001", "1")
BITFINEX = Scale.of("0.00000001", "0.00000001")
BINANCE_FUT = Scale.of("0.1", "0.001")


def test_bybit_replay_when_every_message_applied_then_book_matches_dict_reference(shared_data: Path) -> None:
    msgs = load_bybit_orderbook(shared_data / "nautilus_trader/bybit/xrpusdt-ob500.data.zip", BYBIT)
    assert len(msgs) == 50 and msgs[0].is_snapshot
    sync = BybitBookSync()
    ref: tuple[dict[int, int], dict[int, int]] = ({}, {})  # asks, bids
    for msg in msgs:
        if msg.is_snapshot:
            ref[0].clear()
            ref[1].clear()
        for is_bid, price, size in msg.deltas():
            side = ref[is_bid]
            if size:
                side[price] = size
            else:
                side.pop(price, None)
        sync.on_message(msg)
        bb, ba = sync.book.best_bid(), sync.book.best_ask()
        assert bb is not None and ba is not None and bb[0] < ba[0]
        assert bb == (max(ref[1]), ref[1][max(ref[1])])
        assert ba == (min(ref[0]), ref[0][min(ref[0])])
        assert len(sync.book.bids) == len(ref[1]) and len(sync.book.asks) == len(ref[0])
    final_bid, final_ask = sync.book.best_bid(), sync.book.best_ask()
    assert final_bid is not None and final_ask is not None
    assert (BYBIT.price(final_bid[0]), BYBIT.price(final_ask[0])) == (Decimal("1.9537"), Decimal("1.9538"))


def test_bitfinex_l3_replay_when_uncrossing_then_best_prices_match_dict_reference(shared_data: Path) -> None:
    snapshot, updates = load_bitfinex_l3(shared_data / "nautilus_trader/bitfinex/L3_feed.json", BITFINEX)
    assert len(snapshot) == 50 and len(updates) == 99_998
    book = L3Book("uncross")
    book.load_snapshot(snapshot)
    ref = {oid: (is_bid, price, size) for oid, is_bid, price, size in snapshot}
    for oid, is_bid, price, size in updates:
        ref.pop(oid, None)
        if size:
            # reference uncross rule: a newcomer removes the opposite orders it crosses
            for other, (o_bid, o_price, _) in list(ref.items()):
                if o_bid != is_bid and (o_price <= price if is_bid else o_price >= price):
                    del ref[other]
            ref[oid] = (is_bid, price, size)
        book.update(oid, is_bid, price, size)
        bids = [p for b, p, _ in ref.values() if b]
        asks = [p for b, p, _ in ref.values() if not b]
        bb, ba = book.l2.best_bid(), book.l2.best_ask()
        assert (bb[0] if bb else None) == (max(bids) if bids else None)
        assert (ba[0] if ba else None) == (min(asks) if asks else None)
        if bb and ba:
            assert bb[0] < ba[0]
    assert book.uncrossed == 2
    assert len(book.orders) == len(ref)


def test_bitfinex_l3_replay_when_reject_policy_then_first_cross_is_refused(shared_data: Path) -> None:
    snapshot, updates = load_bitfinex_l3(shared_data / "nautilus_trader/bitfinex/L3_feed.json", BITFINEX)
    book = L3Book("reject")
    book.load_snapshot(snapshot)
    applied = 0
    with pytest.raises(Exception, match="crosses the best ask"):
        for oid, is_bid, price, size in updates:
            book.update(oid, is_bid, price, size)
            applied += 1
    assert applied == 33_246 and not book.valid


def _binance(shared_data: Path) -> tuple[DepthSnapshot, DepthDiff]:
    d = shared_data / "nautilus_trader/binance"
    snap = load_binance_depth_csv(d / "btcusdt-depth-snap.csv", BINANCE_FUT)
    diff = load_binance_depth_csv(d / "btcusdt-depth-update.csv", BINANCE_FUT)
    assert len(snap) == 1 and len(diff) == 1
    s, u = snap[0], diff[0]
    assert isinstance(s, DepthSnapshot) and isinstance(u, DepthDiff)
    return s, u


def test_binance_depth_when_update_follows_old_snapshot_then_sequence_gap(shared_data: Path) -> None:
    snap, diff = _binance(shared_data)
    assert (snap.last_update_id, len(snap.bids), len(snap.asks)) == (2098021528332, 100, 0)
    assert (diff.first_update_id, diff.last_update_id, diff.prev_update_id) == (
        2098041693435,
        2098041696700,
        2098041693400,
    )
    assert sum(1 for _, s in diff.bids + diff.asks if s == 0) == 21
    sync = BinanceDepthSync()
    sync.on_snapshot(snap)
    with pytest.raises(SequenceGap, match="U=2098041693435"):
        sync.on_diff(diff)
    assert sync.needs_resync and not sync.book.valid


def test_binance_depth_when_diff_buffered_first_then_snapshot_is_stale(shared_data: Path) -> None:
    snap, diff = _binance(shared_data)
    sync = BinanceDepthSync()
    sync.on_diff(diff)
    with pytest.raises(StaleSnapshot, match="fetch the snapshot again"):
        sync.on_snapshot(snap)
