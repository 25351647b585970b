"""LINEARREG and LINEARREG_SLOPE against TA-Lib on real candles (the slope bit for bit); hand-made
lines; bad input; look-ahead."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from talib import abstract as _abstract

from bot4.indicators import statistic
from bot4.indicators.base import FloatArray, Indicator, IndicatorError, get, stream

#: ``talib.abstract`` builds its ``Function`` at run time; its stubs do not declare it.
abstract: Any = _abstract

DATASETS: tuple[tuple[str, int], ...] = (
    ("ohlcv/BITTREX_DASH_BTC_1m.csv", 3000),  # sparse, prices ~0.05 BTC
    ("ohlcv/BITTREX_POWR_BTC_1m.csv", 3000),  # sparsest, prices ~1e-4 BTC
    ("ohlcv/BITTREX_ADA_BTC_5m.csv", 6000),  # whole file, with the 170-minute hole
    ("ohlcv/BINANCE_XRP_ETH_1m.csv", 2500),  # trade-built, gappy
    ("nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", 3000),  # ~46k USD, other header
)


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def make(name: str, **params: Any) -> Indicator:
    """A streaming instance of a registered indicator."""
    cls: Any = get(name).streaming
    ind: Indicator = cls(**params)
    return ind


@cache
def _candles(path: Path, rows: int) -> pd.DataFrame:
    """OHLCV floats plus ``ts`` (bar open, UTC ns) whichever header the file has."""
    frame = pd.read_csv(path, nrows=rows)
    if "timestamp_ms" in frame.columns:
        ts = frame["timestamp_ms"].to_numpy(dtype=np.int64) * 1_000_000
    else:
        ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    out = frame[["open", "high", "low", "close", "volume"]].astype(np.float64)
    out["ts"] = ts
    return out


def inputs(name: str, frame: pd.DataFrame) -> list[Any]:
    return [frame[f].to_numpy() for f in get(name).streaming.inputs]


def outputs(name: str, result: Any) -> dict[str, FloatArray]:
    if isinstance(result, dict):
        return result
    values = result if isinstance(result, tuple) else (result,)
    return dict(zip(get(name).streaming.outputs, values, strict=True))


def assert_bit_identical(actual: FloatArray, expected: FloatArray, what: str) -> None:
    nan_diff = np.flatnonzero(np.isnan(actual) != np.isnan(expected))
    assert nan_diff.size == 0, f"{what}: NaN placement differs at bars {nan_diff[:5]}"
    diff = np.flatnonzero(~np.isnan(expected) & (actual != expected))
    assert diff.size == 0, (
        f"{what}: {diff.size} bars differ, first {diff[0]}: {actual[diff[0]]!r} vs {expected[diff[0]]!r}"
    )


def assert_close(actual: FloatArray, expected: FloatArray, scale: float, what: str) -> None:
    """Same NaN positions; within 1e-9 relative or 1e-9 x ``scale`` absolute (values near zero)."""
    nan_diff = np.flatnonzero(np.isnan(actual) != np.isnan(expected))
    assert nan_diff.size == 0, f"{what}: NaN placement differs at bars {nan_diff[:5]}"
    ok = ~np.isnan(expected)
    err = np.abs(actual[ok] - expected[ok])
    bad = np.flatnonzero(err > 1e-9 * np.maximum(np.abs(expected[ok]), scale))
    assert bad.size == 0, f"{what}: {bad.size} bars off, first {actual[ok][bad[0]]!r} vs {expected[ok][bad[0]]!r}"


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
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_both_forms_when_run_on_real_candles_then_match_talib(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = _candles(shared_data / dataset[0], dataset[1])
    expected = getattr(talib, name)(frame["close"].to_numpy(), **params)
    streamed = np.asarray(stream(name, frame, **params))
    assert_bit_identical(get(name).vectorized(frame["close"].to_numpy(), **params), expected, name)
    if name == "LINEARREG_SLOPE":
        assert_bit_identical(streamed, expected, f"{name} streaming")
    else:
        # TA-Lib's binary fuses b + m * (n - 1) into one FMA; Python rounds twice: last-bit differences.
        assert_close(streamed, expected, float(np.median(frame["close"])), f"{name} streaming")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
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


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = _candles(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 2000)
    cut = 1700  # past the first 32 * n refresh for n <= 50
    closes = frame["close"].to_numpy()
    np.testing.assert_array_equal(
        get(name).vectorized(closes[:cut], **params), get(name).vectorized(closes, **params)[:cut]
    )
    np.testing.assert_array_equal(
        stream(name, frame.iloc[:cut], **params), np.asarray(stream(name, frame, **params))[:cut]
    )
