"""Binance stream messages to bot4 records: exact fills, and every bad field refused by name (D2, E5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot4.data.book.scale import Scale
from bot4.execution.states import OmsStatus
from bot4.model.enums import Liquidity, Side
from bot4.venues.streams.binance_messages import (
    MessageError,
    execution_key,
    parse_depth_snapshot,
    parse_depth_update,
    parse_execution_report,
    parse_trade,
)

SCALE = Scale(Decimal("0.01"), Decimal("0.00001"))
INSTRUMENTS = {"BTCUSDT": "BTCUSDT.BINANCE"}


def report(**over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "e": "executionReport", "E": 1_700_000_000_123, "s": "BTCUSDT", "c": "bot4-7", "S": "BUY", "o": "LIMIT",
        "q": "0.30000000", "p": "64000.00000000", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE", "i": 42,
        "l": "0.10000000", "z": "0.20000000", "L": "64000.00000000", "n": "0.00640000", "N": "USDT",
        "T": 1_700_000_000_120, "t": 9001, "I": 77, "m": True, "C": "",
    }  # fmt: skip
    msg.update(over)
    return msg


def test_execution_report_when_trade_then_fill_with_trade_id_last_qty_cum_and_fee_in_decimal() -> None:
    r = parse_execution_report(report(), INSTRUMENTS)
    assert (r.client_order_id, r.status, r.seq, r.trade_seq) == ("bot4-7", OmsStatus.PARTIALLY_FILLED, 77, 9001)
    assert r.cum_quantity == Decimal("0.2") and r.ts_event == 1_700_000_000_120_000_000
    f = r.fill
    assert f is not None
    assert (f.trade_id, f.side, f.quantity, f.price) == ("9001", Side.BUY, Decimal("0.1"), Decimal("64000"))
    assert (f.fee, f.fee_currency, f.liquidity, f.instrument_id) == (
        Decimal("0.0064"), "USDT", Liquidity.MAKER, "BTCUSDT.BINANCE",
    )  # fmt: skip
    assert execution_key(report()) == ("BTCUSDT", 42, 77)


def test_execution_report_when_canceled_then_named_by_original_client_id_and_no_fill() -> None:
    r = parse_execution_report(report(x="CANCELED", X="CANCELED", c="cancel-req-1", C="bot4-7", t=-1), INSTRUMENTS)
    assert (r.client_order_id, r.status, r.fill) == ("bot4-7", OmsStatus.CANCELED, None)


def test_execution_report_when_rejected_then_reason_kept() -> None:
    r = parse_execution_report(report(x="REJECTED", X="REJECTED", r="INSUFFICIENT_BALANCE"), INSTRUMENTS)
    assert r.status is OmsStatus.REJECTED and r.reason == "INSUFFICIENT_BALANCE"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"l": "abc"}, "'l' is not a number"),
        ({"n": "NaN"}, "'n' must be a finite"),
        ({"z": "-1"}, "'z' must be a finite"),
        ({"I": "77"}, "'I' must be an integer"),
        ({"X": "WEIRD"}, "unknown order status"),
        ({"s": "ETHUSDT"}, "not one of ours"),
        ({"S": "HOLD"}, "'S' must be BUY or SELL"),
    ],
)
def test_execution_report_when_field_bad_then_message_error_names_it(over: dict[str, Any], field: str) -> None:
    with pytest.raises(MessageError, match=field):
        parse_execution_report(report(**over), INSTRUMENTS)


def test_execution_report_when_field_missing_then_message_error_names_it() -> None:
    msg = report()
    del msg["t"]
    with pytest.raises(MessageError, match="field 't' is missing"):
        parse_execution_report(msg, INSTRUMENTS)


def depth(**over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"e": "depthUpdate", "E": 5, "s": "BTCUSDT", "U": 10, "u": 12,
                           "b": [["64000.01", "1.5"]], "a": [["64000.02", "0"]]}  # fmt: skip
    msg.update(over)
    return msg


def test_depth_update_when_valid_then_ticks_and_lots() -> None:
    d = parse_depth_update(depth(), SCALE)
    assert (d.first_update_id, d.last_update_id, d.ts_ms) == (10, 12, 5)
    assert d.bids == [(6400001, 150000)] and d.asks == [(6400002, 0)]


@pytest.mark.parametrize(
    ("level", "why"),
    [
        (["abc", "1"], "not a number"),
        (["NaN", "1"], "must be finite"),
        (["-64000", "1"], "positive multiple"),
        (["64000.01", "-1"], "non-negative multiple"),
        (["64000.001", "1"], "multiple of the tick"),
        (["64000.01"], r"must be \[price, qty\]"),
    ],
)
def test_depth_update_when_level_invalid_then_refused_naming_side_and_index(level: list[str], why: str) -> None:
    with pytest.raises(MessageError, match=why) as exc:
        parse_depth_update(depth(b=[["64000.01", "1"], level]), SCALE)
    assert "depthUpdate BTCUSDT b[1]" in str(exc.value)


def test_depth_snapshot_when_not_an_object_or_ids_missing_then_refused() -> None:
    with pytest.raises(MessageError, match="expected a JSON object"):
        parse_depth_snapshot([], SCALE, "BTCUSDT")
    with pytest.raises(MessageError, match="'lastUpdateId' is missing"):
        parse_depth_snapshot({"bids": [], "asks": []}, SCALE, "BTCUSDT")
    snap = parse_depth_snapshot({"lastUpdateId": 9, "bids": [["1.00", "2"]], "asks": []}, SCALE, "BTCUSDT")
    assert (snap.last_update_id, snap.bids) == (9, [(100, 200000)])


def test_trade_when_valid_then_tick_with_aggressor_and_when_bad_then_refused() -> None:
    msg = {"e": "trade", "s": "BTCUSDT", "t": 5, "p": "64000.5", "q": "0.01", "T": 1000, "m": True}
    t = parse_trade(msg, "X")
    assert (t.price, t.size, t.aggressor, t.trade_id, t.ts_event) == (64000.5, 0.01, "SELL", "5", 1_000_000_000)
    with pytest.raises(MessageError, match="'p' must be a finite positive"):
        parse_trade({**msg, "p": "0"}, "X")
    with pytest.raises(MessageError, match="'m' must be true or false"):
        parse_trade({**msg, "m": "yes"}, "X")
