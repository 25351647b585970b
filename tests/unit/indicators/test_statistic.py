"""LINEARREG and LINEARREG_SLOPE against TA-Lib on real candles (the slope bit for bit); hand-made
lines; bad input; look-ahead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib

from bot4.indicators import statistic
from bot4.indicators.base import IndicatorError, get, stream

from .harness import DATASETS, abstract, assert_bit_identical, assert_close, case_id, load_ohlcv, make

CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("LINEARREG", {}),
    ("LINEARREG", {"timeperiod": 2}),
    ("LINEARREG", {"timeperiod": 50}),
    ("LINEARREG_SLOPE", {}),
    ("LINEARREG_SLOPE", {"timeperiod": 2}),
    ("LINEARREG_SLOPE", {"timeperiod": 50}),
)
NAMES = ("LINEARREG", "LINEARREG_SLOPE")


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_both_forms_when_run_on_real_candles_then_match_talib(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    expected = getattr(talib, name)(frame["close"].to_numpy(), **params)
    streamed = np.asarray(stream(name, frame, **params))
    assert_bit_identical(get(name).vectorized(frame["close"].to_numpy(), **params), expected, name)
    if name == "LINEARREG_SLOPE":
        assert_bit_identical(streamed, expected, f"{name} streaming")
    else:
        # TA-Lib's binary fuses b + m * (n - 1) into one FMA; Python rounds twice: last-bit differences.
        assert_close(streamed, expected, float(np.median(frame["close"])), f"{name} streaming")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_lookback_when_constructed_then_equals_talib_lookback(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    assert make(name, **params).lookback == abstract.Function(name, **params).lookback


def test_streaming_when_run_past_the_refresh_interval_then_slope_still_bit_identical() -> None:
    # TA-Lib rebuilds its sliding sums every 32 * n outputs; 5000 values at n=5 cross that 31 times.
    rng = np.random.default_rng(3)
    closes = 40000.0 + np.cumsum(rng.normal(0, 25, 5000)).round(1)
    slope = statistic.LINEARREG_SLOPE(timeperiod=5)
    got = np.array([slope.update(x) for x in closes.tolist()])
    assert_bit_identical(got, talib.LINEARREG_SLOPE(closes, timeperiod=5), "slope after refreshes")


def test_linearreg_when_points_lie_on_a_line_then_value_is_the_line_end_and_slope_its_step() -> None:
    line = [3.0 + 0.5 * i for i in range(6)]
    reg, slope = statistic.LINEARREG(timeperiod=4), statistic.LINEARREG_SLOPE(timeperiod=4)
    values = [(reg.update(x), slope.update(x)) for x in line]
    assert np.isnan(values[2][0]) and np.isnan(values[2][1])
    assert values[3][0] == pytest.approx(4.5, rel=1e-15)
    assert values[3][1] == pytest.approx(0.5, rel=1e-15)
    assert values[5][0] == pytest.approx(5.5, rel=1e-15)
    assert values[5][1] == pytest.approx(0.5, rel=1e-15)


def test_linearreg_when_hand_computed_on_noisy_points_then_matches_least_squares() -> None:
    ys = [1.0, 3.0, 2.0, 5.0]
    # Least squares over x = 0..3: slope = sum((x - 1.5)(y - 2.75)) / sum((x - 1.5)^2) = 5.5 / 5.
    reg, slope = statistic.LINEARREG(timeperiod=4), statistic.LINEARREG_SLOPE(timeperiod=4)
    for y in ys:
        last = (reg.update(y), slope.update(y))
    assert last[1] == pytest.approx(1.1, rel=1e-14)
    assert last[0] == pytest.approx(2.75 + 1.1 * 1.5, rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_vectorized_when_an_input_is_not_finite_then_error_names_index(name: str, bad: float) -> None:
    closes = np.linspace(1.0, 2.0, 30)
    closes[12] = bad
    with pytest.raises(IndicatorError, match=r"close\[12\]"):
        get(name).vectorized(closes)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_when_an_input_is_inf_then_error_names_indicator(name: str) -> None:
    with pytest.raises(IndicatorError, match=rf"{name} close input is inf"):
        make(name).update(float("inf"))


@pytest.mark.parametrize("name", NAMES)
def test_period_when_below_two_or_longer_than_data_then_refused(name: str) -> None:
    with pytest.raises(IndicatorError, match="timeperiod must be >= 2, got 1"):
        make(name, timeperiod=1)
    with pytest.raises(IndicatorError, match="timeperiod must be >= 2, got 1"):
        get(name).vectorized(np.ones(10), timeperiod=1)
    with pytest.raises(IndicatorError, match="timeperiod=11 is longer than the data"):
        get(name).vectorized(np.ones(10), timeperiod=11)


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_when_input_is_two_dimensional_then_refused(name: str) -> None:
    with pytest.raises(IndicatorError, match="close must be one-dimensional"):
        get(name).vectorized(np.ones((5, 5)), timeperiod=2)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 2000)
    cut = 1700  # past the first 32 * n refresh for n <= 50
    closes = frame["close"].to_numpy()
    np.testing.assert_array_equal(
        get(name).vectorized(closes[:cut], **params), get(name).vectorized(closes, **params)[:cut]
    )
    np.testing.assert_array_equal(
        stream(name, frame.iloc[:cut], **params), np.asarray(stream(name, frame, **params))[:cut]
    )
