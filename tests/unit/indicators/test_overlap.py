"""Overlap studies: both forms against TA-Lib on real candles; HMA/ZLEMA by hand; bad input; look-ahead."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from bot4.indicators import overlap
from bot4.indicators.base import FloatArray, IndicatorError, get, stream

#: (file under shared data, rows to use). Tiny BTC-pair prices, sparse/gappy series, large BTC prices.
DATASETS: tuple[tuple[str, int], ...] = (
    ("ohlcv/BITTREX_DASH_BTC_1m.csv", 3000),
    ("ohlcv/BITTREX_POWR_BTC_1m.csv", 3000),
    ("ohlcv/BITTREX_ADA_BTC_5m.csv", 6000),  # whole file, including the 170-minute hole
    ("ohlcv/BINANCE-USDM_BTC_USDT_5m.csv", 2500),
    ("ohlcv/BINANCE-USDM-MARK_XRP_USDT_1h.csv", 200),
    ("nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", 3000),
)

#: (registered name, params) run against TA-Lib: defaults and non-default params for each.
TALIB_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("WMA", {}),
    ("WMA", {"timeperiod": 7}),
    ("WMA", {"timeperiod": 1}),
    ("DEMA", {}),
    ("DEMA", {"timeperiod": 5}),
    ("TEMA", {}),
    ("TEMA", {"timeperiod": 4}),
    ("TRIMA", {}),
    ("TRIMA", {"timeperiod": 7}),
    ("TRIMA", {"timeperiod": 2}),
    ("KAMA", {}),
    ("KAMA", {"timeperiod": 10}),
    ("KAMA", {"timeperiod": 2}),
    ("KAMA", {"timeperiod": 1}),
    ("T3", {}),
    ("T3", {"timeperiod": 10, "vfactor": 0.3}),
    ("T3", {"timeperiod": 1}),
    ("BBANDS", {}),
    ("BBANDS", {"timeperiod": 5, "nbdevup": 1.5, "nbdevdn": 2.5}),
    ("BBANDS", {"timeperiod": 9, "nbdevup": 1.0, "nbdevdn": 1.0, "matype": 1}),
    ("BBANDS", {"timeperiod": 9, "matype": 3}),
    ("BBANDS", {"timeperiod": 6, "matype": 5}),
    ("BBANDS", {"timeperiod": 9, "matype": 6}),
    ("BBANDS", {"timeperiod": 4, "matype": 8}),
    ("MIDPOINT", {}),
    ("MIDPOINT", {"timeperiod": 3}),
    ("MIDPRICE", {}),
    ("MIDPRICE", {"timeperiod": 30}),
    ("SAR", {}),
    ("SAR", {"acceleration": 0.05, "maximum": 0.3}),
    ("SAR", {"acceleration": 0.3, "maximum": 0.2}),
)

OWN = ("WMA", "DEMA", "TEMA", "TRIMA", "KAMA", "T3", "BBANDS", "MIDPOINT", "MIDPRICE", "SAR", "HMA", "ZLEMA")
MA_CODES = (0, 1, 2, 3, 4, 5, 6, 8)


@cache
def _load(root: Path, rel: str, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(root / rel, nrows=rows)
    return frame[["open", "high", "low", "close", "volume"]].astype(np.float64)


def _single(name: str, frame: pd.DataFrame, **params: Any) -> FloatArray:
    out = stream(name, frame, **params)
    assert isinstance(out, np.ndarray)
    return out


def _columns(name: str, frame: pd.DataFrame) -> list[FloatArray]:
    return [frame[f].to_numpy(np.float64) for f in get(name).streaming.inputs]


def _as_tuple(result: Any, outputs: tuple[str, ...]) -> tuple[FloatArray, ...]:
    if isinstance(result, dict):
        return tuple(result[o] for o in outputs)
    if isinstance(result, tuple):
        return result
    return (result,)


def _assert_close(got: FloatArray, want: FloatArray, scale: float, what: str) -> None:
    """NaN exactly where ``want`` is NaN; elsewhere within 1e-9 relative (or 1e-9 * scale near zero)."""
    got_nan = np.isnan(got)
    want_nan = np.isnan(want)
    assert np.array_equal(got_nan, want_nan), (
        f"{what}: NaN at {np.flatnonzero(got_nan != want_nan)[:5]} differs from the reference"
    )
    ok = ~want_nan
    err = np.abs(got[ok] - want[ok])
    tol = 1e-9 * np.maximum(np.abs(want[ok]), scale)
    if (err > tol).any():
        i = int(np.flatnonzero(ok)[np.argmax(err > tol)])
        raise AssertionError(f"{what}: bar {i} got {got[i]!r}, want {want[i]!r}")


@pytest.mark.parametrize(("name", "params"), TALIB_CASES, ids=[f"{n}-{p}" for n, p in TALIB_CASES])
@pytest.mark.parametrize(("rel", "rows"), DATASETS, ids=[d[0].split("/")[-1] for d in DATASETS])
def test_both_forms_when_run_on_real_candles_then_match_talib(
    shared_data: Path, rel: str, rows: int, name: str, params: dict[str, Any]
) -> None:
    frame = _load(shared_data, rel, rows)
    spec = get(name)
    cols = _columns(name, frame)
    scale = float(np.median(np.abs(cols[0])))
    outputs = spec.streaming.outputs
    want = _as_tuple(getattr(talib, name)(*cols, **params), outputs)
    vec = _as_tuple(spec.vectorized(*cols, **params), outputs)
    streamed = _as_tuple(stream(name, frame, **params), outputs)
    lookback = spec.streaming(**params).lookback
    for out, w, v, s in zip(outputs, want, vec, streamed, strict=True):
        assert int(np.isnan(w).sum()) == lookback, f"{name} lookback {lookback} != TA-Lib warm-up"
        _assert_close(v, w, scale, f"{name}{params} vectorized {out}")
        _assert_close(s, w, scale, f"{name}{params} streaming {out}")


@pytest.mark.parametrize("matype", MA_CODES)
@pytest.mark.parametrize("timeperiod", [1, 2, 9])
def test_make_ma_and_ma_when_given_a_talib_code_then_match_talib_ma(
    shared_data: Path, matype: int, timeperiod: int
) -> None:
    x = _load(shared_data, "ohlcv/BITTREX_DASH_BTC_1m.csv", 1500)["close"].to_numpy(np.float64)
    want = talib.MA(x, timeperiod=timeperiod, matype=matype)  # type: ignore[arg-type]  # int code
    ind = overlap.make_ma(matype, timeperiod)
    streamed = np.array([ind.update(v) for v in x.tolist()])
    assert ind.lookback == int(np.isnan(want).sum())
    _assert_close(streamed, want, float(np.median(x)), f"make_ma({matype}, {timeperiod})")
    _assert_close(overlap.ma(x, timeperiod, matype), want, float(np.median(x)), f"ma({matype})")


@pytest.mark.parametrize("matype", [7, 9, -1, True, 1.0])
def test_make_ma_and_ma_when_matype_is_unsupported_then_raise_naming_matype(matype: Any) -> None:
    with pytest.raises(IndicatorError, match="matype"):
        overlap.make_ma(matype, 5)
    with pytest.raises(IndicatorError, match="matype"):
        overlap.ma(np.arange(1.0, 20.0), 5, matype)
    with pytest.raises(IndicatorError, match="matype"):
        overlap.BBANDS(timeperiod=5, matype=matype)


def test_bbands_when_window_is_flat_then_bands_collapse_exactly_like_talib() -> None:
    x = np.array([3.0, 1.0, 2.0] + [7e-5] * 30 + [7.1e-5, 7e-5])
    want = talib.BBANDS(x, timeperiod=5)
    got = stream("BBANDS", pd.DataFrame({"close": x}), timeperiod=5)
    assert isinstance(got, dict)
    flat = slice(8, 33)
    assert np.array_equal(got["upperband"][flat], got["lowerband"][flat])
    assert np.array_equal(got["upperband"][flat], want[0][flat])
    _assert_close(got["upperband"], want[0], 7e-5, "BBANDS upper")


def test_bbands_when_spread_is_tiny_against_price_then_deviation_matches_talib() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([1e-5 + 1e-6 * rng.random(200), 1e-5 + 1e-13 * rng.random(200)])
    want_up, want_mid, _ = talib.BBANDS(x, timeperiod=20, nbdevup=1.0, nbdevdn=1.0)
    got = stream("BBANDS", pd.DataFrame({"close": x}), timeperiod=20, nbdevup=1.0, nbdevdn=1.0)
    assert isinstance(got, dict)
    # Compare the deviation itself, so the check is relative to the 1e-13-sized spread, not the price.
    tiny = slice(219, None)  # windows wholly inside the 1e-13-wide stretch
    width = (got["upperband"] - got["middleband"])[tiny]
    want_width = (want_up - want_mid)[tiny]
    assert (want_width > 0).all()
    np.testing.assert_allclose(width, want_width, rtol=1e-3)


def test_kama_when_prices_stay_flat_then_matches_talib_through_the_zero_volatility_branch() -> None:
    x = np.array([1.0, 2.0, 3.0] + [2.5] * 20 + [2.6, 2.4, 2.5])
    got = _single("KAMA", pd.DataFrame({"close": x}), timeperiod=4)
    _assert_close(got, talib.KAMA(x, timeperiod=4), 2.5, "KAMA")


def test_sar_when_first_bar_has_larger_minus_dm_then_starts_short_like_talib() -> None:
    high = np.array([10.0, 9.8, 9.5, 9.7, 9.0, 9.6, 10.5, 11.0])
    low = np.array([9.5, 8.9, 8.7, 9.1, 8.2, 8.8, 9.9, 10.4])
    got = _single("SAR", pd.DataFrame({"high": high, "low": low}))
    want = talib.SAR(high, low)
    _assert_close(got, want, 10.0, "SAR")
    assert got[1] == 10.0  # short: first SAR is bar 0's high


# ---------------------------------------------------------------------------------------------------
# Non-TA-Lib moving averages: by hand from the published formulas, and the two forms agree.

DOUBLING = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])


def test_hma_when_given_a_doubling_series_then_matches_hulls_formula_by_hand() -> None:
    # n=4: WMA2(t) = (x[t-1] + 2x[t])/3, WMA4(t) = (x[t-3] + 2x[t-2] + 3x[t-1] + 4x[t])/10,
    # raw = 2*WMA2 - WMA4 -> raw3 = 40/3 - 4.9 = 253/30, raw4 = 506/30, raw5 = 1012/30;
    # HMA = WMA2(raw): (253 + 2*506)/90, (506 + 2*1012)/90.
    want = np.array([math.nan] * 4 + [1265 / 90, 2530 / 90])
    got_vec = overlap.hma(DOUBLING, timeperiod=4)
    got_stream = _single("HMA", pd.DataFrame({"close": DOUBLING}), timeperiod=4)
    np.testing.assert_allclose(got_vec, want, rtol=1e-12)
    np.testing.assert_allclose(got_stream, want, rtol=1e-12)
    assert overlap.HMA(4).lookback == 4


def test_zlema_when_given_a_doubling_series_then_matches_ehlers_way_by_hand() -> None:
    # n=3: lag 1, k=0.5, d[t] = 2x[t] - x[t-1] = 3, 6, 12, 24, 48 (from t=1); seed mean(3, 6, 12) = 7,
    # then 7 + (24-7)/2 = 15.5, 15.5 + (48-15.5)/2 = 31.75.
    want = np.array([math.nan] * 3 + [7.0, 15.5, 31.75])
    np.testing.assert_allclose(overlap.zlema(DOUBLING, timeperiod=3), want, rtol=1e-15)
    np.testing.assert_allclose(_single("ZLEMA", pd.DataFrame({"close": DOUBLING}), timeperiod=3), want)
    assert overlap.ZLEMA(3).lookback == 3


def _direct_wma(x: FloatArray, n: int) -> FloatArray:
    out = np.full(len(x), np.nan)
    w = np.arange(1.0, n + 1.0)
    out[n - 1 :] = sliding_window_view(x, n) @ w / w.sum()
    return out


@pytest.mark.parametrize("timeperiod", [2, 9, 30])
@pytest.mark.parametrize(("rel", "rows"), DATASETS[:3] + DATASETS[5:], ids=["dash", "powr", "ada", "ftx"])
def test_hma_when_run_on_real_candles_then_both_forms_match_the_direct_formula(
    shared_data: Path, rel: str, rows: int, timeperiod: int
) -> None:
    frame = _load(shared_data, rel, rows)
    x = frame["close"].to_numpy(np.float64)
    half, root = timeperiod // 2, math.isqrt(timeperiod)
    raw = 2.0 * _direct_wma(x, half) - _direct_wma(x, timeperiod)
    want = np.full(len(x), np.nan)
    want[timeperiod - 1 :] = _direct_wma(raw[timeperiod - 1 :], root)
    scale = float(np.median(x))
    _assert_close(overlap.hma(x, timeperiod), want, scale, "hma")
    _assert_close(_single("HMA", frame, timeperiod=timeperiod), want, scale, "HMA")


@pytest.mark.parametrize("timeperiod", [2, 9, 30])
@pytest.mark.parametrize(("rel", "rows"), DATASETS[:3] + DATASETS[5:], ids=["dash", "powr", "ada", "ftx"])
def test_zlema_when_run_on_real_candles_then_both_forms_agree(
    shared_data: Path, rel: str, rows: int, timeperiod: int
) -> None:
    frame = _load(shared_data, rel, rows)
    x = frame["close"].to_numpy(np.float64)
    vec = overlap.zlema(x, timeperiod)
    assert int(np.isnan(vec).sum()) == overlap.ZLEMA(timeperiod).lookback
    streamed = _single("ZLEMA", frame, timeperiod=timeperiod)
    _assert_close(streamed, vec, float(np.median(x)), "ZLEMA")


# ---------------------------------------------------------------------------------------------------
# Bad input.

PERIOD_MINIMUM = {"WMA": 1, "DEMA": 1, "TEMA": 1, "TRIMA": 1, "KAMA": 1, "T3": 1, "BBANDS": 2,
                  "MIDPOINT": 2, "MIDPRICE": 2, "HMA": 2, "ZLEMA": 2}


def _args(name: str, n: int = 50) -> list[FloatArray]:
    x = np.linspace(1.0, 2.0, n)
    return [x + 0.1 if f == "high" else x for f in get(name).streaming.inputs]


@pytest.mark.parametrize("name", OWN)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_both_forms_when_an_input_is_not_finite_then_raise_naming_it(name: str, bad: float) -> None:
    spec = get(name)
    cols = _args(name)
    cols[-1][17] = bad
    with pytest.raises(IndicatorError, match=r"\[17\]"):
        spec.vectorized(*cols)
    ind = spec.streaming()
    row = [1.0] * len(spec.streaming.inputs)
    ind.update(*row)
    row[-1] = bad
    with pytest.raises(IndicatorError, match="finite"):
        ind.update(*row)


@pytest.mark.parametrize("name", sorted(PERIOD_MINIMUM))
def test_both_forms_when_period_is_below_minimum_or_too_long_then_raise(name: str) -> None:
    spec = get(name)
    cls: Any = spec.streaming
    low = PERIOD_MINIMUM[name] - 1
    with pytest.raises(IndicatorError, match=f"timeperiod must be >= {low + 1}"):
        cls(timeperiod=low)
    with pytest.raises(IndicatorError, match="timeperiod must be >="):
        spec.vectorized(*_args(name), timeperiod=low)
    with pytest.raises(IndicatorError, match="longer than the data"):
        spec.vectorized(*_args(name, 10), timeperiod=11)
    with pytest.raises(IndicatorError, match="integer"):
        cls(timeperiod=5.0)


@pytest.mark.parametrize("name", ["MIDPRICE", "SAR"])
def test_vectorized_when_high_and_low_differ_in_length_then_raise(name: str) -> None:
    with pytest.raises(IndicatorError, match="low has 9 values, expected 10"):
        get(name).vectorized(np.ones(10), np.ones(9))


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("T3", {"vfactor": 1.5}, "vfactor"),
        ("T3", {"vfactor": -0.1}, "vfactor"),
        ("SAR", {"acceleration": -0.01}, "acceleration"),
        ("SAR", {"maximum": math.nan}, "maximum"),
        ("BBANDS", {"nbdevup": math.inf}, "nbdevup"),
        ("BBANDS", {"nbdevdn": "2"}, "nbdevdn"),
    ],
)
def test_both_forms_when_a_real_parameter_is_bad_then_raise_naming_it(
    name: str, params: dict[str, Any], match: str
) -> None:
    spec = get(name)
    with pytest.raises(IndicatorError, match=match):
        spec.streaming(**params)
    with pytest.raises(IndicatorError, match=match):
        spec.vectorized(*_args(name), **params)


# ---------------------------------------------------------------------------------------------------
# No look-ahead.


@pytest.mark.parametrize("name", OWN)
def test_both_forms_when_run_on_a_prefix_then_equal_the_full_run_on_those_bars(
    shared_data: Path, name: str
) -> None:
    frame = _load(shared_data, "ohlcv/BITTREX_POWR_BTC_1m.csv", 3000)
    spec = get(name)
    outputs = spec.streaming.outputs
    cut = 700
    full_v = _as_tuple(spec.vectorized(*_columns(name, frame)), outputs)
    part_v = _as_tuple(spec.vectorized(*_columns(name, frame.iloc[:cut])), outputs)
    full_s = _as_tuple(stream(name, frame), outputs)
    part_s = _as_tuple(stream(name, frame.iloc[:cut]), outputs)
    for fv, pv, fs, ps in zip(full_v, part_v, full_s, part_s, strict=True):
        np.testing.assert_array_equal(fv[:cut], pv)
        np.testing.assert_array_equal(fs[:cut], ps)
        assert not np.isnan(pv[-1])


def test_bbands_values_when_warmed_up_then_report_all_three_bands_in_order() -> None:
    ind = overlap.BBANDS(timeperiod=3, nbdevup=1.0, nbdevdn=2.0)
    for v in (1.0, 2.0, 3.0):
        upper = ind.update(v)
    bands = ind.values()
    std = math.sqrt(2.0 / 3.0)
    assert list(bands) == ["upperband", "middleband", "lowerband"]
    assert ind.ready
    assert bands["middleband"] == pytest.approx(2.0)
    assert upper == bands["upperband"] == pytest.approx(2.0 + std)
    assert bands["lowerband"] == pytest.approx(2.0 - 2.0 * std)
