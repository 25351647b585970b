"""Loader behaviour: every supported layout yields the same bars, and every defect is named."""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot4.data import (
    DataError,
    bundled_path,
    infer_from_file_name,
    list_bundled,
    load_bundled,
    load_ohlcv,
    load_ohlcv_report,
)
from bot4.data.bars import NS_PER_MINUTE, BarSeries

HEADER = "timestamp_ms,open,high,low,close,volume\n"
T0 = 1515560100000  # 2018-01-10 04:55 UTC, a 5m boundary
FIVE_MIN_MS = 300_000


def rows(*lines: str) -> str:
    return HEADER + "".join(line + "\n" for line in lines)


def good(i: int, o: str = "1.0", h: str = "2.0", lo: str = "0.5", c: str = "1.5", v: str = "10") -> str:
    return f"{T0 + i * FIVE_MIN_MS},{o},{h},{lo},{c},{v}"


def write(tmp_path: Path, text: str, name: str = "TEST_ETH_BTC_5m.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_same_bars(a: BarSeries, b: BarSeries) -> None:
    np.testing.assert_array_equal(a.ts_open, b.ts_open)
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("lines", "row", "column", "problem"),
    [
        ((good(0), good(1, h="abc")), 2, "high", "cannot parse 'abc' as a number"),
        ((good(0), good(2), good(1)), 3, "timestamp", "timestamps not sorted: earlier than row 2"),
        ((good(0), good(1), good(1)), 3, "timestamp", "duplicate timestamp: same as row 2"),
        ((good(0), good(1, c="nan")), 2, "close", "price is empty or NaN"),
        ((good(0), good(1, lo="")), 2, "low", "price is empty or NaN"),
        ((good(0), good(1, h="inf")), 2, "high", "price is infinite (inf)"),
        ((good(0), good(1, lo="-0.5")), 2, "low", "low price must be positive, got -0.5"),
        ((good(0), good(1, o="0")), 2, "open", "open price must be positive, got 0.0"),
        ((good(0), good(1, h="0.4")), 2, "high", "high < low (high=0.4, low=0.5)"),
        ((good(0), good(1, o="2.5")), 2, "open", "open 2.5 is outside [low 0.5, high 2.0]"),
        ((good(0), good(1, c="0.25")), 2, "close", "close 0.25 is outside [low 0.5, high 2.0]"),
        ((good(0), good(1, v="-3")), 2, "volume", "volume must not be negative, got -3.0"),
        ((good(0), good(1, v="")), 2, "volume", "volume is empty or NaN while other rows have volume"),
    ],
)
def test_load_when_row_is_bad_then_error_names_file_row_timestamp_and_problem(
    tmp_path: Path, lines: tuple[str, ...], row: int, column: str, problem: str
) -> None:
    path = write(tmp_path, rows(*lines))
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    message = str(info.value)
    assert str(path) in message
    assert f"row {row} (2018-01-10 " in message
    assert f"column {column!r}" in message
    assert problem in message
    assert info.value.row == row


def test_load_when_several_rows_share_a_defect_then_the_first_is_named_and_the_rest_counted(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, rows(good(0), good(1, v="-1"), good(2), good(3, v="-2"), good(4, v="-4")))
    with pytest.raises(DataError, match=r"row 2 \(2018-01-10 05:00:00 UTC\).*\(and 2 more rows like it\)"):
        load_ohlcv(path)


def test_load_when_columns_are_missing_then_error_names_them_and_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "timestamp_ms,open,close,volume\n1515560100000,1,1,1\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert str(info.value) == (f"{path}: missing columns high, low; found timestamp_ms, open, close, volume")


def test_load_when_file_is_empty_then_error_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(DataError, match=re.escape(f"{path}: empty file: no data rows")):
        load_ohlcv(path)


def test_load_when_file_has_only_a_header_then_error_says_no_data_rows(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER)
    with pytest.raises(DataError, match="empty file: no data rows"):
        load_ohlcv(path)


def test_load_when_json_array_is_empty_then_error_says_no_data_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "[]", "ETH_BTC-5m.json")
    with pytest.raises(DataError, match="empty file: no data rows"):
        load_ohlcv(path)


def test_load_when_timestamp_is_off_the_timeframe_grid_then_error_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), f"{T0 + FIVE_MIN_MS + 60_000},1,2,0.5,1.5,1"))
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert "row 2 (2018-01-10 05:01:00 UTC)" in str(info.value)
    assert "not on a 5m boundary" in str(info.value)


