"""Find missing bars; never invent them.

A missing candle is a fact about the market data (no trades, or a recording outage). Filling it with
a copied or zero-volume bar would hand strategies prices that never traded, so bot4 only *reports*
gaps and leaves the decision to the caller. Sources that filled gaps before bot4 saw them show up as
flat zero-volume bars, which ``summarize_gaps`` counts separately as likely filler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot4.data.bars import BarSeries, format_timeframe


@dataclass(frozen=True)
class Gap:
    """Bars missing between two consecutive bars of a series (``ts`` are bar open times, UTC ns)."""

    after_ts: int
    before_ts: int
    missing_bars: int

    @property
    def span_ns(self) -> int:
        """Time from the last bar before the gap to the first bar after it."""
        return self.before_ts - self.after_ts


@dataclass(frozen=True)
class GapSummary:
    """How complete a series is, in the numbers a person checks before trusting a backtest."""

    bars: int
    expected_bars: int
    gaps: int
    missing_bars: int
    longest: Gap | None
    filler_bars: int
    timeframe_ns: int

    @property
    def coverage(self) -> float:
        """Share of the expected bars between first and last bar that are present."""
        return self.bars / self.expected_bars if self.expected_bars else 1.0

    def describe(self) -> str:
        tf = format_timeframe(self.timeframe_ns)
        text = (
            f"{self.bars} bars of {tf}, {self.gaps} gap{'s' if self.gaps != 1 else ''}, "
            f"{self.missing_bars} missing bar{'s' if self.missing_bars != 1 else ''} "
            f"({self.coverage:.2%} coverage)"
        )
        if self.longest is not None:
            text += (
                f"; longest {self.longest.missing_bars} bars after {_iso(self.longest.after_ts)} "
                f"until {_iso(self.longest.before_ts)}"
            )
        if self.filler_bars:
            text += f"; {self.filler_bars} flat zero-volume bars (likely filler)"
        return text


def find_gaps(series: BarSeries) -> list[Gap]:
    """Every interval between consecutive bars longer than the timeframe, oldest first.

    ``missing_bars`` counts the bar slots that fit strictly inside the interval, so an interval of
    k timeframes misses k - 1 bars.
    """
    ts = series.ts_open
    if len(ts) < 2:
        return []
    tf = series.timeframe_ns
    steps = np.diff(ts)
    where = np.flatnonzero(steps > tf)
    missing = (steps[where] - 1) // tf
    return [
        Gap(int(ts[i]), int(ts[i + 1]), int(m)) for i, m in zip(where.tolist(), missing.tolist(), strict=True)
    ]


def summarize_gaps(series: BarSeries) -> GapSummary:
    """Counts for a data-quality report; the series itself is left untouched."""
    gaps = find_gaps(series)
    missing = sum(g.missing_bars for g in gaps)
    longest = max(gaps, key=lambda g: g.missing_bars, default=None)
    flat = (
        (series.volume == 0)
        & (series.open == series.high)
        & (series.high == series.low)
        & (series.low == series.close)
    )
    return GapSummary(
        bars=len(series),
        expected_bars=len(series) + missing,
        gaps=len(gaps),
        missing_bars=missing,
        longest=longest,
        filler_bars=int(np.count_nonzero(flat)),
        timeframe_ns=series.timeframe_ns,
    )


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
