"""Market data: the bar container, loaders that refuse bad files, and gap reports."""

from bot4.data.bars import BarSeries, format_timeframe, parse_timeframe
from bot4.data.errors import DataError
from bot4.data.gaps import Gap, GapSummary, find_gaps, summarize_gaps
from bot4.data.loaders import (
    LoadReport,
    bundled_path,
    infer_from_file_name,
    list_bundled,
    load_bundled,
    load_ohlcv,
    load_ohlcv_report,
)

__all__ = [
    "BarSeries",
    "DataError",
    "Gap",
    "GapSummary",
    "LoadReport",
    "bundled_path",
    "find_gaps",
    "format_timeframe",
    "infer_from_file_name",
    "list_bundled",
    "load_bundled",
    "load_ohlcv",
    "load_ohlcv_report",
    "parse_timeframe",
    "summarize_gaps",
]
