"""Bars from trades: bucketed by the exchange's trade time, closed by a later trade or by the timer."""

from __future__ import annotations

import pytest

from bot4.live.bars import TradeBarAggregator, bar_series, bars_from_trades, parse_interval
from bot4.model.errors import ConfigError
from bot4.model.events import Bar, TradeTick

S = 1_000_000_000
IID = "BINANCE:BTC/USDT"


def tick(ts: int, price: float, size: float = 1.0) -> TradeTick:
    return TradeTick(IID, ts, price, size, "BUY", str(ts))


def test_interval_when_valid_then_nanoseconds_else_error_names_field() -> None:
    assert parse_interval("100ms") == 100_000_000
    assert parse_interval("1s") == S
    assert parse_interval("5m") == 300 * S
    assert parse_interval("1h") == 3600 * S
    for bad in ("", "0s", "1x", "m5", "-1s"):
        with pytest.raises(ConfigError, match="bar_interval"):
            parse_interval(bad)


def test_aggregator_when_trade_of_later_bucket_arrives_then_previous_bar_is_emitted_with_ohlcv() -> None:
    out: list[Bar] = []
    agg = TradeBarAggregator(IID, S, out.append)
    agg.on_tick(tick(10 * S + 1, 100.0, 1.0))
    agg.on_tick(tick(10 * S + 5, 103.0, 2.0))
    agg.on_tick(tick(10 * S + 7, 99.0, 0.5))
    agg.on_tick(tick(10 * S + 9, 101.0, 0.25))
    assert out == []
    agg.on_tick(tick(11 * S + 2, 200.0))
    assert out == [Bar(IID, 10 * S, 11 * S, 100.0, 103.0, 99.0, 101.0, 3.75)]


def test_aggregator_when_buckets_are_empty_then_nothing_is_emitted_for_them() -> None:
    out: list[Bar] = []
    agg = TradeBarAggregator(IID, S, out.append)
    agg.on_tick(tick(10 * S, 1.0))
    agg.on_tick(tick(15 * S, 2.0))  # 11..14 had no trade
    assert [b.ts_open for b in out] == [10 * S]
    assert agg.open_bucket == 15 * S


def test_flush_when_bucket_end_plus_grace_passed_then_emitted_once_and_not_before() -> None:
    out: list[Bar] = []
    agg = TradeBarAggregator(IID, S, out.append, grace_ns=200_000_000)
    agg.on_tick(tick(10 * S + 3, 5.0))
    assert not agg.flush(11 * S)  # end reached, grace not
    assert not agg.flush(11 * S + 199_999_999)
    assert agg.flush(11 * S + 200_000_000)
    assert not agg.flush(12 * S)  # nothing open any more
    assert len(out) == 1 and out[0].ts_close == 11 * S


def test_aggregator_when_trade_is_late_for_an_emitted_bar_then_dropped_and_counted() -> None:
    out: list[Bar] = []
    agg = TradeBarAggregator(IID, S, out.append)
    agg.on_tick(tick(10 * S, 1.0))
    agg.flush(12 * S)
    agg.on_tick(tick(10 * S + 500, 9.0))  # its bar is closed: it never changes
    assert agg.late == 1 and agg.open_bucket is None
    assert out[0].close == 1.0


def test_aggregator_uses_exchange_timestamps_not_arrival_order_within_a_bucket() -> None:
    out: list[Bar] = []
    agg = TradeBarAggregator(IID, S, out.append)
    agg.on_tick(tick(10 * S + 9, 2.0))
    agg.on_tick(tick(10 * S + 1, 1.0))  # earlier exchange time, later arrival: same bucket
    agg.on_tick(tick(11 * S, 3.0))
    assert out[0].high == 2.0 and out[0].low == 1.0 and out[0].volume == 2.0


def test_bars_from_trades_when_replayed_then_equals_live_aggregation_plus_the_last_bar() -> None:
    trades = [tick(t, float(i)) for i, t in enumerate([S, S + 5, 2 * S, 4 * S + 1, 4 * S + 2])]
    live: list[Bar] = []
    agg = TradeBarAggregator(IID, S, live.append)
    for t in trades:
        agg.on_tick(t)
    batch = bars_from_trades(IID, trades, S)
    assert batch[:-1] == live
    assert batch[-1] == Bar(IID, 4 * S, 5 * S, 3.0, 4.0, 3.0, 4.0, 2.0)
    series = bar_series("BTC/USDT", batch, S)
    assert len(series) == 3 and list(series.ts_close) == [2 * S, 3 * S, 5 * S]
