"""Trend indicators (ADX, ADXR, +DI, -DI, AROON, AROONOSC): both forms against TA-Lib on real candles,
bit for bit; Aroon ties; bad input; look-ahead."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from talib import abstract as _abstract

from bot4.indicators import trend
from bot4.indicators.base import FloatArray, Indicator, IndicatorError, get, stream

#: ``talib.abstract`` builds its ``Function`` at run time; its stubs do not declare it.
abstract: Any = _abstract

#: (file under shared data, rows): tiny BTC-pair prices, sparse/gappy series, large BTC prices.
DATASETS: tuple[tuple[str, int], ...] = (
    ("ohlcv/BITTREX_DASH_BTC_1m.csv", 3000),  # sparse
    ("ohlcv/BITTREX_POWR_BTC_1m.csv", 3000),  # sparsest 1m Bittrex pair
    ("ohlcv/BITTREX_ADA_BTC_5m.csv", 6000),  # whole file, with the 170-minute hole
    ("ohlcv/BINANCE_XRP_ETH_1m.csv", 2500),  # trade-built, gappy
    ("nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", 3000),  # ~46k USD, other header
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


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def make(name: str, **params: Any) -> Indicator:
    """A streaming instance of a registered indicator."""
    cls: Any = get(name).streaming
    ind: Indicator = cls(**params)
    return ind


@cache
def _candles(path: Path, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(path, nrows=rows)
    return frame[["open", "high", "low", "close", "volume"]].astype(np.float64)


def inputs(name: str, frame: pd.DataFrame) -> list[FloatArray]:
    return [frame[f].to_numpy() for f in get(name).streaming.inputs]


def outputs(name: str, result: Any) -> dict[str, FloatArray]:
    values = result if isinstance(result, tuple) else (result,)
    if isinstance(result, dict):
        return result
    return dict(zip(get(name).streaming.outputs, values, strict=True))


def assert_bit_identical(actual: FloatArray, expected: FloatArray, what: str) -> None:
    nan_diff = np.flatnonzero(np.isnan(actual) != np.isnan(expected))
    assert nan_diff.size == 0, f"{what}: NaN placement differs at bars {nan_diff[:5]}"
    diff = np.flatnonzero(~np.isnan(expected) & (actual != expected))
    assert diff.size == 0, (
        f"{what}: {diff.size} bars differ, first {diff[0]}: {actual[diff[0]]!r} vs {expected[diff[0]]!r}"
    )


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_both_forms_when_run_on_real_candles_then_equal_talib_bit_for_bit(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = _candles(shared_data / dataset[0], dataset[1])
    expected = outputs(name, getattr(talib, name)(*inputs(name, frame), **params))
    vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    streamed = outputs(name, stream(name, frame, **params))
    for out, ref in expected.items():
        assert_bit_identical(vec[out], ref, f"{name}{params} vectorized {out}")
        assert_bit_identical(streamed[out], ref, f"{name}{params} streaming {out}")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
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


@pytest.mark.parametrize("case", CASES, ids=_case_id)
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


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = _candles(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 800)
    cut = 500
    full_vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    part_vec = outputs(name, get(name).vectorized(*inputs(name, frame.iloc[:cut]), **params))
    full_stream = outputs(name, stream(name, frame, **params))
    part_stream = outputs(name, stream(name, frame.iloc[:cut], **params))
    for out in full_vec:
        np.testing.assert_array_equal(part_vec[out], full_vec[out][:cut])
        np.testing.assert_array_equal(part_stream[out], full_stream[out][:cut])
