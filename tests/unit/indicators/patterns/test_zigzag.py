"""Zig-zag swings: confirmation timing, thresholds, bad input, and streaming == batch without look-ahead."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns import Swing, ZigZag, zigzag

from .paths import load_candles


def _stream(high: list[float], low: list[float], close: list[float], **params: object) -> list[Swing]:
    zz = ZigZag(**params)  # type: ignore[arg-type]
    return [s for s in (zz.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)) if s]


def test_update_when_price_reverses_by_deviation_then_swing_confirmed_at_reversal_bar() -> None:
    closes = [100.0, 102.0, 104.0, 106.0, 103.0, 100.0, 99.0, 101.0, 104.0]
    # 106 >= 100 * 1.05 confirms the first low at bar 3; 100 <= 106 * 0.95 confirms the high of bar 3 at
    # bar 5; 104 >= 99 * 1.05 confirms the low of bar 6 at bar 8.
    expected = [Swing("low", 0, 100.0, 3), Swing("high", 3, 106.0, 5), Swing("low", 6, 99.0, 8)]
    assert _stream(closes, closes, closes, deviation=0.05) == expected
    assert zigzag(closes, closes, closes, deviation=0.05) == expected


def test_update_when_reversal_falls_short_of_deviation_then_no_swing() -> None:
    closes = [100.0, 104.0, 99.5, 103.0]  # 104 < 100 * 1.05, 99.5 > 104 * 0.95, 103 < 99.5 * 1.05
    assert _stream(closes, closes, closes, deviation=0.05) == []
    assert zigzag(closes, closes, closes, deviation=0.05) == []


def test_update_when_bar_extends_and_reverses_then_confirmation_waits_for_next_bar() -> None:
    high = [100.0, 105.0, 106.0, 100.5]
    low = [99.0, 104.0, 99.0, 99.5]  # bar 2 makes a new high and dips 6.6 % below it: order unknown
    close = [99.5, 104.5, 100.0, 100.0]
    expected = [Swing("low", 0, 99.0, 1), Swing("high", 2, 106.0, 3)]
    assert _stream(high, low, close, deviation=0.05) == expected
    assert zigzag(high, low, close, deviation=0.05) == expected


def test_zigzag_when_fewer_than_two_bars_then_no_swing() -> None:
    assert zigzag([], [], [], deviation=0.05) == []
    assert zigzag([100.0], [90.0], [95.0], atr_multiple=1.0) == []


def test_update_when_extreme_ties_then_earliest_bar_keeps_it() -> None:
    closes = [100.0, 110.0, 105.0, 110.0, 104.0]
    assert zigzag(closes, closes, closes, deviation=0.05) == [
        Swing("low", 0, 100.0, 1),
        Swing("high", 1, 110.0, 4),
    ]


def _atr_bars() -> tuple[list[float], list[float], list[float]]:
    # Six flat bars (true range 2), a jump (TR 10) and a pull-back (TR 5).
    high = [101.0] * 6 + [110.0, 108.0]
    low = [99.0] * 6 + [108.0, 104.0]
    close = [100.0] * 6 + [109.0, 105.0]
    return high, low, close


def test_update_when_move_exceeds_atr_multiple_then_swings_confirmed() -> None:
    # ATR(5) = 2 at bar 5, (2*4 + 10)/5 = 3.6 at bar 6, (3.6*4 + 5)/5 = 3.88 at bar 7.
    # Bar 6: 110 >= 99 + 1.5*3.6 confirms the low of bar 0; bar 7: 104 <= 110 - 1.5*3.88 confirms bar 6.
    expected = [Swing("low", 0, 99.0, 6), Swing("high", 6, 110.0, 7)]
    assert _stream(*_atr_bars(), atr_multiple=1.5, atr_period=5) == expected
    assert zigzag(*_atr_bars(), atr_multiple=1.5, atr_period=5) == expected


def test_update_when_atr_not_warmed_up_then_no_swing() -> None:
    assert _stream(*_atr_bars(), atr_multiple=1.5, atr_period=10) == []
    assert zigzag(*_atr_bars(), atr_multiple=1.5, atr_period=10) == []


def test_update_when_deviation_and_atr_both_given_then_larger_distance_rules() -> None:
    # 1.5 * ATR is reached at bars 6 and 7, but a 15 % reversal never is: no swing.
    assert zigzag(*_atr_bars(), deviation=0.15, atr_multiple=1.5, atr_period=5) == []
    assert zigzag(*_atr_bars(), deviation=0.01, atr_multiple=1.5, atr_period=5) == [
        Swing("low", 0, 99.0, 6),
        Swing("high", 6, 110.0, 7),
    ]


def test_zigzag_when_timestamps_given_then_swings_carry_extreme_timestamp() -> None:
    closes = [100.0, 102.0, 104.0, 106.0, 103.0, 100.0, 99.0, 101.0, 104.0]
    stamps = np.arange(9, dtype=np.int64) * 300_000 + 1_000
    swings = zigzag(closes, closes, closes, deviation=0.05, timestamps=stamps)
    assert [s.ts for s in swings] == [1_000, 1_000 + 3 * 300_000, 1_000 + 6 * 300_000]
    zz = ZigZag(0.05)
    streamed = [zz.update(c, c, c, ts=int(t)) for c, t in zip(closes, stamps, strict=True)]
    assert [s for s in streamed if s] == swings


def test_update_when_many_swings_then_history_is_bounded_to_latest() -> None:
    closes = [100.0, 110.0] * 30
    zz = ZigZag(0.05, history=3)
    for c in closes:
        zz.update(c, c, c)
    assert zz.swings == tuple(zigzag(closes, closes, closes, deviation=0.05)[-3:])
    assert len(zz.swings) == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "deviation"),
        ({"deviation": 5.0}, "0.05 means a 5 % reversal"),
        ({"deviation": 0.0}, "deviation must be a positive"),
        ({"deviation": math.nan}, "deviation must be a positive"),
        ({"atr_multiple": -1.0}, "atr_multiple must be a positive"),
        ({"atr_multiple": 2.0, "atr_period": 0}, "atr_period must be >= 1"),
        ({"deviation": 0.05, "history": 0}, "history must be >= 1"),
    ],
)
def test_zigzag_when_threshold_invalid_then_error_names_parameter(
    params: dict[str, float], message: str
) -> None:
    with pytest.raises(IndicatorError, match=message):
        ZigZag(**params)  # type: ignore[arg-type]


def test_update_when_bar_invalid_then_error_names_field_and_bar() -> None:
    zz = ZigZag(0.05)
    zz.update(100.0, 99.0, 99.5)
    with pytest.raises(IndicatorError, match="high input is nan"):
        zz.update(math.nan, 99.0, 99.5)
    with pytest.raises(IndicatorError, match=r"bar 1: high 98\.0 is below low 99\.0"):
        zz.update(98.0, 99.0, 98.5)
    with pytest.raises(IndicatorError, match=r"bar 1: low -1\.0 is not positive"):
        zz.update(1.0, -1.0, 0.5)


def test_zigzag_when_arrays_invalid_then_error_names_array_and_row() -> None:
    ok = [100.0, 101.0, 102.0]
    with pytest.raises(IndicatorError, match=r"low has 2 values, expected 3"):
        zigzag(ok, ok[:2], ok, deviation=0.05)
    with pytest.raises(IndicatorError, match=r"close\[1\] is .*nan"):
        zigzag(ok, ok, [100.0, math.nan, 102.0], deviation=0.05)
    with pytest.raises(IndicatorError, match=r"bar 2: high 102\.0 is below low 103\.0"):
        zigzag(ok, [100.0, 101.0, 103.0], ok, deviation=0.05)
    with pytest.raises(IndicatorError, match=r"bar 1: low 0\.0 is not positive"):
        zigzag(ok, [100.0, 0.0, 102.0], ok, deviation=0.05)
    with pytest.raises(IndicatorError, match="timestamps has shape"):
        zigzag(ok, ok, ok, deviation=0.05, timestamps=[1, 2])
    with pytest.raises(IndicatorError, match="timestamps must be integers"):
        zigzag(ok, ok, ok, deviation=0.05, timestamps=[1.5, 2.5, 3.5])


@pytest.mark.parametrize(
    "params",
    [{"deviation": 0.02}, {"atr_multiple": 2.0, "atr_period": 3}, {"deviation": 0.01, "atr_multiple": 1.5}],
)
def test_zigzag_when_random_walks_then_batch_equals_streaming(params: dict[str, float]) -> None:
    rng = np.random.default_rng(7)
    for case in range(40):
        n = int(rng.integers(2, 600))
        mid = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
        spread = np.abs(rng.normal(0.0, 0.004, n)) * mid
        high, low = mid + spread * rng.random(n), mid - spread * rng.random(n)
        if case % 2:  # coarse ticks make equal highs/lows, exercising the tie rule
            high, low = np.round(high), np.round(low)
        close = np.clip(mid, low, high)
        batch = zigzag(high, low, close, **params)  # type: ignore[arg-type]
        assert batch == _stream(high.tolist(), low.tolist(), close.tolist(), **params), case


@pytest.mark.parametrize("params", [{"deviation": 0.01}, {"atr_multiple": 3.0}])
def test_zigzag_when_real_candles_then_no_look_ahead_and_forms_agree(
    shared_data: Path, params: dict[str, float]
) -> None:
    bars = load_candles(shared_data)
    high, low, close = (bars[k].to_numpy() for k in ("high", "low", "close"))
    full = zigzag(high, low, close, **params)  # type: ignore[arg-type]
    assert len(full) > 100
    assert full == _stream(high.tolist(), low.tolist(), close.tolist(), **params)
    for k in (1, 2, 777, 2000, 3333, 4999, len(bars) - 1):
        prefix = zigzag(high[:k], low[:k], close[:k], **params)  # type: ignore[arg-type]
        assert prefix == [s for s in full if s.confirmed_at < k], k
    for prev, cur in itertools.pairwise(full):
        assert cur.kind != prev.kind and cur.index > prev.index


def test_zigzag_when_real_candles_then_each_swing_confirmed_at_first_bar_reaching_deviation(
    shared_data: Path,
) -> None:
    bars = load_candles(shared_data)
    high, low, close = (bars[k].to_numpy() for k in ("high", "low", "close"))
    dev = 0.01
    for s in zigzag(high, low, close, deviation=dev):
        assert s.confirmed_at > s.index
        between = slice(s.index + 1, s.confirmed_at)
        if s.is_high:
            assert high[s.index] == s.price and high[between].max(initial=-np.inf) <= s.price
            assert low[s.confirmed_at] <= s.price - s.price * dev
            assert (low[between] > s.price - s.price * dev).all()
        else:
            assert low[s.index] == s.price and low[between].min(initial=np.inf) >= s.price
            assert high[s.confirmed_at] >= s.price + s.price * dev
            assert (high[between] < s.price + s.price * dev).all()
