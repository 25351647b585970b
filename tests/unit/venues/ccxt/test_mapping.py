"""Exact Decimals out of ccxt's dicts, plain notation on the wire, and local-only URLs (no internet)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot4.execution.states import OmsStatus
from bot4.model.enums import Liquidity, OrderType
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.venues.ccxt.client import build_exchange
from bot4.venues.ccxt.mapping import MappingError, reports, snapshot, to_decimal, wire
from bot4.venues.ccxt.overrides import GENERIC, OVERRIDES
from bot4.venues.ccxt.settings import VenueSettings

BINANCE = OVERRIDES["binance"]
INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.000001")


def test_to_decimal_when_float_round_trips_then_exact_else_refused() -> None:
    assert to_decimal(0.1, "q") == Decimal("0.1")
    assert to_decimal(1e-06, "q") == Decimal("0.000001")
    assert to_decimal("39433.62000000", "p") == Decimal("39433.62")
    with pytest.raises(MappingError, match=r"q: 0\.30000000000000004 has more digits"):
        to_decimal(0.1 + 0.2, "q")
    for bad in (None, True, "abc", "NaN", float("inf")):
        with pytest.raises(MappingError, match=r"^q: "):
            to_decimal(bad, "q")


def test_wire_when_tiny_or_trailing_zeros_then_plain_notation() -> None:
    assert wire(Decimal("1E-7")) == "0.0000001"
    assert wire(Decimal("30000.10")) == "30000.10"


def raw_order(**kw: Any) -> dict[str, Any]:
    info = {"origQty": "0.00300000", "executedQty": "0.00100000", "price": "30000.01000000"}
    base = {
        "id": "7", "clientOrderId": "b4-1", "symbol": "BTC/USDT", "side": "buy", "type": "limit", "status": "open",
        "amount": 0.003, "filled": 0.001, "price": 30000.01, "timestamp": 1_700_000_000_000, "info": info,
        "trades": [{"id": "42", "amount": 0.001, "price": 30000.01, "fee": {"cost": 0.03, "currency": "USDT"},
                    "info": {"qty": "0.00100000", "price": "30000.01000000", "commission": "0.03000001"}}],
    }  # fmt: skip
    return {**base, **kw}


def test_reports_when_partial_fill_answer_then_fill_from_exact_raw_strings_and_status() -> None:
    order = Order.create(
        INST, client_order_id="b4-1", strategy_id="s", side="BUY", type="LIMIT", quantity="0.003", price="30000.01"
    )
    fill_report, ack = reports(raw_order(), order, BINANCE)
    assert fill_report.fill is not None and fill_report.fill.fee == Decimal("0.03000001")  # not the float 0.03
    assert (fill_report.trade_seq, fill_report.cum_quantity, fill_report.fill.liquidity) == (
        42, Decimal("0.001"), Liquidity.MAKER
    )  # fmt: skip
    assert (ack.status, ack.ts_event) == (OmsStatus.PARTIALLY_FILLED, 1_700_000_000_000 * 1_000_000)
    assert reports(raw_order(info={}), order, GENERIC)[0].fill.fee == Decimal("0.03")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [("open", 0.0, OmsStatus.ACCEPTED), ("open", 0.001, OmsStatus.PARTIALLY_FILLED), ("closed", 0.003,
     OmsStatus.FILLED), ("canceled", 0.0, OmsStatus.CANCELED), ("expired", 0.0, OmsStatus.EXPIRED),
     ("rejected", 0.0, OmsStatus.REJECTED), ("canceling", 0.0, OmsStatus.ACCEPTED)],
)  # fmt: skip
def test_snapshot_when_unified_status_then_oms_status(status: str, filled: float, expected: OmsStatus) -> None:
    snap = snapshot(raw_order(status=status, filled=filled, info={}), "BINANCE:BTC/USDT", GENERIC)
    assert snap.status is expected and snap.type == OrderType.LIMIT.value and snap.side == "BUY"
    market = snapshot(raw_order(type="market", price=None, info={}), "BINANCE:BTC/USDT", GENERIC)
    assert market.price is None and market.type == "MARKET"


def test_build_exchange_when_local_url_then_every_rest_url_is_loopback_and_tls_verified() -> None:
    s = VenueSettings(exchange="binance", name="BINANCE", symbols=["BTC/USDT"], url="http://127.0.0.1:9")
    ex = build_exchange(s, "k", "s")

    def urls(d: dict[str, Any]) -> list[str]:
        return [u for v in d.values() for u in (urls(v) if isinstance(v, dict) else [v]) if isinstance(u, str)]

    assert all(u.startswith(("http://127.0.0.1:9/", "ws://127.0.0.1:9/")) for u in urls(ex.urls["api"]))
    assert ex.verify is True and ex.options["recvWindow"] == 5000 and ex.options["fetchCurrencies"] is False
    live = build_exchange(s.model_copy(update={"url": None}), "k", "s")
    assert live.urls["api"]["private"].startswith("https://") and live.verify is True
