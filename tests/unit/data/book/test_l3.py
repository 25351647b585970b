"""L3 book: queues, priority rules, aggregates and the two crossing policies."""

from __future__ import annotations

import pytest

from bot4.data.book import BookNotReady, CrossedBook, InvalidLevel, L3Book


def make_book(on_cross: str = "reject") -> L3Book:
    book = L3Book(on_cross)  # type: ignore[arg-type]
    book.load_snapshot([(1, True, 100, 5), (2, True, 100, 3), (3, True, 99, 4), (4, False, 101, 2), (5, False, 102, 6)])
    return book


def test_snapshot_when_loaded_then_levels_aggregate_orders_in_queue_order() -> None:
    book = make_book()
    assert book.l2.best_bid() == (100, 8) and book.l2.best_ask() == (101, 2)
    assert book.queue(True, 100) == [(1, 5), (2, 3)]
    assert book.size_ahead(True, 100, 2) == 5


def test_update_when_size_decreases_then_priority_kept() -> None:
    book = make_book()
    book.update(1, True, 100, 2)
    assert book.queue(True, 100) == [(1, 2), (2, 3)]
    assert book.l2.best_bid() == (100, 5)


def test_update_when_size_increases_or_price_moves_then_order_goes_to_back() -> None:
    book = make_book()
    book.update(1, True, 100, 6)
    assert book.queue(True, 100) == [(2, 3), (1, 6)]
    book.update(2, True, 99, 3)
    assert book.queue(True, 99) == [(3, 4), (2, 3)] and book.l2.size_at(True, 100) == 6


def test_delete_when_last_order_of_level_then_level_gone() -> None:
    book = make_book()
    assert book.delete(4)
    assert book.l2.best_ask() == (102, 6)
    assert not book.delete(4)


def test_update_when_crossing_and_reject_policy_then_crossed_book() -> None:
    book = make_book()
    with pytest.raises(CrossedBook, match="order 9 bid at 101 crosses"):
        book.update(9, True, 101, 1)
    assert not book.valid
    with pytest.raises(BookNotReady):
        book.update(10, True, 90, 1)


def test_update_when_crossing_and_uncross_policy_then_crossed_orders_removed() -> None:
    book = make_book("uncross")
    book.update(9, True, 102, 1)
    assert book.l2.best_bid() == (102, 1) and book.l2.best_ask() is None
    assert book.uncrossed == 2


def test_snapshot_when_duplicate_ids_then_invalid_level() -> None:
    with pytest.raises(InvalidLevel, match="duplicate order id"):
        L3Book().load_snapshot([(1, True, 100, 1), (1, True, 99, 1)])
