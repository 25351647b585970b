"""Ratio bands: closeness scoring, tolerance edges, and the retracement/extension side of 1."""

from __future__ import annotations

import math

import pytest

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns.ratios import RatioRule, check_tolerance, closeness, leg_ratio, measure, within


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, 1.0),  # inside the band
        (0.382, 1.0),  # on its edge
        (0.382 * 0.975, 0.5),  # half-way through the 5 % slack below
        (0.618 * 1.025, 0.5),  # half-way through the slack above
        (0.382 * 0.94, -1.0),  # past the slack
    ],
)
def test_closeness_when_value_moves_away_from_band_then_falls_linearly_to_zero(
    value: float, expected: float
) -> None:
    assert closeness(value, 0.382, 0.618, 0.05) == pytest.approx(expected)


def test_closeness_when_tolerance_would_cross_one_then_retracement_and_extension_stay_apart() -> None:
    assert closeness(0.99, 0.886, 0.886, 0.5) > 0.0
    assert closeness(1.0, 0.886, 0.886, 0.5) == -1.0
    assert closeness(1.0, 1.13, 1.618, 0.5) == -1.0
    assert closeness(1.0, 1.0, 1.0, 0.0) == 1.0


def test_measure_when_outside_band_then_score_clamped_and_within_false() -> None:
    rule = RatioRule("AD/XA", 0.786, 0.786)
    ratio = measure(rule, 0.9, 0.05)
    assert (ratio.name, ratio.value, ratio.low, ratio.high, ratio.score) == ("AD/XA", 0.9, 0.786, 0.786, 0.0)
    assert not within(rule, 0.9, 0.05)
    assert within(rule, 0.8, 0.05)


def test_leg_ratio_when_denominator_leg_is_flat_then_infinite() -> None:
    assert leg_ratio(-3.0, 2.0) == 1.5
    assert leg_ratio(1.0, 0.0) == math.inf


@pytest.mark.parametrize("bad", [-0.01, 1.0, 5, math.nan, True, "0.05"])
def test_check_tolerance_when_not_a_fraction_then_error_names_value(bad: object) -> None:
    with pytest.raises(IndicatorError, match="tolerance must be"):
        check_tolerance(bad)  # type: ignore[arg-type]