def test_load_when_timestamp_text_is_not_a_date_then_error_quotes_it(tmp_path: Path) -> None:
    text = "date,open,high,low,close,volume\n2018-01-10 04:55:00,1,2,0.5,1.5,1\nyesterday,1,2,0.5,1.5,1\n"
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=r"row 2, column 'timestamp': cannot parse timestamp 'yesterday'"):
        load_ohlcv(path)


def test_load_when_timestamps_descend_then_error_suggests_sorting(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(2), good(1), good(0)))
    with pytest.raises(DataError, match=r"row 2 .*descending order.*sort the file oldest first"):
        load_ohlcv(path)


def test_load_when_timestamp_is_negative_then_error_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), "-5,1,2,0.5,1.5,1"))
    with pytest.raises(DataError, match="row 2, column 'timestamp': timestamp -5 is not after 1970-01-01"):
        load_ohlcv(path)


def test_load_when_symbol_cannot_be_inferred_then_error_asks_for_it(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), good(1)), "candles.csv")
    with pytest.raises(DataError, match=r"candles.csv: cannot infer the symbol .* pass symbol="):
        load_ohlcv(path)


def test_load_when_single_bar_and_no_timeframe_anywhere_then_error_asks_for_it(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0)), "candles.csv")
    with pytest.raises(DataError, match="cannot infer the timeframe from a single bar; pass timeframe="):
        load_ohlcv(path, symbol="ETH/BTC")


def test_load_when_extension_is_unknown_then_error_lists_supported_types(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0)), "ETH_BTC-5m.xlsx")
    with pytest.raises(DataError, match=r"unsupported file type 'ETH_BTC-5m.xlsx': expected .csv"):
        load_ohlcv(path)


def test_load_when_json_is_malformed_then_error_gives_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[[1515560100000, 1, 2, 0.5, 1.5, 1],\n[1515560400000, 1, 2", "ETH_BTC-5m.json")
    with pytest.raises(DataError, match="invalid JSON at line 2"):
        load_ohlcv(path)


def test_load_when_csv_row_has_extra_fields_then_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), good(1) + ",7,8"))
    with pytest.raises(DataError, match=r"cannot parse CSV: .*line 3"):
        load_ohlcv(path)


def test_load_when_file_does_not_exist_then_file_not_found_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("nope.csv")):
        load_ohlcv(tmp_path / "nope.csv")


def test_load_when_real_funding_rate_file_then_refused_as_not_prices(shared_data: Path) -> None:
    # freqtrade stores funding rates in the OHLCV layout with zeros for high/low/close.
    path = shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.json"
    with pytest.raises(DataError, match="price must be positive"):
        load_ohlcv(path)


# --------------------------------------------------------------------------- layouts


def _readme_normalized_rows(shared_data: Path) -> dict[str, int]:
    text = (shared_data / "README.md").read_text()
    table = re.findall(r"^\| `ohlcv/([^`]+)` \| `[^`]+` \| ([\d,]+) \|", text, flags=re.MULTILINE)
    return {name: int(count.replace(",", "")) for name, count in table}


def test_load_when_every_shared_ohlcv_file_then_row_counts_match_the_readme(shared_data: Path) -> None:
    expected = _readme_normalized_rows(shared_data)
    files = sorted(p.name for p in (shared_data / "ohlcv").glob("*.csv"))
    assert sorted(expected) == files and len(files) == 24
    for name in files:
        series = load_ohlcv(shared_data / "ohlcv" / name)
        assert len(series) == expected[name], name
        assert series.ts_open.dtype == np.int64 and series.close.dtype == np.float64


def test_load_when_shared_name_then_symbol_and_timeframe_come_from_it(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "ohlcv/BINANCE-USDM_BTC_USDT_5m.csv")
    assert (report.series.symbol, report.series.timeframe) == ("BTC/USDT", "5m")
    assert (report.symbol_from, report.timeframe_from, report.timestamp_unit) == (
        "file name",
        "file name",
        "ms",
    )
    assert report.series.ts_open[0] == pd.Timestamp("2023-01-02 16:45", tz="UTC").value


def test_load_when_freqtrade_json_then_bars_equal_the_normalized_csv(shared_data: Path) -> None:
    from_json = load_ohlcv(shared_data / "freqtrade/bittrex/ETH_BTC-5m.json")
    from_csv = load_ohlcv(shared_data / "ohlcv/BITTREX_ETH_BTC_5m.csv")
    assert from_json.symbol == "ETH/BTC" and from_json.timeframe == "5m"
    assert_same_bars(from_json, from_csv)


def test_load_when_freqtrade_feather_then_bars_equal_the_normalized_csv(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "freqtrade/binance/XRP_ETH-1m.feather")
    assert report.series.symbol == "XRP/ETH" and report.layout == "feather columns"
    assert_same_bars(report.series, load_ohlcv(shared_data / "ohlcv/BINANCE_XRP_ETH_1m.csv"))


