"""An L3 (order by order) book: every resting order with its place in its level's FIFO queue.

Aggregates are kept in an ``L2Book`` alongside, so best prices, depth and analytics cost the same as
on an L2 feed, and a simulated order's exact queue position is the size of the orders ahead of it.

Priority rules (the usual price-time rules; Bitfinex documents the same): a size *decrease* keeps the
order's place; a size increase or a price change sends it to the back of its (new) level.

Crossing: a raw L3 feed can briefly show a new order crossing stale opposite orders (Bitfinex's raw
feed does, twice in the shared capture, until the stale order is repriced). ``on_cross="reject"``
refuses such an update and invalidates the book; ``on_cross="uncross"`` (newest information wins)
removes the opposite orders the newcomer crosses, so the book never shows a crossed state.
"""

from __future__ import annotations

from typing import Literal

from bot4.data.book.errors import BookNotReady, CrossedBook, InvalidLevel
from bot4.data.book.l2 import L2Book

CrossPolicy = Literal["reject", "uncross"]


class L3Book:
    """Orders keyed by exchange order id; ``l2`` holds the per-level sums."""

    __slots__ = ("_queues", "l2", "on_cross", "orders", "uncrossed", "valid")

    def __init__(self, on_cross: CrossPolicy = "reject") -> None:
        if on_cross not in ("reject", "uncross"):
            raise ValueError(f"on_cross: must be 'reject' or 'uncross' (got {on_cross!r})")
        self.on_cross: CrossPolicy = on_cross
        self.orders: dict[int, tuple[bool, int, int]] = {}  # id -> (is_bid, price, size)
        self._queues: tuple[dict[int, dict[int, int]], dict[int, dict[int, int]]] = ({}, {})  # ask, bid
        self.l2 = L2Book()
        self.uncrossed = 0  # opposite orders removed by the uncross policy
        self.valid = False

    def load_snapshot(self, orders: list[tuple[int, bool, int, int]]) -> None:
        """Replace the book with ``(order_id, is_bid, price, size)`` rows, in queue order."""
        self.valid = False
        self.orders.clear()
        for q in self._queues:
            q.clear()
        self.l2 = L2Book()
        self.l2.valid = True
        for oid, is_bid, price, size in orders:
            if size <= 0:
                raise InvalidLevel(f"snapshot order {oid}: size must be positive (got {size})")
            if oid in self.orders:
                raise InvalidLevel(f"snapshot order {oid}: duplicate order id")
            self._insert(oid, is_bid, price, size)
        self.l2.check_not_crossed()
        self.valid = True

    def update(self, order_id: int, is_bid: bool, price: int, size: int) -> None:
        """Add or change an order (size 0 deletes it), then enforce the cross policy."""
        if not self.valid:
            raise BookNotReady(f"update for order {order_id}: the book is invalid; load a snapshot first")
        if size == 0:
            self.delete(order_id)
            return
        if price <= 0 or size < 0:
            raise InvalidLevel(f"order {order_id}: price={price} size={size} must both be positive")
        old = self.orders.get(order_id)
        if old is not None:
            o_bid, o_price, o_size = old
            if o_bid == is_bid and o_price == price and size <= o_size:
                self._queues[is_bid][price][order_id] = size  # shrink in place: keeps priority
                self.orders[order_id] = (is_bid, price, size)
                self.l2.apply(is_bid, price, self.l2.size_at(is_bid, price) - o_size + size)
                return
            self._remove(order_id, old)
        self._check_cross(order_id, is_bid, price)
        self._insert(order_id, is_bid, price, size)

    def delete(self, order_id: int) -> bool:
        """Remove an order; False when it was not in the book (a feed may delete unseen orders)."""
        old = self.orders.get(order_id)
        if old is None:
            return False
        self._remove(order_id, old)
        return True

    def queue(self, is_bid: bool, price: int) -> list[tuple[int, int]]:
        """``(order_id, size)`` at one level, front of the queue first."""
        return list(self._queues[is_bid].get(price, {}).items())

    def size_ahead(self, is_bid: bool, price: int, order_id: int) -> int:
        """Size queued in front of ``order_id`` at its level."""
        ahead = 0
        for oid, size in self._queues[is_bid].get(price, {}).items():
            if oid == order_id:
                return ahead
            ahead += size
        raise KeyError(f"order {order_id} is not at {'bid' if is_bid else 'ask'} {price}")

    # -- internals ---------------------------------------------------------------------------------

    def _check_cross(self, order_id: int, is_bid: bool, price: int) -> None:
        opp = self.l2.best_ask() if is_bid else self.l2.best_bid()
        if opp is None or (price < opp[0] if is_bid else price > opp[0]):
            return
        if self.on_cross == "reject":
            self.valid = False
            raise CrossedBook(
                f"order {order_id} {'bid' if is_bid else 'ask'} at {price} crosses the best "
                f"{'ask' if is_bid else 'bid'} {opp[0]}"
            )
        for level_price, _ in self.l2.levels(not is_bid):
            if (level_price > price) if is_bid else (level_price < price):
                break
            for oid in list(self._queues[not is_bid][level_price]):
                self._remove(oid, self.orders[oid])
                self.uncrossed += 1

    def _insert(self, oid: int, is_bid: bool, price: int, size: int) -> None:
        if price <= 0:
            raise InvalidLevel(f"order {oid}: price must be positive (got {price})")
        self.orders[oid] = (is_bid, price, size)
        self._queues[is_bid].setdefault(price, {})[oid] = size
        self.l2.apply(is_bid, price, self.l2.size_at(is_bid, price) + size)

    def _remove(self, oid: int, old: tuple[bool, int, int]) -> None:
        is_bid, price, size = old
        del self.orders[oid]
        level = self._queues[is_bid][price]
        del level[oid]
        if not level:
            del self._queues[is_bid][price]
        self.l2.apply(is_bid, price, self.l2.size_at(is_bid, price) - size)
