"""The local candle store: one Parquet file per exchange, symbol and timeframe.

Downloads must survive being killed at any moment, so a file is only ever replaced whole: the new
content goes to a temporary file beside it, is flushed to disk, and is renamed over the old one. A
reader therefore sees the previous complete file or the new complete file, never half of one. The
layout ``<root>/<exchange>/<BASE>_<QUOTE>[_<SETTLE>]-<tf>.parquet`` is freqtrade's naming, which the
loaders already recognise, so a stored file goes straight into ``bot4 backtest --data``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bot4.data.bars import NS_PER_MS
from bot4.data.loaders import load_ohlcv

COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")
_PART = re.compile(r"^[A-Za-z0-9]+$")
_EXCHANGE = re.compile(r"^[a-z0-9]+$")
_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhdw]$")


def empty_frame() -> pd.DataFrame:
    """A frame with the store's columns and no rows."""
    frame = pd.DataFrame({c: np.array([], dtype=np.float64) for c in COLUMNS})
    return frame.astype({"timestamp_ms": np.int64})


class CandleStore:
    """Reads and atomically replaces candle files under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, exchange_id: str, symbol: str, timeframe: str) -> Path:
        """Where a series lives; names that could escape the store or break the naming are refused."""
        if not _EXCHANGE.match(exchange_id):
            raise ValueError(f"exchange id {exchange_id!r}: expected lower-case letters and digits, e.g. 'binance'")
        if not _TIMEFRAME.match(timeframe):
            raise ValueError(f"timeframe {timeframe!r}: expected a number and a unit, e.g. '5m'")
        pair, _, settle = symbol.partition(":")
        base, slash, quote = pair.partition("/")
        parts = [base, quote] + ([settle] if settle else [])
        if not slash or not all(_PART.match(p) for p in parts):
            raise ValueError(f"symbol {symbol!r}: expected BASE/QUOTE[:SETTLE] of letters and digits, e.g. 'BTC/USDT'")
        return self.root / exchange_id / f"{'_'.join(p.upper() for p in parts)}-{timeframe}.parquet"

    def read(self, exchange_id: str, symbol: str, timeframe: str) -> pd.DataFrame | None:
        """The stored candles (validated by the loader, so a damaged file is named), or None."""
        path = self.path(exchange_id, symbol, timeframe)
        if not path.exists():
            return None
        series = load_ohlcv(path, symbol=symbol, timeframe=timeframe)
        return pd.DataFrame(
            {
                "timestamp_ms": series.ts_open // NS_PER_MS,
                "open": series.open,
                "high": series.high,
                "low": series.low,
                "close": series.close,
                "volume": series.volume,
            }
        )

    def write(self, exchange_id: str, symbol: str, timeframe: str, frame: pd.DataFrame) -> Path:
        """Replace the file with ``frame`` (sorted, unique ``timestamp_ms``) in one atomic step."""
        path = self.path(exchange_id, symbol, timeframe)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            frame.loc[:, list(COLUMNS)].to_parquet(tmp, index=False)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return path


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is; not every platform lets us open one.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["COLUMNS", "CandleStore", "empty_frame"]