def test_load_when_pandas_column_json_then_bars_equal_the_normalized_csv(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "freqtrade/orderflow/candles.json", symbol="BTC/USDT")
    assert report.layout == "json columns" and report.timeframe_from == "most common interval"
    assert report.series.timeframe == "5m"
    assert_same_bars(report.series, load_ohlcv(shared_data / "ohlcv/BINANCE-USDM_BTC_USDT_5m.csv"))


def test_load_when_binance_kline_without_header_then_first_six_columns_are_used(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "nautilus_trader/binance/ADABTC-1m-2021-11-27.csv")
    series = report.series
    assert report.layout == "csv without header (Binance kline, 12 columns)"
    assert (series.symbol, series.timeframe, len(series)) == ("ADA/BTC", "1m", 10)
    assert series.ts_open[0] == pd.Timestamp("2021-11-27", tz="UTC").value
    assert (series.open[0], series.high[0], series.low[0], series.close[0]) == (
        2.853e-05,
        2.854e-05,
        2.851e-05,
        2.854e-05,
    )
    assert series.volume[0] == 36304.2
    assert float(series.close.min()) == 2.854e-05 and float(series.close.max()) == 2.865e-05


def test_load_when_binance_kline_in_microseconds_then_same_bars_as_milliseconds(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "nautilus_trader/binance/ADABTC-1m-2021-11-27.csv"
    lines = []
    for line in source.read_text().splitlines():
        fields = line.split(",")
        fields[0] = str(int(fields[0]) * 1000)
        fields[6] = str(int(fields[6]) * 1000 + 999)
        lines.append(",".join(fields))
    path = write(tmp_path, "\n".join(lines) + "\n", "ADABTC-1m-2025-01-02.csv")
    report = load_ohlcv_report(path)
    assert report.timestamp_unit == "us"
    assert_same_bars(report.series, load_ohlcv(source))


def test_load_when_file_switches_from_ms_to_us_then_each_value_is_read_in_its_own_unit(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, rows(good(0), f"{(T0 + FIVE_MIN_MS) * 1000},1,2,0.5,1.5,1"))
    report = load_ohlcv_report(path)
    assert report.timestamp_unit == "ms+us"
    assert list(np.diff(report.series.ts_open)) == [5 * NS_PER_MINUTE]


@pytest.mark.parametrize("scale", [1 / 1000, 1, 1000, 1_000_000])
def test_load_when_epoch_unit_varies_then_timestamps_are_identical(tmp_path: Path, scale: float) -> None:
    ts = [round((T0 + i * FIVE_MIN_MS) * scale) for i in range(3)]
    path = write(tmp_path, rows(*(f"{t},1,2,0.5,1.5,1" for t in ts)))
    expected = [(T0 + i * FIVE_MIN_MS) * 1_000_000 for i in range(3)]
    assert load_ohlcv(path).ts_open.tolist() == expected


def test_load_when_ftx_iso_timestamps_then_read_as_utc(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "nautilus_trader/ftx/btc-perp-20211231-20220201_1m.csv")
    series = report.series
    assert (series.symbol, series.timeframe, len(series)) == ("BTC-PERP", "1m", 45_031)
    assert report.timestamp_unit == "iso8601"
    assert series.ts_open[0] == pd.Timestamp("2021-12-31 23:01", tz="UTC").value
    assert series.ts_open[-1] == pd.Timestamp("2022-02-01 05:31", tz="UTC").value
    assert (float(series.close.min()), float(series.close.max())) == (33061.0, 47988.0)


@pytest.mark.parametrize("column", ["date", "datetime", "Time", "DATE"])
def test_load_when_iso_header_with_offset_then_converted_to_utc(tmp_path: Path, column: str) -> None:
    text = (
        f"{column},Open,High,Low,Close,Volume\n"
        "2018-01-10T05:55:00+01:00,1,2,0.5,1.5,1\n"
        "2018-01-10T05:00:00Z,1,2,0.5,1.5,1\n"
    )
    series = load_ohlcv(write(tmp_path, text))
    assert series.ts_open.tolist() == [T0 * 1_000_000, (T0 + FIVE_MIN_MS) * 1_000_000]


def test_load_when_short_aliases_and_odd_case_then_columns_are_recognised(tmp_path: Path) -> None:
    text = "Timestamp;O;H;L;C;Vol\n1515560100000;1;2;0.5;1.5;7\n1515560400000;1;2;0.5;1.25;8\n"
    series = load_ohlcv(write(tmp_path, text))
    assert series.close.tolist() == [1.5, 1.25] and series.volume.tolist() == [7.0, 8.0]


def test_load_when_ccxt_header_then_read_like_shared_format(tmp_path: Path) -> None:
    text = "timestamp,open,high,low,close,volume\n" + "\n".join(good(i) for i in range(3)) + "\n"
    series = load_ohlcv(write(tmp_path, text, "ETH_BTC-5m.csv"))
    assert (series.symbol, series.timeframe, len(series)) == ("ETH/BTC", "5m", 3)


def test_load_when_csv_is_gzipped_then_same_bars(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "ohlcv/BITTREX_ADA_BTC_5m.csv"
    packed = tmp_path / "BITTREX_ADA_BTC_5m.csv.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert_same_bars(load_ohlcv(packed), load_ohlcv(source))


def test_load_when_parquet_with_datetime_column_then_same_bars(shared_data: Path, tmp_path: Path) -> None:
    source = load_ohlcv(shared_data / "ohlcv/BITTREX_LTC_BTC_5m.csv")
    frame = source.to_frame().rename(columns=str.capitalize).rename_axis("Date").reset_index()
    path = tmp_path / "LTC_BTC-5m.parquet"
    frame.to_parquet(path)
    loaded = load_ohlcv(path)
    assert loaded.symbol == "LTC/BTC"
    assert_same_bars(loaded, source)


def test_load_when_parquet_with_datetime_index_then_index_is_the_timestamp(shared_data: Path, tmp_path: Path) -> None:
    source = load_ohlcv(shared_data / "ohlcv/BITTREX_XLM_BTC_5m.csv")
    path = tmp_path / "XLM_BTC-5m.parquet"
    source.to_frame().rename_axis("date").to_parquet(path)
    assert_same_bars(load_ohlcv(path), source)


def test_load_when_json_records_with_string_numbers_then_parsed(tmp_path: Path) -> None:
    records = [{"t": T0 + i * FIVE_MIN_MS, "o": "1", "h": "2", "l": "0.5", "c": "1.5", "v": "3"} for i in range(2)]
    series = load_ohlcv(write(tmp_path, json.dumps(records), "ETH_BTC-5m.json"))
    assert series.high.tolist() == [2.0, 2.0] and series.volume.tolist() == [3.0, 3.0]


def test_load_when_mark_price_volume_is_null_then_zero_with_a_note(shared_data: Path) -> None:
    report = load_ohlcv_report(shared_data / "freqtrade/futures/XRP_USDT_USDT-1h-mark.json")
    assert len(report.series) == 100 and not report.series.volume.any()
    assert report.series.symbol == "XRP/USDT:USDT"
    assert report.notes == ("volume is empty in every row (e.g. a mark-price series); volume set to 0.0",)


def test_load_when_no_volume_column_then_zero_with_a_note(tmp_path: Path) -> None:
    text = "time,open,high,low,close\n" + "\n".join(good(i).rsplit(",", 1)[0] for i in range(2)) + "\n"
    report = load_ohlcv_report(write(tmp_path, text))
    assert report.series.volume.tolist() == [0.0, 0.0]
    assert report.notes == ("no volume column; volume set to 0.0",)


def test_load_when_timeframe_given_then_it_overrides_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), good(3)), "TEST_ETH_BTC_1m.csv")
    report = load_ohlcv_report(path, timeframe="5m", symbol="ETH/USDT")
    assert (report.series.timeframe, report.timeframe_from) == ("5m", "argument")
    assert (report.series.symbol, report.symbol_from) == ("ETH/USDT", "argument")


