"""Volatility: TRANGE/ATR/NATR/STDDEV/VAR bit for bit against TA-Lib on real candles; the range-based
estimators (Parkinson, Garman-Klass, Rogers-Satchell, Yang-Zhang) by hand and form against form;
bad input; look-ahead."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from bot4.indicators import volatility
from bot4.indicators.base import FloatArray, IndicatorError, get, stream

from .harness import (
    DATASETS,
    abstract,
    assert_bit_identical,
    assert_close,
    assert_equals_talib_bit_for_bit,
    assert_prefix_unchanged,
    case_id,
    inputs,
    load_ohlcv,
    make,
)

TALIB_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("TRANGE", {}),
    ("ATR", {}),
    ("ATR", {"timeperiod": 1}),
    ("ATR", {"timeperiod": 5}),
    ("NATR", {}),
    ("NATR", {"timeperiod": 1}),
    ("NATR", {"timeperiod": 30}),
    ("STDDEV", {}),
    ("STDDEV", {"timeperiod": 2}),
    ("STDDEV", {"timeperiod": 20, "nbdev": 2.5}),
    ("VAR", {}),
    ("VAR", {"timeperiod": 1}),
    ("VAR", {"timeperiod": 30, "nbdev": 3.0}),
)
TALIB_NAMES = sorted({name for name, _ in TALIB_CASES})
ESTIMATORS = ("PARKINSON", "GARMAN_KLASS", "ROGERS_SATCHELL", "YANG_ZHANG")
EST_CASES: tuple[tuple[str, dict[str, Any]], ...] = tuple(
    (name, params) for name in ESTIMATORS for params in ({}, {"timeperiod": 5, "periods_per_year": 525600.0})
)
MIN_PERIOD = {"ATR": 1, "NATR": 1, "STDDEV": 2, "VAR": 1, **dict.fromkeys(ESTIMATORS, 2)}


# ---------------------------------------------------------------------------------------------------
# TA-Lib ones


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", TALIB_CASES, ids=case_id)
def test_both_forms_when_run_on_real_candles_then_equal_talib_bit_for_bit(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    assert_equals_talib_bit_for_bit(name, params, frame)


@pytest.mark.parametrize("case", TALIB_CASES, ids=case_id)
def test_lookback_when_constructed_then_equals_talib_lookback(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    assert make(name, **params).lookback == abstract.Function(name, **params).lookback


@pytest.mark.parametrize(("scale", "seed"), [(1e-8, 1), (1e-3, 2), (1e4, 3)], ids=["satoshi", "milli", "large"])
@pytest.mark.parametrize("case", TALIB_CASES, ids=case_id)
def test_streaming_when_fed_flat_windows_then_equals_talib_including_reseeds(
    case: tuple[str, dict[str, Any]], scale: float, seed: int
) -> None:
    # Runs of identical prices drive TA-Lib's variance into its re-anchoring ("reseed") path.
    name, params = case
    rng = np.random.default_rng(seed)
    close = scale * (1000 + np.cumsum(rng.choice([-2, 0, 0, 0, 0, 1], size=500)))
    frame = pd.DataFrame({"high": close + scale * (rng.random(500) < 0.5), "low": close, "close": close})
    expected = getattr(talib, name)(*inputs(name, frame), **params)
    assert_bit_identical(np.asarray(stream(name, frame, **params)), expected, f"{name} on flat windows")


def test_stddev_when_values_move_by_satoshis_then_not_zeroed() -> None:
    # TA-Lib 0.8 no longer zeroes variances below 1e-14; neither do we.
    closes = [1e-5, 1e-5 + 1e-8, 1e-5, 1e-5 + 1e-8, 1e-5]
    sd = volatility.STDDEV(timeperiod=5)
    values = [sd.update(x) for x in closes]
    assert values[-1] == pytest.approx(math.sqrt(0.24) * 1e-8, rel=1e-6)
    assert values[-1] == talib.STDDEV(np.array(closes), timeperiod=5)[-1]


def test_natr_when_period_is_one_then_returns_raw_true_range_like_talib() -> None:
    natr = volatility.NATR(timeperiod=1)
    natr.update(10.0, 9.0, 9.5)
    assert natr.update(11.0, 9.5, 10.0) == 1.5


def test_atr_when_hand_computed_then_seed_is_mean_of_first_true_ranges() -> None:
    atr = volatility.ATR(timeperiod=2)
    bars = [(10.0, 9.0, 9.5), (11.0, 9.5, 10.5), (10.5, 10.0, 10.0), (12.0, 10.0, 11.0)]
    out = [atr.update(*b) for b in bars]
    # TR: bar1 = max(1.5, 1.5, 0) = 1.5; bar2 = max(0.5, 0, 0.5) = 0.5; bar3 = max(2, 2, 0) = 2.
    assert math.isnan(out[0]) and math.isnan(out[1])
    assert out[2] == (1.5 + 0.5) / 2
    assert out[3] == (1.0 * 1 + 2.0) / 2


# ---------------------------------------------------------------------------------------------------
# Range-based estimators


BARS = [  # (open, high, low, close), hand-picked
    (100.0, 104.0, 99.0, 103.0),
    (103.0, 105.0, 101.0, 102.0),
    (101.0, 103.0, 100.0, 102.5),
    (102.5, 106.0, 102.0, 105.0),
]


def _estimate(name: str, bars: Sequence[tuple[float, ...]], **params: Any) -> list[float]:
    ind = make(name, **params)
    fields = get(name).streaming.inputs
    idx = {"open": 0, "high": 1, "low": 2, "close": 3}
    return [ind.update(*(b[idx[f]] for f in fields)) for b in bars]


def test_parkinson_when_hand_computed_then_matches_formula() -> None:
    got = _estimate("PARKINSON", BARS, timeperiod=3)
    want = math.sqrt(sum(math.log(h / lo) ** 2 for _, h, lo, _ in BARS[1:]) / (3 * 4 * math.log(2)))
    assert math.isnan(got[1])
    assert got[3] == pytest.approx(want, rel=1e-12)


def test_garman_klass_when_hand_computed_then_matches_formula() -> None:
    got = _estimate("GARMAN_KLASS", BARS, timeperiod=2)
    terms = [0.5 * math.log(h / lo) ** 2 - (2 * math.log(2) - 1) * math.log(c / o) ** 2 for o, h, lo, c in BARS]
    assert got[3] == pytest.approx(math.sqrt((terms[2] + terms[3]) / 2), rel=1e-12)


def test_rogers_satchell_when_hand_computed_then_matches_formula() -> None:
    got = _estimate("ROGERS_SATCHELL", BARS, timeperiod=4)
    terms = [math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o) for o, h, lo, c in BARS]
    assert got[3] == pytest.approx(math.sqrt(sum(terms) / 4), rel=1e-12)


def test_yang_zhang_when_hand_computed_then_matches_formula() -> None:
    n = 3
    got = _estimate("YANG_ZHANG", BARS, timeperiod=n)
    window = range(1, 4)
    overnight = [math.log(BARS[i][0] / BARS[i - 1][3]) for i in window]
    open_close = [math.log(BARS[i][3] / BARS[i][0]) for i in window]
    rs = [math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o) for o, h, lo, c in BARS[1:]]

    def sample_var(xs: list[float]) -> float:
        m = sum(xs) / len(xs)
        return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)

    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    want = math.sqrt(sample_var(overnight) + k * sample_var(open_close) + (1 - k) * sum(rs) / n)
    assert [math.isnan(v) for v in got[:3]] == [True, True, True]
    assert got[3] == pytest.approx(want, rel=1e-9)


def test_estimators_when_annualized_then_scale_by_root_of_periods_per_year() -> None:
    per_bar = _estimate("PARKINSON", BARS, timeperiod=2)[-1]
    yearly = _estimate("PARKINSON", BARS, timeperiod=2, periods_per_year=365.0)[-1]
    assert yearly == pytest.approx(per_bar * math.sqrt(365.0), rel=1e-14)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_when_bars_are_flat_then_exactly_zero_in_both_forms(name: str) -> None:
    # A big bar followed by flat ones: a plain running sum would leave a rounding residue.
    bars = [(1.0, 1.5, 0.7, 1.2)] + [(1.2, 1.2, 1.2, 1.2)] * 10
    got = _estimate(name, bars, timeperiod=3)
    cols = [np.array([b[i] for b in bars]) for i in range(4)]
    fields = get(name).streaming.inputs
    idx = {"open": 0, "high": 1, "low": 2, "close": 3}
    vec = get(name).vectorized(*(cols[idx[f]] for f in fields), timeperiod=3)
    assert got[-1] == 0.0
    assert vec[-1] == 0.0


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", EST_CASES, ids=case_id)
def test_estimators_when_run_on_real_candles_then_streaming_equals_vectorized(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    vec = get(name).vectorized(*inputs(name, frame), **params)
    streamed = np.asarray(stream(name, frame, **params))
    scale = float(np.nanmedian(np.abs(vec)))
    assert np.isnan(vec[: make(name, **params).lookback]).all()
    assert_close(streamed, vec, scale, f"{name}{params}")


# ---------------------------------------------------------------------------------------------------
# Bad input


ALL_NAMES = (*TALIB_NAMES, *ESTIMATORS)


def _arrays(name: str, n: int = 60) -> list[FloatArray]:
    rng = np.random.default_rng(0)
    close = 10.0 + np.cumsum(rng.normal(0, 0.1, n))
    frame = pd.DataFrame({"open": close, "high": close + 0.2, "low": close - 0.2, "close": close})
    return inputs(name, frame)


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_vectorized_when_an_input_is_not_finite_then_error_names_field_and_index(name: str, bad: float) -> None:
    arrays = _arrays(name)
    arrays[0] = arrays[0].copy()
    arrays[0][9] = bad
    with pytest.raises(IndicatorError, match=rf"{get(name).streaming.inputs[0]}\[9\]"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_streaming_when_an_input_is_nan_then_error_names_indicator_and_field(name: str) -> None:
    ind = make(name)
    fields = get(name).streaming.inputs
    with pytest.raises(IndicatorError, match=rf"{name} {fields[-1]} input is nan"):
        ind.update(*([1.0] * (len(fields) - 1)), float("nan"))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_when_a_price_is_not_positive_then_refused_in_both_forms(name: str) -> None:
    arrays = _arrays(name)
    arrays[-1] = arrays[-1].copy()
    arrays[-1][4] = 0.0
    field = get(name).streaming.inputs[-1]
    with pytest.raises(IndicatorError, match=rf"{field}\[4\] is 0\.0; prices must be > 0"):
        get(name).vectorized(*arrays)
    with pytest.raises(IndicatorError, match=rf"{name} {field} input is -1\.0; prices must be > 0"):
        make(name).update(*([1.0] * (len(arrays) - 1)), -1.0)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n != "TRANGE"])
def test_period_when_below_minimum_then_refused_in_both_forms(name: str) -> None:
    low = MIN_PERIOD[name] - 1
    with pytest.raises(IndicatorError, match=rf"timeperiod must be >= {MIN_PERIOD[name]}, got {low}"):
        make(name, timeperiod=low)
    with pytest.raises(IndicatorError, match="timeperiod must be >="):
        get(name).vectorized(*_arrays(name), timeperiod=low)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n != "TRANGE"])
def test_vectorized_when_period_longer_than_data_then_refused(name: str) -> None:
    with pytest.raises(IndicatorError, match="timeperiod=61 is longer than the data"):
        get(name).vectorized(*_arrays(name), timeperiod=61)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if len(get(n).streaming.inputs) > 1])
def test_vectorized_when_inputs_differ_in_length_then_refused(name: str) -> None:
    arrays = _arrays(name)
    arrays[1] = arrays[1][:-2]
    with pytest.raises(IndicatorError, match="has 58 values, expected 60"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, "2"])
def test_estimators_when_periods_per_year_is_bad_then_refused(value: Any) -> None:
    with pytest.raises(IndicatorError, match="periods_per_year must be a positive finite number"):
        volatility.PARKINSON(periods_per_year=value)


# ---------------------------------------------------------------------------------------------------
# No look-ahead


@pytest.mark.parametrize("case", TALIB_CASES + EST_CASES, ids=case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 800)
    cut = 450
    assert_prefix_unchanged(name, params, frame, cut)


@pytest.mark.parametrize("name", ("PARKINSON", "GARMAN_KLASS", "ROGERS_SATCHELL"))
def test_estimators_when_flat_runs_are_shorter_or_longer_than_the_window_then_only_all_flat_windows_are_zero(
    name: str,
) -> None:
    # With timeperiod 3: a flat run of 2 bars leaves every window with a moving bar (never 0); runs of
    # 3 and 5 bars make the windows ending on their 3rd.. bars all flat (exactly 0 in both forms). The
    # two moving bars before each run leave a positive rounding residue in a plain running sum.
    b1, b2 = (102.9, 108.2, 102.3, 102.4), (102.8, 105.2, 97.3, 102.0)
    flat = (103.0, 103.0, 103.0, 103.0)
    bars = [b1, b2, *[flat] * 2, b1, b2, *[flat] * 3, b1, b2, *[flat] * 5, b1]
    want_zero = [8, 13, 14, 15]
    got = np.array(_estimate(name, bars, timeperiod=3))
    cols = [np.array([b[i] for b in bars]) for i in range(4)]
    idx = {"open": 0, "high": 1, "low": 2, "close": 3}
    vec = get(name).vectorized(*(cols[idx[f]] for f in get(name).streaming.inputs), timeperiod=3)
    assert np.flatnonzero(got == 0.0).tolist() == want_zero
    assert np.flatnonzero(vec == 0.0).tolist() == want_zero
    np.testing.assert_allclose(vec[2:], got[2:], rtol=1e-12)
