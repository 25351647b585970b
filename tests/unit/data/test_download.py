"""The pieces of ``bot4 data download`` that need no venue: store layout, row checks, choices, URLs, times.

The paging, resume, retry and gap-repair behaviour is tested against the local exchange server in
``tests/integration/test_data_download.py``.
"""

from __future__ import annotations

from pathlib import Path

import ccxt  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest

from bot4.cli.data_commands import _UserError, local_url, parse_time
from bot4.data.download import DownloadError, RetryPolicy, UnknownChoice, _parse, _validate, check_timeframe
from bot4.data.loaders import load_ohlcv
from bot4.data.store import CandleStore

T0 = 1_672_677_900_000  # 2023-01-02 16:45 UTC, a 5m boundary
GOOD = [[T0 + i * 300_000, 10.0, 12.0, 9.0, 11.0, 5.0] for i in range(3)]


def frame(rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["timestamp_ms", "open", "high", "low", "close", "volume"]).astype(
        {"timestamp_ms": "int64"}
    )


@pytest.mark.parametrize(
    ("symbol", "name"),
    [
        ("BTC/USDT", "BTC_USDT-5m.parquet"),
        ("eth/btc", "ETH_BTC-5m.parquet"),
        ("BTC/USDT:USDT", "BTC_USDT_USDT-5m.parquet"),
    ],
)
def test_store_path_when_symbol_given_then_freqtrade_name_the_loader_understands(
    tmp_path: Path, symbol: str, name: str
) -> None:
    store = CandleStore(tmp_path)
    path = store.write("binance", symbol, "5m", frame(GOOD))
    assert path == tmp_path / "binance" / name
    series = load_ohlcv(path)
    assert series.symbol == symbol.upper() and series.timeframe == "5m"
    assert list(series.ts_open // 1_000_000) == [r[0] for r in GOOD]


@pytest.mark.parametrize(
    ("exchange", "symbol", "timeframe", "needle"),
    [
        ("binance", "../../etc/passwd", "5m", "symbol '../../etc/passwd'"),
        ("binance", "BTC/US DT", "5m", "symbol 'BTC/US DT'"),
        ("binance", "BTCUSDT", "5m", "symbol 'BTCUSDT': expected BASE/QUOTE"),
        ("../x", "BTC/USDT", "5m", "exchange id '../x'"),
        ("binance", "BTC/USDT", "5m/..", "timeframe '5m/..'"),
    ],
)
def test_store_path_when_name_could_escape_the_store_then_refused_naming_it(
    tmp_path: Path, exchange: str, symbol: str, timeframe: str, needle: str
) -> None:
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        CandleStore(tmp_path).path(exchange, symbol, timeframe)


def test_store_write_when_replacing_then_no_temp_file_is_left_and_read_returns_new_content(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.write("binance", "BTC/USDT", "5m", frame(GOOD[:1]))
    store.write("binance", "BTC/USDT", "5m", frame(GOOD))
    assert [p.name for p in (tmp_path / "binance").iterdir()] == ["BTC_USDT-5m.parquet"]
    back = store.read("binance", "BTC/USDT", "5m")
    assert back is not None
    pd.testing.assert_frame_equal(back, frame(GOOD), check_dtype=False)
    assert store.read("binance", "ETH/USDT", "5m") is None


def test_store_write_when_it_fails_then_the_old_file_is_untouched(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    path = store.write("binance", "BTC/USDT", "5m", frame(GOOD))
    before = path.read_bytes()
    bad = frame(GOOD).astype({"volume": object})
    bad.loc[1, "volume"] = "not a number"  # pyarrow refuses it half-way through the write
    with pytest.raises((ValueError, TypeError)):
        store.write("binance", "BTC/USDT", "5m", bad)
    assert path.read_bytes() == before and len(list(path.parent.iterdir())) == 1


@pytest.mark.parametrize(
    ("col", "value", "needle"),
    [
        (1, float("nan"), "open is nan"),
        (4, float("inf"), "close is inf"),
        (3, -1.0, "low must be positive, got -1.0"),
        (5, -2.0, "volume must not be negative, got -2.0"),
        (2, 8.0, "high < low (high=8.0, low=9.0)"),
        (1, 13.0, "open 13.0 is outside [low 9.0, high 12.0]"),
    ],
)
def test_validate_when_a_candle_is_bad_then_error_names_its_time_field_and_value(
    col: int, value: float, needle: str
) -> None:
    rows = [list(r) for r in GOOD]
    rows[1][col] = value
    ts, values = _parse(rows, "test")
    with pytest.raises(DownloadError) as info:
        _validate(ts, values, 300_000, "binance BTC/USDT 5m")
    assert "binance BTC/USDT 5m: bad candle at 2023-01-02 16:50 UTC" in str(info.value)
    assert needle in str(info.value)


def test_validate_when_open_time_is_off_the_timeframe_grid_then_refused() -> None:
    ts, values = _parse([[T0 + 60_000, 10.0, 12.0, 9.0, 11.0, 5.0]], "test")
    with pytest.raises(DownloadError, match="bad candle at 2023-01-02 16:46 UTC: open time is not on a 300 s boundary"):
        _validate(ts, values, 300_000, "x")


def test_validate_when_rows_are_good_then_passes_and_none_volume_is_refused() -> None:
    ts, values = _parse(GOOD, "test")
    _validate(ts, values, 300_000, "x")
    ts, values = _parse([[T0, 10.0, 12.0, 9.0, 11.0, None]], "test")
    with pytest.raises(DownloadError, match="volume is nan"):
        _validate(ts, values, 300_000, "x")


def test_check_timeframe_when_unknown_then_close_matches_and_the_valid_list() -> None:
    exchange = ccxt.binance()
    assert check_timeframe(exchange, "5m") == 300_000
    assert check_timeframe(exchange, "1w") == 604_800_000
    with pytest.raises(UnknownChoice, match=r"timeframe for binance '15min'; did you mean '15m'.*valid: 1s, 1m"):
        check_timeframe(exchange, "15min")
    with pytest.raises(UnknownChoice, match="calendar months"):
        check_timeframe(exchange, "1M")


def test_retry_policy_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:9/api", "http://localhost:9"),
        ("https://127.0.0.1", "https://127.0.0.1"),
    ],
)
def test_local_url_when_loopback_then_accepted(url: str, base: str) -> None:
    assert local_url(url) == base


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:80",
        "http://127.0.0.1@evil.example:80",
        "http://localhost.evil.example",
        "http://10.0.0.1:8080",
        "ftp://127.0.0.1:21",
        "127.0.0.1:8080",
        "http://127.0.0.1:99999",
    ],
)
def test_local_url_when_not_a_loopback_http_server_then_refused_naming_it(url: str) -> None:
    with pytest.raises(_UserError, match=f"--url '{url}'"):
        local_url(url)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2020-01-01", 1_577_836_800_000),
        ("2020-01-01T01:00", 1_577_840_400_000),
        ("2020-01-01T02:00+01:00", 1_577_840_400_000),
        ("1577836800000", 1_577_836_800_000),
    ],
)
def test_parse_time_when_date_or_epoch_ms_then_utc_milliseconds(text: str, ms: int) -> None:
    assert parse_time(text, "--since") == ms


def test_parse_time_when_garbage_then_error_names_the_option() -> None:
    with pytest.raises(_UserError, match="--until 'soon': expected a date"):
        parse_time("soon", "--until")
    assert np.int64(parse_time("2023-01-02 16:45", "--since")) == T0