def test_load_when_name_has_no_timeframe_then_most_common_interval_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), good(1), good(2), good(4)), "eth.csv")
    assert load_ohlcv(path, symbol="ETH/BTC").timeframe == "5m"


@pytest.mark.parametrize(
    ("name", "symbol", "timeframe"),
    [
        ("BITTREX_ETH_BTC_5m.csv", "ETH/BTC", "5m"),
        ("BINANCE-USDM-MARK_XRP_USDT_1h.csv", "XRP/USDT", "1h"),
        ("ETH_BTC-5m.json", "ETH/BTC", "5m"),
        ("XRP_USDT_USDT-8h-mark.json", "XRP/USDT:USDT", "8h"),
        ("ADABTC-1m-2021-11-27.csv", "ADA/BTC", "1m"),
        ("BTCFDUSD-1h-2025-03.csv.zip", "BTC/FDUSD", "1h"),
        ("btc-perp-20211231-20220201_1m.csv", "BTC-PERP", "1m"),
        ("ETH_BTC-1w.feather", "ETH/BTC", "7d"),
        ("my_candles_15m.csv", None, "15m"),
        ("candles.csv", None, None),
    ],
)
def test_infer_from_file_name_when_known_pattern_then_symbol_and_timeframe(
    name: str, symbol: str | None, timeframe: str | None
) -> None:
    assert infer_from_file_name(name) == (symbol, timeframe)


