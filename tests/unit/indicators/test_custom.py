"""Keltner, Donchian, SuperTrend, Ichimoku, Heikin-Ashi: hand-computed values, streaming against
vectorized on real candles, cross-checks with TA-Lib 0.8's own versions, bad input, look-ahead."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from bot4.indicators import custom
from bot4.indicators.base import FloatArray, IndicatorError, get, stream

from .harness import (
    DATASETS,
    assert_bit_identical,
    assert_close,
    assert_prefix_unchanged,
    case_id,
    inputs,
    load_ohlcv,
    make,
    outputs,
)

CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("KELTNER", {}),
    ("KELTNER", {"timeperiod": 5, "atrperiod": 3, "multiplier": 1.5}),
    ("DONCHIAN", {}),
    ("DONCHIAN", {"timeperiod": 2}),
    ("SUPERTREND", {}),
    ("SUPERTREND", {"timeperiod": 3, "multiplier": 1.0}),
    ("ICHIMOKU", {}),
    ("ICHIMOKU", {"tenkan": 3, "kijun": 5, "senkou": 8, "displacement": 0}),
    ("HEIKIN_ASHI", {}),
)
NAMES = ("KELTNER", "DONCHIAN", "SUPERTREND", "ICHIMOKU", "HEIKIN_ASHI")


def _bars(rows: list[tuple[float, float, float, float]]) -> dict[str, FloatArray]:
    arr = np.array(rows, dtype=np.float64)
    return {"open": arr[:, 0], "high": arr[:, 1], "low": arr[:, 2], "close": arr[:, 3]}


def _run(name: str, cols: dict[str, FloatArray], **params: Any) -> dict[str, FloatArray]:
    """Both forms over hand-made bars; asserts they agree and returns the outputs."""
    frame = pd.DataFrame(cols)
    streamed = outputs(name, stream(name, frame, **params))
    vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    for out in streamed:
        np.testing.assert_array_equal(streamed[out], vec[out], err_msg=f"{name} {out}")
    return streamed


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_streaming_when_run_on_real_candles_then_equals_vectorized(
    shared_data: Path, dataset: tuple[str, int], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    streamed = outputs(name, stream(name, frame, **params))
    lookback = make(name, **params).lookback
    for out, ref in vec.items():
        assert np.isnan(ref[:lookback]).all() and not np.isnan(ref[lookback:]).any(), f"{name} {out} warm-up"
        assert_close(streamed[out], ref, float(np.median(frame["close"])), f"{name}{params} {out}")


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
def test_own_forms_when_compared_with_talib_08_versions_then_identical(
    shared_data: Path, dataset: tuple[str, int]
) -> None:
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    o, h, lo, c = (frame[f].to_numpy() for f in ("open", "high", "low", "close"))
    donchian = outputs("DONCHIAN", stream("DONCHIAN", frame, timeperiod=7))
    for ours, theirs in zip(donchian.values(), talib.DONCHIAN(h, lo, 7), strict=True):
        assert_bit_identical(ours, theirs, "DONCHIAN")
    candles = outputs("HEIKIN_ASHI", stream("HEIKIN_ASHI", frame))
    for ours, theirs in zip(candles.values(), talib.HA(o, h, lo, c), strict=True):
        assert_bit_identical(ours, theirs, "HEIKIN_ASHI")
    st = outputs("SUPERTREND", stream("SUPERTREND", frame, timeperiod=7, multiplier=2.0))
    line, trend = talib.SUPERTREND(h, lo, c, timeperiod=7, multiplier=2.0)
    assert_bit_identical(st["supertrend"], line, "SUPERTREND line")
    np.testing.assert_array_equal(st["trend"][7:], trend[7:].astype(np.float64))


# ---------------------------------------------------------------------------------------------------
# Hand-computed values


def test_keltner_when_hand_computed_then_ema_plus_minus_multiplier_atr() -> None:
    cols = _bars([(0, 10.0, 8.0, 9.0), (0, 11.0, 9.0, 10.0), (0, 12.0, 10.0, 11.0), (0, 12.0, 9.0, 9.0)])
    got = _run("KELTNER", cols, timeperiod=2, atrperiod=2, multiplier=2.0)
    # EMA(2): seed (9 + 10) / 2 = 9.5; then 9.5 + (11 - 9.5) * 2/3 = 10.5; then 10.5 + (9 - 10.5) * 2/3 = 9.5.
    # TR: bar1 = 2, bar2 = 2, bar3 = max(3, 1, 2) = 3 -> ATR(2): seed (2 + 2) / 2 = 2; then (2 + 3) / 2 = 2.5.
    assert math.isnan(got["middleband"][1])
    assert got["middleband"][2] == pytest.approx(10.5) and got["upperband"][2] == pytest.approx(14.5)
    assert got["middleband"][3] == pytest.approx(9.5)
    assert got["upperband"][3] == pytest.approx(14.5) and got["lowerband"][3] == pytest.approx(4.5)


def test_donchian_when_hand_computed_then_highest_high_lowest_low_and_mid() -> None:
    cols = _bars([(0, 5.0, 1.0, 3.0), (0, 7.0, 2.0, 3.0), (0, 6.0, 0.5, 3.0), (0, 4.0, 3.0, 3.0)])
    got = _run("DONCHIAN", cols, timeperiod=3)
    np.testing.assert_array_equal(got["upperband"], [np.nan, np.nan, 7.0, 7.0])
    np.testing.assert_array_equal(got["lowerband"], [np.nan, np.nan, 0.5, 0.5])
    np.testing.assert_array_equal(got["middleband"], [np.nan, np.nan, 3.75, 3.75])


def test_supertrend_when_close_breaks_the_lower_band_then_flips_down_to_the_upper_band() -> None:
    cols = _bars([(0.0, 11.0, 9.0, 10.0)] * 3 + [(0.0, 8.0, 6.0, 6.5), (0.0, 8.0, 6.0, 7.0)])
    got = _run("SUPERTREND", cols, timeperiod=2, multiplier=1.0)
    # TR = 2, 2, 4, 2 from bar 1; ATR(2): seed (2 + 2) / 2 = 2, then (2 + 4) / 2 = 3, (3 + 2) / 2 = 2.5.
    # Bar 2: hl2 10 -> bands 12 / 8, starts up on the lower band 8.
    # Bar 3: hl2 7 -> basic 10 / 4; upper ratchets down to 10; lower keeps 8 (4 < 8, previous close 10
    #        not below 8); close 6.5 < 8 flips down onto the upper band 10.
    # Bar 4: basic 9.5 / 4.5; upper -> 9.5; close 7 stays under it: still down at 9.5.
    np.testing.assert_array_equal(got["trend"], [np.nan, np.nan, 1.0, -1.0, -1.0])
    np.testing.assert_array_equal(got["supertrend"], [np.nan, np.nan, 8.0, 10.0, 9.5])


def test_ichimoku_when_displaced_then_spans_are_those_computed_displacement_bars_earlier() -> None:
    rng = np.random.default_rng(4)
    close = 100 + np.cumsum(rng.normal(0, 1, 40))
    cols = {"high": close + 1.0, "low": close - 1.0, "close": close}
    plain = _run("ICHIMOKU", cols, tenkan=3, kijun=5, senkou=8, displacement=0)
    shifted = _run("ICHIMOKU", cols, tenkan=3, kijun=5, senkou=8, displacement=4)

    def mid(p: int, t: int) -> float:
        return float(cols["high"][t - p + 1 : t + 1].max() + cols["low"][t - p + 1 : t + 1].min()) / 2

    t = 20
    assert plain["tenkan"][t] == mid(3, t) and plain["kijun"][t] == mid(5, t)
    assert shifted["senkou_a"][t] == (mid(3, t - 4) + mid(5, t - 4)) / 2
    assert shifted["senkou_b"][t] == mid(8, t - 4)
    assert shifted["chikou"][t] == close[t]
    np.testing.assert_array_equal(shifted["senkou_b"][11:], plain["senkou_b"][7:-4])
    assert np.isnan(shifted["tenkan"][:11]).all() and not np.isnan(shifted["tenkan"][11:]).any()


def test_heikin_ashi_when_hand_computed_then_matches_valcu_formulas() -> None:
    cols = _bars([(10.0, 12.0, 9.0, 11.0), (11.0, 13.0, 10.0, 12.0), (12.0, 12.5, 8.0, 9.0)])
    got = _run("HEIKIN_ASHI", cols)
    np.testing.assert_array_equal(got["ha_close"], [10.5, 11.5, 10.375])
    np.testing.assert_array_equal(got["ha_open"], [10.5, 10.5, 11.0])
    np.testing.assert_array_equal(got["ha_high"], [12.0, 13.0, 12.5])
    np.testing.assert_array_equal(got["ha_low"], [9.0, 10.0, 8.0])


# ---------------------------------------------------------------------------------------------------
# Bad input


def _arrays(name: str, n: int = 90) -> list[FloatArray]:
    rng = np.random.default_rng(6)
    close = 50 + np.cumsum(rng.normal(0, 0.3, n))
    cols = {"open": close, "high": close + 0.5, "low": close - 0.5, "close": close}
    return [cols[f].copy() for f in get(name).streaming.inputs]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_vectorized_when_an_input_is_not_finite_then_error_names_field_and_index(name: str, bad: float) -> None:
    arrays = _arrays(name)
    arrays[-1][30] = bad
    with pytest.raises(IndicatorError, match=rf"{get(name).streaming.inputs[-1]}\[30\]"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_when_an_input_is_nan_then_error_names_indicator_and_field(name: str) -> None:
    fields = get(name).streaming.inputs
    with pytest.raises(IndicatorError, match=rf"{name} {fields[0]} input is nan"):
        make(name).update(float("nan"), *([1.0] * (len(fields) - 1)))


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_when_inputs_differ_in_length_then_refused(name: str) -> None:
    arrays = _arrays(name)
    arrays[1] = arrays[1][:-1]
    with pytest.raises(IndicatorError, match="has 89 values, expected 90"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("KELTNER", {"timeperiod": 0}, "timeperiod must be >= 1, got 0"),
        ("KELTNER", {"atrperiod": 0}, "atrperiod must be >= 1, got 0"),
        ("KELTNER", {"multiplier": -1.0}, "multiplier must be a positive finite number"),
        ("DONCHIAN", {"timeperiod": 1}, "timeperiod must be >= 2, got 1"),
        ("SUPERTREND", {"timeperiod": 1}, "timeperiod must be >= 2, got 1"),
        ("SUPERTREND", {"multiplier": math.inf}, "multiplier must be a positive finite number"),
        ("ICHIMOKU", {"tenkan": 0}, "tenkan must be >= 1, got 0"),
        ("ICHIMOKU", {"displacement": -1}, "displacement must be >= 0, got -1"),
    ],
)
def test_params_when_out_of_range_then_refused_in_both_forms(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(IndicatorError, match=message):
        make(name, **params)
    with pytest.raises(IndicatorError, match=message):
        get(name).vectorized(*_arrays(name), **params)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("KELTNER", {"timeperiod": 91}),
        ("DONCHIAN", {"timeperiod": 91}),
        ("SUPERTREND", {"timeperiod": 90}),
        ("ICHIMOKU", {}),
    ],
)
def test_vectorized_when_warm_up_longer_than_data_then_refused(name: str, params: dict[str, Any]) -> None:
    with pytest.raises(IndicatorError, match=r"longer than the data|needs \d+ values"):
        get(name).vectorized(*(a[:60] if name == "ICHIMOKU" else a for a in _arrays(name)), **params)


def test_heikin_ashi_when_data_is_empty_then_refused() -> None:
    with pytest.raises(IndicatorError, match="at least one bar"):
        custom.heikin_ashi(np.array([]), np.array([]), np.array([]), np.array([]))


# ---------------------------------------------------------------------------------------------------
# No look-ahead


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 900)
    cut = 600
    assert_prefix_unchanged(name, params, frame, cut)
