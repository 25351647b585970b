"""Order books rebuilt from exchange feeds: L2/L3 in integer ticks, sequence sync and feed loaders."""

from bot4.data.book.errors import BookError, BookNotReady, CrossedBook, InvalidLevel, SequenceGap, StaleSnapshot
from bot4.data.book.l2 import L2Book, Level
from bot4.data.book.l3 import L3Book
from bot4.data.book.scale import Scale
from bot4.data.book.sync import BinanceDepthSync, BybitBookMessage, BybitBookSync, DepthDiff, DepthSnapshot

__all__ = [
    "BinanceDepthSync",
    "BookError",
    "BookNotReady",
    "BybitBookMessage",
    "BybitBookSync",
    "CrossedBook",
    "DepthDiff",
    "DepthSnapshot",
    "InvalidLevel",
    "L2Book",
    "L3Book",
    "Level",
    "Scale",
    "SequenceGap",
    "StaleSnapshot",
]
