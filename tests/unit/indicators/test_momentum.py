"""Momentum indicators: both forms against TA-Lib on real and synthetic candles; bad input; look-ahead."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from talib import abstract as _abstract

from bot4.indicators import momentum
from bot4.indicators.base import FloatArray, Indicator, IndicatorError, get, stream

#: (file under shared data, rows to use): tiny BTC-pair prices, sparse/gappy series, large BTC prices.
DATASETS: tuple[tuple[str, int], ...] = (
    ("ohlcv/BITTREX_DASH_BTC_1m.csv", 5000),  # sparse: ~1.5k gaps
    ("ohlcv/BITTREX_POWR_BTC_1m.csv", 5000),  # sparsest 1m Bittrex pair
    ("ohlcv/BITTREX_ADA_BTC_5m.csv", 6000),  # whole file, including the 170-minute hole
    ("ohlcv/BITTREX_NXT_BTC_5m.csv", 3000),  # prices ~2e-5
    ("ohlcv/BINANCE_XRP_ETH_1m.csv", 3000),  # trade-built, 676 gaps
    ("ohlcv/BINANCE-USDM_BTC_USDT_5m.csv", 3000),
    ("nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", 4000),  # ~46k USD, other header
)

#: (registered name, params) run against TA-Lib: defaults and non-default params for each.
TALIB_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("MACD", {}),
    ("MACD", {"fastperiod": 5, "slowperiod": 35, "signalperiod": 5}),
    ("MACD", {"fastperiod": 26, "slowperiod": 12, "signalperiod": 1}),  # swapped periods, no smoothing
    ("PPO", {}),
    ("PPO", {"fastperiod": 3, "slowperiod": 10, "matype": 0}),
    ("PPO", {"fastperiod": 20, "slowperiod": 5, "matype": 2}),
    ("APO", {}),
    ("APO", {"fastperiod": 3, "slowperiod": 10, "matype": 0}),
    ("APO", {"fastperiod": 9, "slowperiod": 4, "matype": 3}),
    ("MOM", {}),
    ("MOM", {"timeperiod": 1}),
    ("ROC", {}),
    ("ROC", {"timeperiod": 3}),
    ("RSI", {}),
    ("RSI", {"timeperiod": 2}),
    ("RSI", {"timeperiod": 50}),
    ("CMO", {}),
    ("CMO", {"timeperiod": 3}),
    ("STOCH", {}),
    ("STOCH", {"fastk_period": 14, "slowk_period": 1, "slowk_matype": 1, "slowd_period": 5, "slowd_matype": 1}),
    ("STOCH", {"fastk_period": 1, "slowk_period": 4, "slowk_matype": 4, "slowd_period": 2, "slowd_matype": 6}),
    ("STOCHF", {}),
    ("STOCHF", {"fastk_period": 14, "fastd_period": 5, "fastd_matype": 1}),
    ("STOCHF", {"fastk_period": 3, "fastd_period": 1}),
    ("STOCHRSI", {}),
    ("STOCHRSI", {"timeperiod": 9, "fastk_period": 9, "fastd_period": 4, "fastd_matype": 1}),
    ("WILLR", {}),
    ("WILLR", {"timeperiod": 3}),
    ("CCI", {}),
    ("CCI", {"timeperiod": 40}),
    ("MFI", {}),
    ("MFI", {"timeperiod": 3}),
    ("ULTOSC", {}),
    ("ULTOSC", {"timeperiod1": 28, "timeperiod2": 3, "timeperiod3": 10}),
    ("ULTOSC", {"timeperiod1": 1, "timeperiod2": 1, "timeperiod3": 1}),
    ("TRIX", {}),
    ("TRIX", {"timeperiod": 1}),
    ("TRIX", {"timeperiod": 5}),
    ("BOP", {}),
)

NAMES = sorted({name for name, _ in TALIB_CASES})

#: ``talib.abstract`` builds its ``Function`` at run time; its stubs do not declare it.
abstract: Any = _abstract


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, params = case
    return name + "".join(f"-{k}={v}" for k, v in params.items())


@cache
def _candles(path: Path, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(path, nrows=rows)
    return frame[["open", "high", "low", "close", "volume"]].astype(np.float64)


def candles(shared_data: Path, name: str, rows: int) -> pd.DataFrame:
    return _candles(shared_data / name, rows)


def talib_outputs(name: str, frame: pd.DataFrame, params: dict[str, Any]) -> dict[str, FloatArray]:
    cls = get(name).streaming
    result = getattr(talib, name)(*(frame[f].to_numpy() for f in cls.inputs), **params)
    values = result if isinstance(result, tuple) else (result,)
    return dict(zip(cls.outputs, values, strict=True))


def as_dict(name: str, result: Any) -> dict[str, FloatArray]:
    """Key any form's result by output name (vectorized multi-output results are tuples, as TA-Lib's)."""
    if isinstance(result, dict):
        return result
    outputs = get(name).streaming.outputs
    values = result if isinstance(result, tuple) else (result,)
    return dict(zip(outputs, values, strict=True))


def vectorized(name: str, frame: pd.DataFrame, params: dict[str, Any]) -> dict[str, FloatArray]:
    spec = get(name)
    return as_dict(name, spec.vectorized(*(frame[f].to_numpy() for f in spec.streaming.inputs), **params))


def assert_matches(actual: FloatArray, expected: FloatArray, what: str) -> None:
    """Same NaN positions; elsewhere within 1e-9 relative, or 1e-9 x the typical |value| near zero."""
    actual = np.asarray(actual, dtype=np.float64)
    nan_diff = np.flatnonzero(np.isnan(actual) != np.isnan(expected))
    assert nan_diff.size == 0, f"{what}: NaN placement differs from TA-Lib at bars {nan_diff[:5]}"
    valid = ~np.isnan(expected)
    if not valid.any():
        return
    ref = expected[valid]
    typical = float(np.median(np.abs(ref)))
    err = np.abs(actual[valid] - ref)
    bad = np.flatnonzero(err > 1e-9 * np.maximum(np.abs(ref), typical))
    first = int(bad[0]) if bad.size else -1
    assert bad.size == 0, f"{what}: {bad.size} bars off TA-Lib, first {actual[valid][first]!r} vs {ref[first]!r}"


# ---------------------------------------------------------------------------------------------------
# Agreement with TA-Lib


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", TALIB_CASES, ids=_case_id)
def test_both_forms_when_run_on_real_candles_then_match_talib_after_same_warm_up(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = candles(shared_data, *dataset)
    expected = talib_outputs(name, frame, params)
    vec = vectorized(name, frame, params)
    streamed = as_dict(name, stream(name, frame, **params))
    for out, ref in expected.items():
        assert_matches(vec[out], ref, f"{name}{params} vectorized {out}")
        assert_matches(streamed[out], ref, f"{name}{params} streaming {out}")


def _synthetic(seed: int, scale: float, offset: float, n: int = 400) -> pd.DataFrame:
    """Tick-sized steps with many repeats: flat windows, equal typical prices, zero-volume bars."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1, 0, 0, 0, 1], size=n) * rng.integers(1, 4, size=n)
    close = scale * (offset + np.cumsum(steps)).astype(np.float64)
    flat = rng.random(n) < 0.3
    high = close + np.where(flat, 0, scale * rng.integers(0, 3, size=n))
    low = close - np.where(flat, 0, scale * rng.integers(0, 3, size=n))
    open_ = np.clip(close + scale * rng.integers(-1, 2, size=n), low, high)
    volume = np.where(rng.random(n) < 0.3, 0.0, rng.random(n) * 10)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


