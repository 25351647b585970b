"""Harmonic patterns: known hand-built paths match, out-of-tolerance ones don't, and nothing looks ahead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns import HarmonicDetector, Swing, find_harmonics, harmonics, zigzag
from bot4.indicators.patterns.harmonic import match_harmonics

from .paths import BARS_PER_LEG, first_reversal_bar, hlc, load_candles, pivot_path, stream_bars

DEV = 0.05
# Bullish XABCD pivots with X = 100, A = 200 (XA = 100), preceded by a lead-in and followed by a run-out
# that confirms D. Ratios: AB/XA, BC/AB, CD/BC, AD/XA.
GARTLEY = [150, 100, 200, 138.2, 176.39, 121.4, 160]  # 0.618, 0.618, 1.44, 0.786
BAT = [150, 100, 200, 150, 180.9, 111.4, 150]  # 0.5, 0.618, 2.25, 0.886
BUTTERFLY = [150, 100, 200, 121.4, 170.0, 73, 110]  # 0.786, 0.618, 2.0, 1.27
CRAB = [150, 100, 200, 150, 194.3, 38.2, 60]  # 0.5, 0.886, 3.52, 1.618
ABCD = [100, 200, 150, 180, 130, 170]  # A..D = 200, 150, 180, 130: BC/AB 0.6, CD/BC 1.67, CD/AB 1.0


def _mirror(pivots: Sequence[float]) -> list[float]:
    return [300.0 - p for p in pivots]


def _run(pivots: Sequence[float], **kw: object) -> list[str]:
    return [m.pattern for m in harmonics(*hlc(pivot_path(pivots)), deviation=DEV, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pivots", "pattern", "size"),
    [
        (GARTLEY, "Gartley", 5),
        (BAT, "Bat", 5),
        (BUTTERFLY, "Butterfly", 5),
        (CRAB, "Crab", 5),
        (ABCD, "ABCD", 4),
    ],
)
@pytest.mark.parametrize("bullish", [True, False])
def test_harmonics_when_path_has_textbook_ratios_then_pattern_reported_when_d_confirmed(
    pivots: Sequence[float], pattern: str, size: int, bullish: bool
) -> None:
    prices = pivots if bullish else _mirror(pivots)
    path = pivot_path(prices)
    matches = harmonics(*hlc(path), deviation=DEV)
    assert [m.pattern for m in matches] == [pattern]
    match = matches[0]
    d_bar = (len(prices) - 2) * BARS_PER_LEG
    assert match.reported_at == first_reversal_bar(path, d_bar, DEV)
    assert match.points[-1].index == d_bar
    assert [p.price for p in match.points] == pytest.approx(prices[-1 - size : -1])
    assert match.direction == ("bullish" if bullish else "bearish")
    assert match.score == pytest.approx(1.0, abs=1e-9)
    assert all(r.low - 1e-9 <= r.value <= r.high + 1e-9 for r in match.ratios)


def test_harmonics_when_d_within_tolerance_of_ideal_then_matches_with_lower_score() -> None:
    near = [150, 100, 200, 138.2, 176.39, 200 - 78.6 * 1.04, 160]  # AD/XA 4 % past 0.786
    matches = harmonics(*hlc(pivot_path(near)), deviation=DEV, tolerance=0.05)
    assert [m.pattern for m in matches] == ["Gartley"]
    assert matches[0].ratio("AD/XA").value == pytest.approx(0.786 * 1.04)
    assert matches[0].ratio("AD/XA").score == pytest.approx(0.2)
    assert matches[0].score == pytest.approx((1 + 1 + 1 + 0.2) / 4)


@pytest.mark.parametrize(
    "pivots",
    [
        [150, 100, 200, 138.2, 176.39, 200 - 78.6 * 1.06, 160],  # AD/XA 6 % past 0.786
        [150, 100, 200, 134.0, 176.39, 121.4, 160],  # AB/XA 0.66, 6.8 % past 0.618
        [150, 100, 200, 138.2, 162.0, 121.4, 160],  # BC/AB 0.385 ok, CD/BC 1.706 > 1.618 * 1.05
    ],
)
def test_harmonics_when_a_ratio_is_out_of_tolerance_then_no_gartley(pivots: Sequence[float]) -> None:
    assert "Gartley" not in _run(pivots)
    assert "Gartley" in _run(pivots, tolerance=0.2)


def test_harmonics_when_patterns_restricted_then_others_are_not_reported() -> None:
    assert _run(GARTLEY, patterns=["Bat", "ABCD"]) == []


def test_harmonic_detector_when_fed_swings_then_equals_batch_and_last_window_match() -> None:
    bars = hlc(pivot_path(GARTLEY + BAT[1:]))
    swings = zigzag(*bars, deviation=DEV)
    detector = HarmonicDetector()
    streamed = stream_bars(bars, detector.on_swing, deviation=DEV)
    assert streamed == find_harmonics(swings)
    assert {m.pattern for m in streamed} >= {"Gartley", "Bat"}
    gartley_d = next(i for i, s in enumerate(swings) if s.index == 5 * BARS_PER_LEG)
    assert match_harmonics(swings[: gartley_d + 1]) == [
        m for m in streamed if m.points[-1] == swings[gartley_d]
    ]


def test_harmonics_when_bad_arguments_then_error_names_them() -> None:
    bars = hlc(pivot_path(GARTLEY))
    with pytest.raises(IndicatorError, match="tolerance must be a fraction"):
        harmonics(*bars, deviation=DEV, tolerance=5)
    with pytest.raises(IndicatorError, match="unknown harmonic pattern 'Shark'"):
        HarmonicDetector(patterns=["Shark"])
    twin_lows = [Swing("low", 1, 100.0, 3), Swing("low", 5, 90.0, 7)]
    with pytest.raises(IndicatorError, match="alternate"):
        find_harmonics(twin_lows)
    detector = HarmonicDetector()
    detector.on_swing(Swing("high", 9, 120.0, 12))
    with pytest.raises(IndicatorError, match="bar order"):
        detector.on_swing(Swing("low", 4, 100.0, 13))
    with pytest.raises(KeyError, match="no ratio 'XD'"):
        harmonics(*bars, deviation=DEV)[0].ratio("XD")


def test_harmonics_when_real_candles_then_no_look_ahead_and_forms_agree(shared_data: Path) -> None:
    frame = load_candles(shared_data)
    high, low, close = (frame[k].to_numpy() for k in ("high", "low", "close"))
    full = harmonics(high, low, close, tolerance=0.1, deviation=0.005)
    assert len({m.pattern for m in full}) >= 3
    assert full == stream_bars((high, low, close), HarmonicDetector(0.1).on_swing, deviation=0.005)
    for m in full:
        assert m.reported_at == m.points[-1].confirmed_at
        assert all(p.index < p.confirmed_at <= m.reported_at for p in m.points)
    for k in (300, 1500, 2718, 4000, 5000, len(frame) - 1):
        prefix = harmonics(high[:k], low[:k], close[:k], tolerance=0.1, deviation=0.005)
        assert prefix == [m for m in full if m.reported_at < k], k
