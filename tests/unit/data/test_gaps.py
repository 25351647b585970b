"""Gap reports: counted exactly as the shared data README counts them, and never filled."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot4.data import BarSeries, Gap, find_gaps, load_ohlcv, summarize_gaps
from bot4.data.bars import NS_PER_MINUTE

TF = 5 * NS_PER_MINUTE
T0 = 1_515_560_100_000_000_000  # 2018-01-10 04:55 UTC


def series_at(slots: list[int]) -> BarSeries:
    n = len(slots)
    ts = np.array([T0 + s * TF for s in slots], dtype=np.int64)
    ones = np.ones(n)
    return BarSeries("ETH/BTC", TF, ts, ones, ones * 2, ones / 2, ones, ones * 10)


def test_find_gaps_when_bars_are_missing_then_each_hole_is_reported_with_its_size() -> None:
    gaps = find_gaps(series_at([0, 1, 2, 5, 6, 10]))
    assert gaps == [Gap(T0 + 2 * TF, T0 + 5 * TF, 2), Gap(T0 + 6 * TF, T0 + 10 * TF, 3)]
    assert gaps[1].span_ns == 4 * TF


@pytest.mark.parametrize("slots", [[], [0], [0, 1, 2, 3]])
def test_find_gaps_when_series_is_contiguous_or_tiny_then_no_gaps(slots: list[int]) -> None:
    assert find_gaps(series_at(slots)) == []


def test_find_gaps_when_called_then_series_is_left_unfilled() -> None:
    series = series_at([0, 3, 4])
    before = series.ts_open.copy()
    find_gaps(series)
    summarize_gaps(series)
    assert len(series) == 3
    np.testing.assert_array_equal(series.ts_open, before)


def _readme_checks(shared_data: Path) -> dict[str, tuple[int, int]]:
    """Normalized CSV name -> (gaps, missing_bars) from the per-file sections of the README."""
    text = (shared_data / "README.md").read_text()
    found: dict[str, tuple[int, int]] = {}
    for section in text.split("\n### ")[1:]:
        checks = re.search(r"- Checks: gaps=(\d+); missing_bars=(\d+);", section)
        normalized = re.search(r"- Normalized copy: `ohlcv/([^`]+)`", section)
        if checks and normalized:
            found[normalized.group(1)] = (int(checks.group(1)), int(checks.group(2)))
    return found


def test_find_gaps_when_every_shared_ohlcv_file_then_counts_match_the_readme(shared_data: Path) -> None:
    expected = _readme_checks(shared_data)
    assert len(expected) == 24
    for name, (gaps, missing) in sorted(expected.items()):
        found = find_gaps(load_ohlcv(shared_data / "ohlcv" / name))
        assert (len(found), sum(g.missing_bars for g in found)) == (gaps, missing), name


@pytest.mark.parametrize(
    ("name", "gaps", "missing"),
    [
        ("BITTREX_ADA_BTC_5m.csv", 5, 40),
        ("BITTREX_DASH_BTC_1m.csv", 1493, 1954),
        ("BITTREX_ETH_BTC_5m.csv", 0, 0),
    ],
)
def test_summarize_gaps_when_readme_examples_then_exact_counts(
    shared_data: Path, name: str, gaps: int, missing: int
) -> None:
    summary = summarize_gaps(load_ohlcv(shared_data / "ohlcv" / name))
    assert (summary.gaps, summary.missing_bars) == (gaps, missing)
    assert summary.expected_bars == summary.bars + missing


def test_summarize_gaps_when_ada_5m_then_longest_is_the_170_minute_hole(shared_data: Path) -> None:
    summary = summarize_gaps(load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv"))
    assert summary.longest == Gap(
        pd.Timestamp("2018-01-15 11:55", tz="UTC").value, pd.Timestamp("2018-01-15 14:45", tz="UTC").value, 33
    )
    assert summary.longest.span_ns == 170 * NS_PER_MINUTE
    assert summary.describe() == (
        "5720 bars of 5m, 5 gaps, 40 missing bars (99.31% coverage); "
        "longest 33 bars after 2018-01-15 11:55 UTC until 2018-01-15 14:45 UTC"
    )


def test_find_gaps_when_ftx_and_binance_kline_controls_then_none(shared_data: Path) -> None:
    assert find_gaps(load_ohlcv(shared_data / "nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv")) == []
    assert find_gaps(load_ohlcv(shared_data / "nautilus_trader/binance/ADABTC-1m-2021-11-28.csv")) == []


def test_summarize_gaps_when_source_filled_its_gaps_then_filler_bars_are_counted(shared_data: Path) -> None:
    # The 2019 JSON is the trade-built feather series with its 1,091 missing minutes filled by
    # flat zero-volume candles: no gaps remain, but the filler is visible.
    filled = summarize_gaps(load_ohlcv(shared_data / "freqtrade/binance/XRP_ETH-1m.json"))
    honest = summarize_gaps(load_ohlcv(shared_data / "freqtrade/binance/XRP_ETH-1m.feather"))
    assert (filled.gaps, filled.filler_bars) == (0, 1091)
    assert (honest.gaps, honest.missing_bars, honest.filler_bars) == (676, 1091, 0)
    assert "1091 flat zero-volume bars (likely filler)" in filled.describe()