@pytest.mark.parametrize(
    ("seed", "scale", "offset"),
    [(1, 1e-8, 100.0), (2, 1e-3, 100.0), (3, 1e4, 100.0), (4, 1.0, 0.0)],
    ids=["satoshi-ticks", "milli", "large", "crossing-zero"],
)
def test_streaming_when_fed_flat_windows_zero_volume_and_zero_prices_then_matches_talib(
    seed: int, scale: float, offset: float
) -> None:
    frame = _synthetic(seed, scale, offset)
    for name, params in TALIB_CASES:
        expected = talib_outputs(name, frame, params)
        streamed = as_dict(name, stream(name, frame, **params))
        for out, ref in expected.items():
            assert_matches(streamed[out], ref, f"{name}{params} streaming {out} on synthetic x{scale}")


@pytest.mark.parametrize("case", TALIB_CASES, ids=_case_id)
def test_lookback_when_constructed_then_equals_talib_lookback(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    ind = get(name).streaming(**params)
    assert ind.lookback == abstract.Function(name, **params).lookback


def test_rsi_when_prices_move_in_tiny_steps_then_it_is_not_zeroed() -> None:
    # TA-Lib 0.8 tests gain + loss exactly: sub-1e-14 moves (satoshi-quoted pairs) still give an RSI.
    closes = np.cumsum(np.full(40, 1e-20))
    rsi = momentum.RSI(timeperiod=14)
    values = [rsi.update(float(x)) for x in closes]
    assert values[-1] == 100.0
    assert values[-1] == talib.RSI(closes, timeperiod=14)[-1]


def test_stoch_when_the_window_is_flat_then_fast_k_is_zero() -> None:
    stochf = momentum.STOCHF(fastk_period=3, fastd_period=1)
    for _ in range(5):
        k = stochf.update(1.0 + 2.0**-52, 1.0, 1.0 + 2.0**-52)  # a range of one ulp is "flat"
    assert k == 0.0


def test_macd_when_fast_period_exceeds_slow_then_periods_are_swapped() -> None:
    closes = (np.linspace(1.0, 2.0, 60) ** 2).tolist()
    swapped, ordered = momentum.MACD(26, 12, 9), momentum.MACD(12, 26, 9)
    np.testing.assert_array_equal([swapped.update(x) for x in closes], [ordered.update(x) for x in closes])
    assert swapped.values() == ordered.values()
    assert swapped.lookback == ordered.lookback == 33


def test_ultosc_when_periods_are_permuted_then_values_are_identical(shared_data: Path) -> None:
    frame = candles(shared_data, "ohlcv/BITTREX_ADA_BTC_5m.csv", 500)
    a = stream("ULTOSC", frame, timeperiod1=7, timeperiod2=14, timeperiod3=28)
    b = stream("ULTOSC", frame, timeperiod1=28, timeperiod2=7, timeperiod3=14)
    np.testing.assert_array_equal(a, b)


def test_stoch_when_smoothing_periods_are_one_then_slow_k_is_fast_k(shared_data: Path) -> None:
    frame = candles(shared_data, "ohlcv/BITTREX_DASH_BTC_1m.csv", 400)
    slow = stream("STOCH", frame, fastk_period=9, slowk_period=1, slowk_matype=1, slowd_period=1)
    fast = stream("STOCHF", frame, fastk_period=9, fastd_period=1)
    assert isinstance(slow, dict) and isinstance(fast, dict)
    np.testing.assert_array_equal(slow["slowk"], fast["fastk"])


def test_rsi_when_constructed_without_arguments_then_uses_period_14() -> None:
    rsi = momentum.RSI()
    assert rsi.timeperiod == 14
    assert rsi.lookback == 14


# ---------------------------------------------------------------------------------------------------
# Streaming state


def test_state_when_warming_up_then_nan_and_not_ready_until_lookback_passes() -> None:
    macd = momentum.MACD(fastperiod=3, slowperiod=5, signalperiod=2)
    closes = [1.0, 2.0, 4.0, 3.0, 5.0, 6.0, 5.5]
    outs = [macd.update(x) for x in closes]
    assert macd.lookback == 5
    assert all(math.isnan(v) for v in outs[:5])
    assert not math.isnan(outs[5])
    assert macd.ready
    assert macd.value == outs[-1]
    assert set(macd.values()) == {"macd", "macdsignal", "macdhist"}
    assert macd.values()["macdhist"] == macd.values()["macd"] - macd.values()["macdsignal"]


def test_state_when_just_created_then_values_are_nan_and_not_ready() -> None:
    stoch = momentum.STOCH()
    assert not stoch.ready
    assert all(math.isnan(v) for v in stoch.values().values())
    assert math.isnan(stoch.value)


def test_update_bar_when_given_an_ohlcv_bar_then_reads_the_declared_fields() -> None:
    bop = momentum.BOP()
    assert bop.update_bar(1.0, 3.0, 0.0, 2.5, 99.0) == (2.5 - 1.0) / 3.0
    mfi = momentum.MFI(timeperiod=2)
    for bar in [(1, 2, 1, 1.5, 10), (1, 3, 1, 2.5, 10), (1, 2, 0, 0.5, 10)]:
        out = mfi.update_bar(*map(float, bar))
    tp = [(2 + 1 + 1.5) / 3, (3 + 1 + 2.5) / 3, (2 + 0 + 0.5) / 3]
    assert out == pytest.approx(100.0 * tp[1] * 10 / (tp[1] * 10 + tp[2] * 10))


# ---------------------------------------------------------------------------------------------------
# Look-ahead


@pytest.mark.parametrize("case", TALIB_CASES, ids=_case_id)
def test_both_forms_when_given_a_prefix_then_prefix_values_equal_full_run(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    full = candles(shared_data, "ohlcv/BITTREX_POWR_BTC_1m.csv", 600)
    prefix = full.iloc[:350]
    for run in (vectorized, lambda n, f, p: as_dict(n, stream(n, f, **p))):
        whole = run(name, full, params)
        part = run(name, prefix, params)
        for out in whole:
            np.testing.assert_array_equal(part[out], whole[out][:350], err_msg=f"{name}{params} {out}")


# ---------------------------------------------------------------------------------------------------
# Bad input


def _good_bar() -> dict[str, float]:
    return {"open": 1.0, "high": 1.5, "low": 0.5, "close": 1.2, "volume": 3.0}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_streaming_when_an_input_is_not_finite_then_raises_naming_the_field(name: str, bad: float) -> None:
    cls = get(name).streaming
    for field in cls.inputs:
        ind: Indicator = cls()
        bar = _good_bar()
        for _ in range(3):
            ind.update(*(bar[f] for f in cls.inputs))
        bar[field] = bad
        with pytest.raises(IndicatorError, match=rf"{name} {field} input is"):
            ind.update(*(bar[f] for f in cls.inputs))


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_when_an_input_has_nan_then_raises_naming_series_and_row(name: str) -> None:
    spec = get(name)
    n = 60
    series = {f: np.linspace(1.0, 2.0, n) for f in spec.streaming.inputs}
    last = spec.streaming.inputs[-1]
    series[last][17] = math.nan
    with pytest.raises(IndicatorError, match=rf"{last}\[17\] is .*nan"):
        spec.vectorized(*series.values())


@pytest.mark.parametrize("name", [n for n in NAMES if len(get(n).streaming.inputs) > 1])
def test_vectorized_when_inputs_differ_in_length_then_raises(name: str) -> None:
    spec = get(name)
    inputs = spec.streaming.inputs
    series = [np.linspace(1.0, 2.0, 60 if i == 0 else 59) for i in range(len(inputs))]
    with pytest.raises(IndicatorError, match=rf"{inputs[1]} has 59 values, expected 60"):
        spec.vectorized(*series)


#: (name, param, value below TA-Lib's minimum).
BELOW_MINIMUM = (
    ("MACD", "fastperiod", 1),
    ("MACD", "slowperiod", 1),
    ("MACD", "signalperiod", 0),
    ("PPO", "fastperiod", 1),
    ("APO", "slowperiod", 1),
    ("MOM", "timeperiod", 0),
    ("ROC", "timeperiod", 0),
    ("RSI", "timeperiod", 1),
    ("CMO", "timeperiod", 1),
    ("STOCH", "fastk_period", 0),
    ("STOCH", "slowd_period", 0),
    ("STOCHF", "fastd_period", 0),
    ("STOCHRSI", "timeperiod", 1),
    ("WILLR", "timeperiod", 1),
    ("CCI", "timeperiod", 1),
    ("MFI", "timeperiod", 1),
    ("ULTOSC", "timeperiod2", 0),
    ("TRIX", "timeperiod", 0),
)


@pytest.mark.parametrize(("name", "param", "value"), BELOW_MINIMUM)
def test_both_forms_when_a_period_is_below_talib_minimum_then_raise_naming_it(
    name: str, param: str, value: int
) -> None:
    spec = get(name)
    with pytest.raises(IndicatorError, match=rf"{param} must be >= {value + 1}, got {value}"):
        spec.streaming(**{param: value})
    series = [np.linspace(1.0, 2.0, 100) for _ in spec.streaming.inputs]
    with pytest.raises(IndicatorError, match=rf"{param} must be >= {value + 1}, got {value}"):
        spec.vectorized(*series, **{param: value})


@pytest.mark.parametrize(
    ("name", "param"),
    [("RSI", "timeperiod"), ("MACD", "slowperiod"), ("STOCH", "fastk_period"), ("ULTOSC", "timeperiod3")],
)
def test_vectorized_when_a_period_is_longer_than_the_data_then_raises(name: str, param: str) -> None:
    spec = get(name)
    series = [np.linspace(1.0, 2.0, 20) for _ in spec.streaming.inputs]
    with pytest.raises(IndicatorError, match=rf"{param}=21 is longer than the data \(20 values\)"):
        spec.vectorized(*series, **{param: 21})


@pytest.mark.parametrize("value", [2.5, "14", None, True])
def test_both_forms_when_a_period_is_not_an_integer_then_raise(value: Any) -> None:
    with pytest.raises(IndicatorError, match="timeperiod must be an integer"):
        momentum.RSI(timeperiod=value)
    with pytest.raises(IndicatorError, match="timeperiod must be an integer"):
        momentum.rsi(np.linspace(1.0, 2.0, 30), timeperiod=value)


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("PPO", "matype"),
        ("APO", "matype"),
        ("STOCH", "slowk_matype"),
        ("STOCH", "slowd_matype"),
        ("STOCHF", "fastd_matype"),
        ("STOCHRSI", "fastd_matype"),
    ],
)
@pytest.mark.parametrize("value", [7, 99, -1, "1"])
def test_both_forms_when_matype_is_unsupported_then_raise_naming_it(name: str, param: str, value: Any) -> None:
    spec = get(name)
    with pytest.raises(IndicatorError, match=param):
        spec.streaming(**{param: value})
    series = [np.linspace(1.0, 2.0, 100) for _ in spec.streaming.inputs]
    with pytest.raises(IndicatorError, match=param):
        spec.vectorized(*series, **{param: value})


@pytest.mark.parametrize("name", NAMES)
def test_streaming_when_a_bad_input_is_refused_then_state_is_unchanged(shared_data: Path, name: str) -> None:
    frame = candles(shared_data, "ohlcv/BITTREX_DASH_BTC_1m.csv", 120)
    cls = get(name).streaming
    rows = list(zip(*(frame[f].tolist() for f in cls.inputs), strict=True))
    clean, interrupted = cls(), cls()
    expected = [clean.update(*row) for row in rows]
    got = []
    for i, row in enumerate(rows):
        if i == 60:
            with pytest.raises(IndicatorError):
                interrupted.update(*(math.nan for _ in row))
        got.append(interrupted.update(*row))
    np.testing.assert_array_equal(got, expected)
    assert interrupted.count == clean.count == len(rows)
