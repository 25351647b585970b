"""L2 book: level maintenance, refusal of invalid and crossed data, and the analytics."""

from __future__ import annotations

import pytest

from bot4.data.book import BookNotReady, CrossedBook, InvalidLevel, L2Book


def make_book() -> L2Book:
    book = L2Book()
    book.load_snapshot([(100, 5), (99, 10), (97, 20)], [(101, 3), (102, 7), (105, 30)], update_id=7)
    return book


def test_snapshot_when_loaded_then_best_levels_and_depth_are_sorted_best_first() -> None:
    book = make_book()
    assert book.valid and book.last_update_id == 7
    assert book.best_bid() == (100, 5) and book.best_ask() == (101, 3)
    assert book.bid_levels(2) == [(100, 5), (99, 10)]
    assert book.ask_levels() == [(101, 3), (102, 7), (105, 30)]
    assert book.depth(True, 2) == 15 and book.depth(False) == 40
    assert book.spread() == 1


def test_apply_when_size_zero_then_level_removed_and_new_levels_inserted_in_order() -> None:
    book = make_book()
    book.apply_message([(True, 100, 0), (True, 98, 4), (False, 103, 1), (False, 101, 9)], update_id=8)
    assert book.bid_levels() == [(99, 10), (98, 4), (97, 20)]
    assert book.ask_levels(2) == [(101, 9), (102, 7)]
    assert book.last_update_id == 8


def test_apply_when_deleting_an_absent_level_then_book_unchanged() -> None:
    book = make_book()
    book.apply(True, 50, 0)
    assert book.bid_levels() == [(100, 5), (99, 10), (97, 20)]


def test_apply_message_when_result_crosses_then_crossed_book_and_invalid() -> None:
    book = make_book()
    with pytest.raises(CrossedBook, match="best bid 101 >= best ask 101"):
        book.apply_message([(True, 101, 1)])
    assert not book.valid
    with pytest.raises(BookNotReady):
        book.require_valid()


@pytest.mark.parametrize(("price", "size"), [(0, 1), (-5, 1), (100, -1)])
def test_apply_when_level_invalid_then_invalid_level(price: int, size: int) -> None:
    book = make_book()
    with pytest.raises(InvalidLevel, match=f"price={price} size={size}"):
        book.apply(True, price, size)


def test_snapshot_when_crossed_then_refused() -> None:
    with pytest.raises(CrossedBook):
        L2Book().load_snapshot([(101, 1)], [(100, 1)])


def test_analytics_when_computed_then_match_hand_values() -> None:
    book = make_book()
    assert book.mid() == 100.5
    assert book.microprice() == pytest.approx((100 * 3 + 101 * 5) / 8)
    assert book.imbalance(1) == pytest.approx((5 - 3) / 8)
    assert book.vwap(True, 5) == pytest.approx((3 * 101 + 2 * 102) / 5)
    assert book.vwap(False, 15) == pytest.approx((5 * 100 + 10 * 99) / 15)
    assert book.vwap(True, 1000) is None


def test_reduce_when_consuming_whole_level_then_level_removed() -> None:
    book = make_book()
    book.reduce(False, 101, 3)
    assert book.best_ask() == (102, 7)


def test_snapshot_when_price_level_repeated_then_invalid_level() -> None:
    with pytest.raises(InvalidLevel, match="ask at 101: duplicate price level"):
        L2Book().load_snapshot([(100, 1)], [(101, 1), (101, 2)])
