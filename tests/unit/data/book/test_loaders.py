"""Feed readers: layouts of the recorded quote/trade files and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.data.book import InvalidLevel, Scale
from bot4.data.book.loaders import (
    FeedError,
    load_binance_depth_csv,
    load_binance_quotes_parquet,
    load_binance_trades_parquet,
    load_bitfinex_l3,
    load_bybit_orderbook,
    load_tardis_quotes,
    load_tardis_trades,
)


def test_tardis_quotes_when_loaded_then_never_crossed_and_ns_timestamps(shared_data: Path) -> None:
    quotes = load_tardis_quotes(shared_data / "nautilus_trader/tardis/quotes.csv", "BINANCE:BTC/USDT")
    assert len(quotes) == 9_999
    assert quotes[0].ts_event == 1582329601096000 * 1000 and quotes[0].ask == 9682.0
    assert all(q.bid < q.ask for q in quotes)


def test_tardis_trades_when_loaded_then_aggressor_upper_case(shared_data: Path) -> None:
    trades = load_tardis_trades(shared_data / "nautilus_trader/tardis/trades.csv", "X")
    assert len(trades) == 9_999 and trades[0].aggressor == "BUY" and trades[0].trade_id == "42377944"


def test_binance_parquet_when_loaded_then_buyer_maker_means_sell_aggressor(shared_data: Path) -> None:
    d = shared_data / "nautilus_trader/binance"
    trades = load_binance_trades_parquet(d / "btcusdt-trades.parquet", "X")
    quotes = load_binance_quotes_parquet(d / "btcusdt-quotes.parquet", "X")
    assert len(trades) == 2_001 and len(quotes) == 451
    assert sum(t.aggressor == "SELL" for t in trades) == 914
    assert trades[0].ts_event == 1610064000278 * 10**6
    assert all(q.bid < q.ask for q in quotes)


def test_bybit_loader_when_line_is_not_a_book_message_then_error_names_line(tmp_path: Path) -> None:
    p = tmp_path / "ob.data"
    p.write_text('{"topic":"x","type":"snapshot","ts":1,"data":{"s":"X","b":[],"a":[],"u":1}}\n{"oops":1}\n')
    with pytest.raises(FeedError, match=r"ob\.data line 2"):
        load_bybit_orderbook(p, Scale.of("0.1", "1"))


def test_bybit_loader_when_price_off_tick_then_invalid_level(tmp_path: Path) -> None:
    p = tmp_path / "ob.data"
    p.write_text('{"type":"snapshot","ts":1,"data":{"b":[["1.05","1"]],"a":[],"u":1}}\n')
    with pytest.raises(InvalidLevel, match=r"line 1 b price: .1\.05. is not a positive multiple of the tick 0\.1"):
        load_bybit_orderbook(p, Scale.of("0.1", "1"))


def test_bitfinex_loader_when_no_snapshot_then_error(tmp_path: Path) -> None:
    p = tmp_path / "l3.json"
    p.write_text('[{"event":"info"}, [1, [5, 100.0, 1.0]]]')
    with pytest.raises(FeedError, match="no snapshot"):
        load_bitfinex_l3(p, Scale.of("0.1", "0.1"))


def test_binance_depth_loader_when_side_unknown_then_error_names_row(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(
        "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
        "BTCUSDT,1,5,5,x,snap,10.0,1.000,-1\n"
    )
    with pytest.raises(FeedError, match=r"d\.csv row 2: update_type .snap. / side .x."):
        load_binance_depth_csv(p, Scale.of("0.1", "0.001"))
