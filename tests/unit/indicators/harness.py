"""Shared harness for the indicator tests: the real candles they run on, building and running an
indicator by name, and the bit-for-bit / tolerance comparisons against TA-Lib. One copy, so every
indicator family is judged by the same data and the same rules."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib
from talib import abstract as _abstract

from bot4.indicators.base import FloatArray, Indicator, get, stream

#: ``talib.abstract`` builds its ``Function`` at run time; its stubs do not declare it.
abstract: Any = _abstract

#: (file under shared data, rows): tiny BTC-pair prices, sparse/gappy series, large BTC prices.
DATASETS: tuple[tuple[str, int], ...] = (
    ("ohlcv/BITTREX_DASH_BTC_1m.csv", 3000),  # sparse, prices ~0.05 BTC
    ("ohlcv/BITTREX_POWR_BTC_1m.csv", 3000),  # sparsest, prices ~1e-4 BTC
    ("ohlcv/BITTREX_ADA_BTC_5m.csv", 6000),  # whole file, with the 170-minute hole
    ("ohlcv/BINANCE_XRP_ETH_1m.csv", 2500),  # trade-built, gappy
    ("nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv", 3000),  # ~46k USD, other header
)


def case_id(case: tuple[str, dict[str, Any]]) -> str:
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def make(name: str, **params: Any) -> Indicator:
    """A streaming instance of a registered indicator."""
    cls: Any = get(name).streaming
    ind: Indicator = cls(**params)
    return ind


@cache
def load_ohlcv(path: Path, rows: int) -> pd.DataFrame:
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


def assert_equals_talib_bit_for_bit(name: str, params: dict[str, Any], frame: pd.DataFrame) -> None:
    """Both forms of ``name`` reproduce TA-Lib's function of the same name on ``frame``, every output."""
    expected = outputs(name, getattr(talib, name)(*inputs(name, frame), **params))
    vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    streamed = outputs(name, stream(name, frame, **params))
    for out, ref in expected.items():
        assert_bit_identical(vec[out], ref, f"{name}{params} vectorized {out}")
        assert_bit_identical(np.asarray(streamed[out]), ref, f"{name}{params} streaming {out}")


def assert_prefix_unchanged(name: str, params: dict[str, Any], frame: pd.DataFrame, cut: int) -> None:
    """No look-ahead: running either form on the first ``cut`` bars gives the full run's first values."""
    full_vec = outputs(name, get(name).vectorized(*inputs(name, frame), **params))
    part_vec = outputs(name, get(name).vectorized(*inputs(name, frame.iloc[:cut]), **params))
    full_stream = outputs(name, stream(name, frame, **params))
    part_stream = outputs(name, stream(name, frame.iloc[:cut], **params))
    for out in full_vec:
        np.testing.assert_array_equal(part_vec[out], full_vec[out][:cut])
        np.testing.assert_array_equal(part_stream[out], np.asarray(full_stream[out])[:cut])
