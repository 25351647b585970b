"""Volume: OBV/AD/ADOSC bit for bit against TA-Lib on real candles; session VWAP by hand, form against
form, against TA-Lib's whole-series VWAP, timestamps through ``stream()``; bad input; look-ahead."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from bot4.indicators import volume
from bot4.indicators.base import IndicatorError, get, stream

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
)

TALIB_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("OBV", {}),
    ("AD", {}),
    ("ADOSC", {}),
    ("ADOSC", {"fastperiod": 5, "slowperiod": 20}),
    ("ADOSC", {"fastperiod": 10, "slowperiod": 3}),  # "fast" slower than "slow" is allowed
)
TALIB_NAMES = ("OBV", "AD", "ADOSC")
DAY_NS = 86_400_000_000_000
MINUTE_NS = 60_000_000_000


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


def test_adosc_when_hand_computed_then_emas_are_seeded_with_the_first_ad_value() -> None:
    osc = volume.ADOSC(fastperiod=2, slowperiod=3)
    bars = [(10.0, 8.0, 9.5, 100.0), (11.0, 9.0, 9.0, 50.0), (12.0, 10.0, 12.0, 10.0)]
    out = [osc.update(*b) for b in bars]
    ad = [0.5 * 100.0]  # CLV = ((9.5 - 8) - (10 - 9.5)) / 2 = 0.5
    ad.append(ad[-1] + (-1.0) * 50.0)
    ad.append(ad[-1] + 1.0 * 10.0)
    fast = slow = ad[0]
    for a in ad[1:]:
        fast = (1.0 - 1.0 / 3.0) * a + (1.0 / 3.0) * fast  # k = 2 / (2 + 1)
        slow = 0.5 * a + 0.5 * slow  # k = 2 / (3 + 1)
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(fast - slow, rel=1e-12)


def test_obv_when_closes_move_then_adds_and_subtracts_volume_from_the_first_bar() -> None:
    obv = volume.OBV()
    got = [obv.update(c, v) for c, v in [(1.0, 5.0), (2.0, 3.0), (2.0, 7.0), (1.5, 2.0)]]
    assert got == [5.0, 8.0, 8.0, 6.0]


# ---------------------------------------------------------------------------------------------------
# VWAP


def _vwap_stream(bars: list[tuple[float, float, float, float, int]], session: str = "1d") -> list[float]:
    ind = volume.VWAP(session=session)
    return [ind.update(*b) for b in bars]


def test_vwap_when_hand_computed_then_resets_at_utc_midnight() -> None:
    day = 19_000 * DAY_NS
    bars = [
        (11.0, 9.0, 10.0, 2.0, day + 1380 * MINUTE_NS),  # 23:00: tp 10
        (14.0, 10.0, 12.0, 1.0, day + 1439 * MINUTE_NS),  # 23:59: tp 12
        (21.0, 19.0, 20.0, 3.0, day + DAY_NS),  # 00:00 next day: new session, tp 20
        (24.0, 21.0, 21.0, 1.0, day + DAY_NS + MINUTE_NS),  # tp 22
    ]
    got = _vwap_stream(bars)
    assert got[0] == 10.0
    assert got[1] == pytest.approx((10.0 * 2 + 12.0 * 1) / 3, rel=1e-15)
    assert got[2] == 20.0
    assert got[3] == pytest.approx((20.0 * 3 + 22.0 * 1) / 4, rel=1e-15)
    cols = [np.array([b[i] for b in bars]) for i in range(4)]
    vec = get("VWAP").vectorized(*cols, np.array([b[4] for b in bars], dtype=np.int64))
    np.testing.assert_array_equal(vec, got)


def test_vwap_when_no_volume_yet_in_session_then_nan_in_both_forms() -> None:
    t0 = 19_000 * DAY_NS
    bars = [(2.0, 1.0, 1.5, 0.0, t0), (3.0, 2.0, 2.5, 0.0, t0 + MINUTE_NS), (3.0, 3.0, 3.0, 4.0, t0 + 2 * MINUTE_NS)]
    got = _vwap_stream(bars)
    assert math.isnan(got[0]) and math.isnan(got[1]) and got[2] == 3.0
    cols = [np.array([b[i] for b in bars]) for i in range(4)]
    vec = get("VWAP").vectorized(*cols, np.array([b[4] for b in bars], dtype=np.int64))
    np.testing.assert_array_equal(vec, got)


@pytest.mark.parametrize("session", ["1d", "4h", "1h", "1m"])
@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: Path(d[0]).stem)
def test_vwap_when_run_on_real_candles_then_streaming_equals_vectorized_bit_for_bit(
    shared_data: Path, dataset: tuple[str, int], session: str
) -> None:
    frame = load_ohlcv(shared_data / dataset[0], dataset[1])
    vec = get("VWAP").vectorized(*inputs("VWAP", frame), session=session)
    assert_bit_identical(np.asarray(stream("VWAP", frame, session=session)), vec, f"VWAP {session}")


def test_vwap_when_one_session_spans_the_data_then_equals_talib_cumulative_vwap(shared_data: Path) -> None:
    frame = load_ohlcv(shared_data / "ohlcv/BINANCE_XRP_ETH_1m.csv", 2000)
    h, lo, c, v, ts = inputs("VWAP", frame)
    expected = talib.VWAP(h, lo, c, v)
    expected[np.cumsum(v) == 0] = np.nan  # TA-Lib writes 0 before any volume; we say NaN
    assert_bit_identical(volume.vwap(h, lo, c, v, ts, session="10000d"), expected, "VWAP one session")


def test_stream_when_frame_has_datetime_index_instead_of_ts_then_vwap_reads_it(shared_data: Path) -> None:
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ETH_BTC_1m.csv", 3000)
    indexed = frame.drop(columns="ts").set_index(pd.to_datetime(frame["ts"].to_numpy(), unit="ns", utc=True))
    np.testing.assert_array_equal(stream("VWAP", indexed), stream("VWAP", frame))


def test_stream_when_frame_has_no_timestamps_then_error_names_ts(shared_data: Path) -> None:
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ETH_BTC_1m.csv", 50).drop(columns="ts")
    with pytest.raises(IndicatorError, match=r"VWAP needs column\(s\) \['ts'\]"):
        stream("VWAP", frame)


def test_update_bar_when_vwap_gets_a_timestamp_then_works_and_without_one_refuses() -> None:
    ind = volume.VWAP()
    assert ind.update_bar(1.0, 2.0, 1.0, 1.5, 3.0, ts_ns=DAY_NS) == pytest.approx(1.5)
    with pytest.raises(IndicatorError, match="needs ts_ns"):
        ind.update_bar(1.0, 2.0, 1.0, 1.5, 3.0)


def test_vwap_when_timestamps_go_backwards_then_refused_in_both_forms() -> None:
    ind = volume.VWAP()
    ind.update(2.0, 1.0, 1.5, 1.0, 2 * MINUTE_NS)
    with pytest.raises(IndicatorError, match="earlier than the previous bar"):
        ind.update(2.0, 1.0, 1.5, 1.0, MINUTE_NS)
    ones = np.ones(3)
    with pytest.raises(IndicatorError, match=r"ts\[2\]=60000000000 is earlier than ts\[1\]"):
        volume.vwap(ones, ones, ones, ones, np.array([0, 2 * MINUTE_NS, MINUTE_NS]))


@pytest.mark.parametrize("session", ["1w", "day", "0d", "", 5])
def test_vwap_when_session_is_not_a_duration_then_refused(session: Any) -> None:
    with pytest.raises(IndicatorError, match="session"):
        volume.VWAP(session=session)


def test_vwap_when_volume_is_negative_then_refused_in_both_forms() -> None:
    with pytest.raises(IndicatorError, match="volume must be >= 0"):
        volume.VWAP().update(2.0, 1.0, 1.5, -1.0, 0)
    ones = np.ones(3)
    with pytest.raises(IndicatorError, match=r"volume\[1\] is -2\.0"):
        volume.vwap(ones, ones, ones, np.array([1.0, -2.0, 1.0]), np.arange(3))


def test_vwap_when_ts_is_float_then_refused() -> None:
    ones = np.ones(3)
    with pytest.raises(IndicatorError, match="ts must be integer nanoseconds or datetime64"):
        volume.vwap(ones, ones, ones, ones, np.array([0.0, 1.0, 2.0]))


# ---------------------------------------------------------------------------------------------------
# Bad input, all


ALL = (*TALIB_NAMES, "VWAP")


def _arrays(name: str, n: int = 40) -> list[Any]:
    rng = np.random.default_rng(2)
    close = 5.0 + np.cumsum(rng.normal(0, 0.05, n))
    cols = {"high": close + 0.1, "low": close - 0.1, "close": close, "volume": rng.random(n) + 0.5}
    cols["ts"] = np.arange(n, dtype=np.int64) * MINUTE_NS  # type: ignore[assignment]
    return [cols[f] for f in get(name).streaming.inputs]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_vectorized_when_a_price_is_not_finite_then_error_names_field_and_index(name: str, bad: float) -> None:
    arrays = _arrays(name)
    arrays[0] = arrays[0].copy()
    arrays[0][3] = bad
    with pytest.raises(IndicatorError, match=rf"{get(name).streaming.inputs[0]}\[3\]"):
        get(name).vectorized(*arrays)


@pytest.mark.parametrize("name", ALL)
def test_streaming_when_volume_is_nan_then_error_names_indicator_and_field(name: str) -> None:
    fields = get(name).streaming.inputs
    args: list[Any] = [float("nan") if f == "volume" else 0 if f == "ts" else 1.0 for f in fields]
    with pytest.raises(IndicatorError, match=rf"{name} volume input is nan"):
        make(name).update(*args)


@pytest.mark.parametrize("name", ALL)
def test_vectorized_when_inputs_differ_in_length_then_refused(name: str) -> None:
    arrays = _arrays(name)
    arrays[1] = arrays[1][:-1]
    with pytest.raises(IndicatorError, match="39"):
        get(name).vectorized(*arrays)


def test_adosc_when_period_below_two_or_longer_than_data_then_refused() -> None:
    with pytest.raises(IndicatorError, match="fastperiod must be >= 2, got 1"):
        volume.ADOSC(fastperiod=1)
    with pytest.raises(IndicatorError, match="slowperiod=41 is longer than the data"):
        get("ADOSC").vectorized(*_arrays("ADOSC"), slowperiod=41)


# ---------------------------------------------------------------------------------------------------
# No look-ahead


@pytest.mark.parametrize("case", (*TALIB_CASES, ("VWAP", {}), ("VWAP", {"session": "1h"})), ids=case_id)
def test_both_forms_when_run_on_a_prefix_then_prefix_values_unchanged(
    shared_data: Path, case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    frame = load_ohlcv(shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv", 1500)
    cut = 1000
    assert_prefix_unchanged(name, params, frame, cut)


def test_vwap_when_sessions_are_very_uneven_then_streaming_still_equals_vectorized() -> None:
    # One long session then many one-bar sessions: exercises the per-session fallback path.
    rng = np.random.default_rng(9)
    n = 700
    ts = np.concatenate([np.arange(600) * MINUTE_NS, DAY_NS * np.arange(1, 101)]).astype(np.int64)
    close = 10 + np.cumsum(rng.normal(0, 0.1, n))
    frame = pd.DataFrame({"high": close + 0.2, "low": close - 0.2, "close": close, "volume": rng.random(n), "ts": ts})
    vec = get("VWAP").vectorized(*inputs("VWAP", frame))
    assert_bit_identical(np.asarray(stream("VWAP", frame)), vec, "uneven sessions")
    assert vec[650] == pytest.approx((frame["high"][650] + frame["low"][650] + frame["close"][650]) / 3, rel=1e-15)


def test_vwap_when_a_day_is_missing_and_a_session_opens_without_volume_then_streaming_equals_vectorized() -> None:
    # Long sessions (the per-session path) with an empty day between them, and a session whose first
    # bars trade nothing: NaN there, a reset at each session's first bar.
    rng = np.random.default_rng(4)
    day = np.arange(1440) * MINUTE_NS
    ts = np.concatenate([day[700:], day + DAY_NS, day + 3 * DAY_NS])
    n = len(ts)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n))
    volume = rng.random(n)
    second = int(np.searchsorted(ts, DAY_NS))
    volume[second : second + 5] = 0.0
    frame = pd.DataFrame({"high": close + 0.3, "low": close - 0.3, "close": close, "volume": volume, "ts": ts})
    vec = get("VWAP").vectorized(*inputs("VWAP", frame))
    assert_bit_identical(vec, np.asarray(stream("VWAP", frame)), "missing day")
    assert np.isnan(vec[second : second + 5]).all() and not np.isnan(vec[second + 5])
    third = int(np.searchsorted(ts, 3 * DAY_NS))
    assert vec[third] == pytest.approx(close[third], rel=1e-15)


def test_vwap_when_sessions_are_shorter_than_the_bar_spacing_then_every_bar_resets() -> None:
    # Hourly bars, one-minute sessions: more possible sessions than bars, so each bar is its own session.
    n = 50
    ts = (np.arange(n) * 60 * MINUTE_NS).astype(np.int64)
    close = np.linspace(10.0, 20.0, n)
    frame = pd.DataFrame({"high": close + 1.0, "low": close - 1.0, "close": close, "volume": np.ones(n), "ts": ts})
    vec = get("VWAP").vectorized(*inputs("VWAP", frame), session="1m")
    assert_bit_identical(vec, np.asarray(stream("VWAP", frame, session="1m")), "one bar per session")
    np.testing.assert_allclose(vec, close, rtol=1e-15)
