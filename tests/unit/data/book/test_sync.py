"""Sequence rules: Binance lastUpdateId/U/u(/pu) bridging and Bybit contiguous update ids."""

from __future__ import annotations

import pytest

from bot4.data.book import (
    BinanceDepthSync,
    BookNotReady,
    BybitBookMessage,
    BybitBookSync,
    DepthDiff,
    DepthSnapshot,
    SequenceGap,
    StaleSnapshot,
)

SNAP = DepthSnapshot(100, [(10, 1), (9, 2)], [(11, 1), (12, 2)])


def test_binance_when_buffered_events_bridge_snapshot_then_old_dropped_and_rest_applied() -> None:
    sync = BinanceDepthSync()
    sync.on_diff(DepthDiff(95, 99, [(10, 50)], []))  # entirely before the snapshot: dropped
    sync.on_diff(DepthDiff(100, 103, [(10, 7)], []))  # straddles lastUpdateId + 1: applied
    sync.on_diff(DepthDiff(104, 104, [], [(11, 0)]))
    sync.on_snapshot(SNAP)
    assert not sync.needs_resync
    assert sync.book.best_bid() == (10, 7) and sync.book.best_ask() == (12, 2)
    assert sync.book.last_update_id == 104


def test_binance_when_snapshot_older_than_first_buffered_event_then_stale_snapshot() -> None:
    sync = BinanceDepthSync()
    sync.on_diff(DepthDiff(150, 160, [], []))
    with pytest.raises(StaleSnapshot, match=r"lastUpdateId 100 .* U=150"):
        sync.on_snapshot(SNAP)
    assert sync.needs_resync


def test_binance_when_live_event_skips_ids_then_sequence_gap_and_resync() -> None:
    sync = BinanceDepthSync()
    sync.on_snapshot(SNAP)
    sync.on_diff(DepthDiff(101, 105, [(10, 3)], []))
    with pytest.raises(SequenceGap, match="U=107"):
        sync.on_diff(DepthDiff(107, 110, [(10, 4)], []))
    assert sync.needs_resync and not sync.book.valid
    sync.on_diff(DepthDiff(111, 112, [], []))  # buffered while resyncing
    assert sync.buffer


def test_binance_when_futures_pu_does_not_chain_then_sequence_gap() -> None:
    sync = BinanceDepthSync()
    sync.on_snapshot(SNAP)
    sync.on_diff(DepthDiff(99, 105, [], [], prev_update_id=98))
    with pytest.raises(SequenceGap, match="pu=104"):
        sync.on_diff(DepthDiff(106, 108, [], [], prev_update_id=104))


def bybit(u: int, snapshot: bool = False, bids: list[tuple[int, int]] | None = None) -> BybitBookMessage:
    return BybitBookMessage(snapshot, u, 0, 0, bids or [], [] if not snapshot else [(20, 1)])


def test_bybit_when_u_skips_then_sequence_gap() -> None:
    sync = BybitBookSync()
    sync.on_message(bybit(10, snapshot=True, bids=[(10, 1)]))
    sync.on_message(bybit(11, bids=[(11, 2)]))
    with pytest.raises(SequenceGap, match="u=13, expected 12"):
        sync.on_message(bybit(13))
    assert sync.needs_resync and not sync.book.valid


def test_bybit_when_delta_before_snapshot_then_not_ready() -> None:
    with pytest.raises(BookNotReady):
        BybitBookSync().on_message(bybit(5))


def test_bybit_when_u_is_one_then_book_reset_as_snapshot() -> None:
    sync = BybitBookSync()
    sync.on_message(bybit(10, snapshot=True, bids=[(10, 1)]))
    sync.on_message(BybitBookMessage(False, 1, 0, 0, [(5, 1)], [(6, 1)]))
    assert sync.book.best_bid() == (5, 1) and sync.book.best_ask() == (6, 1)


def test_staleness_when_no_message_for_longer_than_max_age_then_stale() -> None:
    sync = BybitBookSync()
    assert sync.is_stale(0, 1_000)  # no snapshot yet
    sync.on_message(BybitBookMessage(True, 5, 0, 10_000, [(10, 1)], [(11, 1)]))
    assert not sync.is_stale(10_500, 1_000)
    assert sync.is_stale(11_001, 1_000)
    binance = BinanceDepthSync()
    binance.on_snapshot(DepthSnapshot(100, [(10, 1)], [(11, 1)], ts_ms=5_000))
    binance.on_diff(DepthDiff(101, 101, [(10, 2)], [], ts_ms=7_000))
    assert not binance.is_stale(7_900, 1_000) and binance.is_stale(8_001, 1_000)
