"""Why a book refused data: each error says which level, order or sequence number was wrong.

A refused book is *invalid* until it is rebuilt from a fresh snapshot; callers catch ``BookError``
and resync rather than trade on a book that no longer mirrors the exchange.
"""

from __future__ import annotations


class BookError(ValueError):
    """Base of everything a book or its sequence checker refuses."""


class InvalidLevel(BookError):
    """A price or size that cannot be a level: not positive, negative size, off the tick/lot grid."""


class CrossedBook(BookError):
    """The best bid reached the best ask after a message was applied."""


class SequenceGap(BookError):
    """An update id did not follow the last one applied: messages were lost; resync."""


class StaleSnapshot(BookError):
    """A snapshot older than the first buffered update: it cannot be bridged; fetch another."""


class BookNotReady(BookError):
    """The book was asked for data while invalid or before its first snapshot."""
