"""Trend indicators (ADX, ADXR, +DI, -DI, AROON, AROONOSC): both forms against TA-Lib on real candles,
bit for bit; Aroon ties; bad input; look-ahead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from bot4.indicators import trend
from bot4.indicators.base import FloatArray, IndicatorError, get, stream

from .harness import (
    DATASETS,
    abstract,
    assert_bit_identical,
    assert_equals_talib_bit_for_bit,
    assert_prefix_unchanged,
    case_id,
    inputs,
    load_ohlcv,
    make,
    outputs,
)

CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ADX", {}),
    ("ADX", {"timeperiod": 2}),
    ("ADX", {"timeperiod": 30}),
    ("ADXR", {}),
    ("ADXR", {"timeperiod": 2}),
    ("ADXR", {"timeperiod": 9}),
    ("PLUS_DI", {}),
    ("PLUS_DI", {"timeperiod": 1}),
    ("PLUS_DI", {"timeperiod": 5}),
    ("MINUS_DI", {}),
    ("MINUS_DI", {"timeperiod": 1}),
    ("MINUS_DI", {"timeperiod": 5}),
    ("AROON", {}),
    ("AROON", {"timeperiod": 2}),
    ("AROON", {"timeperiod": 25}),
    ("AROONOSC", {}),
    ("AROONOSC", {"timeperiod": 2}),
    ("AROONOSC", {"timeperiod": 25}),
)
NAMES = sorted({name for name, _ in CASES})
MIN_PERIOD = {"ADX": 2, "ADXR": 2, "PLUS_DI": 1, "MINUS_DI": 1, "AROON": 2, "AROONOSC": 2}


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_both_forms_when_run_on_real_candles_then_equal_talib_bit_for_bit(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    assert_equals_talib_bit_for_bit(name, params, frame)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_lookback_when_constructed_then_equals_talib_lookback(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    assert make(name, **params).lookback == abstract.Function(name, **params).lookback


def _flat_and_tied(n: int = 300) -> pd.DataFrame:
    """Repeated highs and lows (Aroon ties), flat bars (zero true range) and satoshi-sized prices."""
    rng = np.random.default_rng(5)
    close = 1e-8 * (500 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], size=n)))
    flat = rng.random(n) < 0.4
    high = close + np.where(flat, 0.0, 1e-8 * rng.integers(0, 2, size=n))
    low = close - np.where(flat, 0.0, 1e-8 * rng.integers(0, 2, size=n))
    return pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": 1.0})


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_streaming_when_fed_ties_and_flat_bars_then_equals_talib(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    frame = _flat_and_tied()
    expected = outputs(name, getattr(talib, name)(*inputs(name, frame), **params))
    streamed = outputs(name, stream(name, frame, **params))
    for out, ref in expected.items():
        assert_bit_identical(streamed[out], ref, f"{name}{params} streaming {out} on ties")


def test_aroon_when_two_equal_highs_in_window_then_the_latest_one_counts() -> None:
    aroon = trend.AROON(timeperiod=4)
    bars = [(5.0, 1.0), (9.0, 1.0), (7.0, 1.0), (9.0, 1.0), (6.0, 1.0), (6.0, 1.0)]
    for high, low in bars:
        aroon.update(high, low)
    # Window = last 5 bars; the 9.0 highs sit 4 and 2 bars back -> the later one (2 back) wins.
    assert aroon.values()["aroonup"] == 100.0 / 4 * (4 - 2)
    # Equal lows everywhere -> the newest bar is the lowest: aroondown = 100.
    assert aroon.values()["aroondown"] == 100.0


def test_plus_di_when_period_is_one_then_keeps_talibs_unscaled_ratio() -> None:
    di = trend.PLUS_DI(timeperiod=1)
    di.update(10.0, 9.0, 9.5)
    # +DM = 11 - 10 = 1, TR = max(11 - 9.5, |11 - 9.5|, |9.5 - 9.5|) = 1.5 -> 1 / 1.5, not x100.
    assert di.update(11.0, 9.5, 10.0) == pytest.approx(1.0 / 1.5, rel=1e-15)


# ---------------------------------------------------------------------------------------------------
# Bad input


def _arrays(name: str, n: int = 60) -> list[FloatArray]:
    frame = _flat_and_tied(n)
    return inputs(name, frame)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_vectorized_when_an_input_is_not_finite_then_error_names_field_and_index(name: str, bad: float) -> None:
    arrays = _arrays(name)
    arrays[-1] = arrays[-1].copy()
    arrays[-1][17] = bad
    field = get(name).streaming.inputs[-1]
    with pytest.raises(IndicatorError, match=rf"{field}\[17\]"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_when_an_input_is_nan_then_error_names_the_field(name: str) -> None:
    ind = make(name)
    fields = get(name).streaming.inputs
    ind.update(*([1.0] * len(fields)))
    with pytest.raises(IndicatorError, match=rf"{name} {fields[-1]} input is nan"):
        ind.update(*([1.0] * (len(fields) - 1)), float("nan"))


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_when_inputs_differ_in_length_then_error_names_the_short_one(name: str) -> None:
    arrays = _arrays(name)
    arrays[1] = arrays[1][:-1]
    field = get(name).streaming.inputs[1]
    with pytest.raises(IndicatorError, match=rf"{field} has 59 values, expected 60"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("name", NAMES)
def test_period_when_below_talib_minimum_then_refused_in_both_forms(name: str) -> None:
    low = MIN_PERIOD[name] - 1
    with pytest.raises(IndicatorError, match=rf"timeperiod must be >= {MIN_PERIOD[name]}, got {low}"):
        make(name, timeperiod=low)
    with pytest.raises(IndicatorError, match="timeperiod must be >="):
        get(name).vectorized(*_arrays(name), timeperiod=low)


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_when_period_longer_than_data_then_refused(name: str) -> None:
    with pytest.raises(IndicatorError, match="timeperiod=61 is longer than the data"):
        get(name).vectorized(*_arrays(name), timeperiod=61)


@pytest.mark.parametrize("name", NAMES)
def test_period_when_not_an_integer_then_refused(name: str) -> None:
    with pytest.raises(IndicatorError, match=r"timeperiod must be an integer, got 14\.0"):
        make(name, timeperiod=14.0)


# ---------------------------------------------------------------------------------------------------
# No look-ahead


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 800)
    cut = 500
    assert_prefix_unchanged(name, params, frame, cut)
