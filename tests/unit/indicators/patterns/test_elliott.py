"""Elliott candidates: the three impulse rules, zigzag A-B-C guidelines, and no look-ahead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns import ElliottDetector, elliott, find_elliott, zigzag
from bot4.indicators.patterns.elliott import (
    B_BEYOND_A_START,
    C_SHORT_OF_A_END,
    WAVE2_BEYOND_WAVE1_START,
    WAVE3_SHORTEST,
    WAVE4_IN_WAVE1_TERRITORY,
    ElliottMatch,
    corrective_violations,
    impulse_violations,
    match_elliott,
)

from .paths import BARS_PER_LEG, first_reversal_bar, hlc, load_candles, pivot_path, stream_bars

DEV = 0.05
# Lead-in 130, then waves 0..5 = 100, 150, 120, 200, 170, 220, then a drop that confirms 5.
# W2/W1 0.6, W3/W1 1.6, W4/W3 0.375, W5/W1 1.0.
IMPULSE = [130, 100, 150, 120, 200, 170, 220, 180]
# Lead-in 170, then 0, A, B, C = 200, 150, 180, 130 (B/A 0.6, C/A 1.0), then a rise that confirms C.
ZIGZAG_ABC = [170, 200, 150, 180, 130, 160]


def _found(pivots: Sequence[float], kind: str) -> list[ElliottMatch]:
    return [m for m in elliott(*hlc(pivot_path(pivots)), deviation=DEV) if m.kind == kind]


@pytest.mark.parametrize("up", [True, False])
def test_elliott_when_path_obeys_the_three_rules_then_impulse_reported_when_wave5_confirmed(up: bool) -> None:
    prices = IMPULSE if up else [300.0 - p for p in IMPULSE]
    path = pivot_path(prices)
    (impulse,) = _found(prices, "impulse")
    assert [p.price for p in impulse.points] == pytest.approx(prices[1:7])
    assert impulse.trend == ("up" if up else "down")
    assert impulse.reported_at == first_reversal_bar(path, 6 * BARS_PER_LEG, DEV)
    values = {r.name: r.value for r in impulse.ratios}
    assert values == pytest.approx({"W2/W1": 0.6, "W3/W1": 1.6, "W4/W3": 0.375, "W5/W1": 1.0})
    # Only W3/W1 (1.6 vs 1.618-2.618) misses its band: closeness 1 - 0.018 / (1.618 * 0.2).
    assert impulse.score == pytest.approx((3 + 1 - 0.018 / (1.618 * 0.2)) / 4)


@pytest.mark.parametrize(
    ("pivots", "broken"),
    [
        ([130, 100, 150, 95, 200, 170, 220, 180], WAVE2_BEYOND_WAVE1_START),  # 2 below 0
        ([130, 100, 150, 130, 170, 155, 215, 180], WAVE3_SHORTEST),  # waves 50, 40, 60
        ([130, 100, 150, 120, 200, 145, 220, 180], WAVE4_IN_WAVE1_TERRITORY),  # 4 below 1
    ],
)
def test_elliott_when_one_rule_is_broken_then_no_impulse(pivots: Sequence[float], broken: str) -> None:
    assert impulse_violations(pivots[1:7]) == (broken,)
    assert _found(pivots, "impulse") == []


def test_impulse_violations_when_wave2_touches_wave1_start_then_allowed_but_wave4_touching_is_not() -> None:
    assert impulse_violations([100, 150, 100, 200, 170, 220]) == ()
    assert impulse_violations([100, 150, 120, 200, 150, 220]) == (WAVE4_IN_WAVE1_TERRITORY,)


def test_elliott_when_zigzag_correction_then_abc_reported_when_c_confirmed() -> None:
    path = pivot_path(ZIGZAG_ABC)
    (abc,) = _found(ZIGZAG_ABC, "corrective")
    assert [p.price for p in abc.points] == pytest.approx(ZIGZAG_ABC[1:5])
    assert abc.trend == "down"
    assert abc.reported_at == first_reversal_bar(path, 4 * BARS_PER_LEG, DEV)
    assert {r.name: r.value for r in abc.ratios} == pytest.approx({"B/A": 0.6, "C/A": 1.0})
    assert abc.score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("pivots", "broken"),
    [
        ([170, 200, 150, 205, 130, 160], (B_BEYOND_A_START,)),
        ([170, 200, 150, 180, 155, 190], (C_SHORT_OF_A_END,)),
        ([170, 200, 150, 199, 140, 170], ()),  # B/A 0.98: beyond 0.786 * 1.2
    ],
)
def test_elliott_when_correction_breaks_a_rule_or_guideline_then_no_abc(
    pivots: Sequence[float], broken: tuple[str, ...]
) -> None:
    assert corrective_violations(pivots[1:5]) == broken
    assert _found(pivots, "corrective") == []


def test_elliott_detector_when_fed_swings_then_equals_batch_and_last_window_match() -> None:
    bars = hlc(pivot_path(IMPULSE + ZIGZAG_ABC[2:]))
    swings = zigzag(*bars, deviation=DEV)
    streamed = stream_bars(bars, ElliottDetector().on_swing, deviation=DEV)
    assert streamed == find_elliott(swings)
    assert {m.kind for m in streamed} == {"impulse", "corrective"}
    fifth = next(i for i, s in enumerate(swings) if s.index == 6 * BARS_PER_LEG)
    assert match_elliott(swings[: fifth + 1]) == [m for m in streamed if m.points[-1] == swings[fifth]]


def test_elliott_when_bad_arguments_then_error_names_them() -> None:
    with pytest.raises(IndicatorError, match="an impulse needs 6 points, got 5"):
        impulse_violations([1, 2, 3, 4, 5])
    with pytest.raises(IndicatorError, match="A-B-C correction needs 4 points"):
        corrective_violations([1, 2, 3])
    with pytest.raises(IndicatorError, match="tolerance must be a fraction"):
        ElliottDetector(tolerance=-0.1)
    with pytest.raises(IndicatorError, match="deviation"):
        elliott([1.0, 2.0], [1.0, 2.0], [1.0, 2.0])


def test_elliott_when_real_candles_then_no_look_ahead_and_forms_agree(shared_data: Path) -> None:
    frame = load_candles(shared_data)
    high, low, close = (frame[k].to_numpy() for k in ("high", "low", "close"))
    full = elliott(high, low, close, deviation=0.01)
    assert {m.kind for m in full} == {"impulse", "corrective"}
    assert full == stream_bars((high, low, close), ElliottDetector().on_swing, deviation=0.01)
    for m in full:
        assert m.reported_at == m.points[-1].confirmed_at
        assert all(p.index < p.confirmed_at <= m.reported_at for p in m.points)
        if m.kind == "impulse":
            assert impulse_violations(m.points) == ()
    for k in (250, 1800, 3100, 4500, len(frame) - 1):
        prefix = elliott(high[:k], low[:k], close[:k], deviation=0.01)
        assert prefix == [m for m in full if m.reported_at < k], k
