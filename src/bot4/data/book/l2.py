"""An L2 (price level) book in integer ticks and lots, fast enough to replay raw depth feeds.

Each side is a ``dict`` price -> size plus an ascending list of prices kept sorted with ``bisect``:
updates to an existing level are one dict store, and inserting or removing a level is a memmove on a
list of a few hundred ints, which measured faster than a heap+dict for 500-level books.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

from bot4.data.book.errors import BookNotReady, CrossedBook, InvalidLevel

Level = tuple[int, int]  # (price ticks, size lots)


class L2Book:
    """Aggregated depth for one instrument. ``valid`` is False until a snapshot, and after a refusal."""

    __slots__ = ("_ask_px", "_bid_px", "asks", "bids", "last_update_id", "valid")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_px: list[int] = []  # ascending; best bid is the last
        self._ask_px: list[int] = []  # ascending; best ask is the first
        self.valid = False
        self.last_update_id = 0

    # -- building ----------------------------------------------------------------------------------

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._bid_px.clear()
        self._ask_px.clear()

    def load_snapshot(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int = 0) -> None:
        """Replace the whole book; refuses invalid levels and a crossed snapshot (book stays invalid)."""
        self.valid = False
        self.clear()
        for side_bid, levels in ((True, bids), (False, asks)):
            seen = self.bids if side_bid else self.asks
            for price, size in levels:
                if size == 0 or price in seen:
                    raise InvalidLevel(
                        f"snapshot {'bid' if side_bid else 'ask'} at {price}: "
                        f"{'size 0' if size == 0 else 'duplicate price level'}"
                    )
                self.apply(side_bid, price, size)
        self.check_not_crossed()
        self.last_update_id = update_id
        self.valid = True

    def apply(self, is_bid: bool, price: int, size: int) -> None:
        """Set one level (size 0 removes it). No cross check: messages are checked as a whole."""
        if price <= 0 or size < 0:
            self.valid = False
            raise InvalidLevel(
                f"{'bid' if is_bid else 'ask'} level price={price} size={size}: price must be > 0 and size >= 0"
            )
        if is_bid:
            levels, prices = self.bids, self._bid_px
        else:
            levels, prices = self.asks, self._ask_px
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]

    def apply_message(self, deltas: Iterable[tuple[bool, int, int]], update_id: int = 0) -> None:
        """Apply one exchange message's deltas, then refuse the result if it crossed."""
        apply = self.apply
        for is_bid, price, size in deltas:
            apply(is_bid, price, size)
        self.check_not_crossed()
        if update_id:
            self.last_update_id = update_id

    def check_not_crossed(self) -> None:
        if self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0]:
            self.valid = False
            raise CrossedBook(
                f"best bid {self._bid_px[-1]} >= best ask {self._ask_px[0]} (after update {self.last_update_id})"
            )

    def reduce(self, is_bid: bool, price: int, size: int) -> None:
        """Take ``size`` off a level (liquidity consumed by a simulated order); removes it at zero."""
        levels = self.bids if is_bid else self.asks
        left = levels.get(price, 0) - size
        self.apply(is_bid, price, left if left > 0 else 0)

    # -- reading -----------------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        if not self._bid_px:
            return None
        p = self._bid_px[-1]
        return p, self.bids[p]

    def best_ask(self) -> Level | None:
        if not self._ask_px:
            return None
        p = self._ask_px[0]
        return p, self.asks[p]

    def bid_levels(self, n: int | None = None) -> list[Level]:
        """Best first."""
        bp = self._bid_px
        px = bp[::-1] if n is None else bp[max(0, len(bp) - n) :][::-1]
        return [(p, self.bids[p]) for p in px]

    def ask_levels(self, n: int | None = None) -> list[Level]:
        """Best first."""
        px = self._ask_px if n is None else self._ask_px[:n]
        return [(p, self.asks[p]) for p in px]

    def iter_levels(self, is_bid: bool) -> Iterator[Level]:
        """Best first, lazily (no copy): do not change the book while iterating."""
        levels = self.bids if is_bid else self.asks
        for p in reversed(self._bid_px) if is_bid else self._ask_px:
            yield p, levels[p]

    def levels(self, is_bid: bool, n: int | None = None) -> list[Level]:
        return self.bid_levels(n) if is_bid else self.ask_levels(n)

    def size_at(self, is_bid: bool, price: int) -> int:
        return (self.bids if is_bid else self.asks).get(price, 0)

    def depth(self, is_bid: bool, n: int | None = None) -> int:
        """Total size of the best ``n`` levels (all when None)."""
        return sum(size for _, size in self.levels(is_bid, n))

    def spread(self) -> int | None:
        bb, ba = self.best_bid(), self.best_ask()
        return None if bb is None or ba is None else ba[0] - bb[0]

    def mid(self) -> float | None:
        bb, ba = self.best_bid(), self.best_ask()
        return None if bb is None or ba is None else (bb[0] + ba[0]) / 2

    def microprice(self) -> float | None:
        """Size-weighted mid: leans toward the side with *less* size (it is likelier to be taken out)."""
        bb, ba = self.best_bid(), self.best_ask()
        if bb is None or ba is None:
            return None
        (pb, qb), (pa, qa) = bb, ba
        return (pb * qa + pa * qb) / (qa + qb)

    def imbalance(self, n: int = 1) -> float | None:
        """(bid depth - ask depth) / (bid depth + ask depth) over the best ``n`` levels, in [-1, 1]."""
        b, a = self.depth(True, n), self.depth(False, n)
        return None if b + a == 0 else (b - a) / (b + a)

    def vwap(self, is_buy: bool, size: int) -> float | None:
        """Average price (ticks) a taker of ``size`` lots would pay; None if the book is too thin."""
        if size <= 0:
            raise InvalidLevel(f"vwap size: must be positive (got {size})")
        left, cost = size, 0
        for price, avail in self.levels(not is_buy):
            take = avail if avail < left else left
            cost += take * price
            left -= take
            if not left:
                return cost / size
        return None

    def require_valid(self) -> None:
        if not self.valid:
            raise BookNotReady("the book is invalid (no snapshot yet, or a refused update): resync first")