# --------------------------------------------------------------------------- bundled data


def test_list_bundled_when_called_then_names_the_two_demo_sets() -> None:
    assert list_bundled() == ["BINANCE-USDM_BTC_USDT_5m.csv", "BITTREX_ETH_BTC_5m.csv"]


def test_bundled_path_when_known_name_then_file_is_an_unchanged_copy_of_shared_data(
    shared_data: Path,
) -> None:
    for name in list_bundled():
        assert bundled_path(name).read_bytes() == (shared_data / "ohlcv" / name).read_bytes()
    assert (bundled_path("BITTREX_ETH_BTC_5m").parent / "README.md").is_file()


def test_load_bundled_when_eth_btc_then_5760_bars_of_5m() -> None:
    series = load_bundled("BITTREX_ETH_BTC_5m")
    assert (series.symbol, series.timeframe, len(series)) == ("ETH/BTC", "5m", 5760)


def test_bundled_path_when_unknown_name_then_error_lists_available_sets() -> None:
    with pytest.raises(
        ValueError, match=re.escape("no bundled data set 'NOPE'; available: BINANCE-USDM_BTC_USDT_5m.csv")
    ):
        bundled_path("NOPE")


def test_load_when_first_row_is_wider_than_the_header_then_error_names_row_1(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0) + ",9", good(1)))
    with pytest.raises(DataError, match=r"row 1: row has more fields than the header"):
        load_ohlcv(path)


def test_load_when_binance_daily_zip_then_same_bars_as_the_csv_inside(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "nautilus_trader/binance/ADABTC-1m-2021-11-28.csv"
    packed = tmp_path / "ADABTC-1m-2021-11-28.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.write(source, source.name)
    series = load_ohlcv(packed)
    assert (series.symbol, series.timeframe, len(series)) == ("ADA/BTC", "1m", 11)
    assert_same_bars(series, load_ohlcv(source))


def test_load_when_json_is_gzipped_then_same_bars(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "freqtrade/bittrex/NXT_BTC-5m.json"
    packed = tmp_path / "NXT_BTC-5m.json.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert_same_bars(load_ohlcv(packed), load_ohlcv(source))


def test_load_when_json_rows_are_not_arrays_then_error_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "[[1515560100000, 1, 2, 0.5, 1.5, 1], 7]", "ETH_BTC-5m.json")
    with pytest.raises(DataError, match=r"row 2: each JSON row must be an array"):
        load_ohlcv(path)


def test_load_when_json_price_is_text_then_error_quotes_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[1515560100000, 1, 2, 0.5, 1.5, 1], [1515560400000, 1, "two", 0.5, 1.5, 1]]',
        "E_B-5m.json",
    )
    with pytest.raises(DataError, match=r"row 2 \(2018-01-10 05:00:00 UTC\), column 'high': cannot parse 'two'"):
        load_ohlcv(path)


def test_load_when_epoch_seconds_are_floats_then_read_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, rows("1515560100.0,1,2,0.5,1.5,1", "1515560400.000,1,2,0.5,1.5,1"))
    assert load_ohlcv(path).ts_open.tolist() == [T0 * 1_000_000, (T0 + FIVE_MIN_MS) * 1_000_000]


def test_load_when_epoch_column_has_text_then_error_quotes_it(tmp_path: Path) -> None:
    path = write(tmp_path, rows(good(0), "soon,1,2,0.5,1.5,1"))
    with pytest.raises(DataError, match=r"row 2, column 'timestamp': cannot parse timestamp 'soon' as an epoch"):
        load_ohlcv(path)


def test_load_when_binance_kline_with_header_then_open_time_is_the_timestamp(tmp_path: Path) -> None:
    header = (
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
        "taker_buy_quote_volume,ignore\n"
    )
    body = "".join(f"{good(i)},{T0 + (i + 1) * FIVE_MIN_MS - 1},5.0,3,1.0,2.0,0\n" for i in range(2))
    series = load_ohlcv(write(tmp_path, header + body, "ETHBTC-5m-2018-01-10.csv"))
    assert series.ts_open.tolist() == [T0 * 1_000_000, (T0 + FIVE_MIN_MS) * 1_000_000]
    assert series.volume.tolist() == [10.0, 10.0] and series.symbol == "ETH/BTC"
