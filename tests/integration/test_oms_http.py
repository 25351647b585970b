"""A1/A2/A4 over HTTP: the order manager + REST client against the local exchange server's fault plans.

The exchange's ledger is the ground truth: exactly one order per client id, POSTed once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot4.engine.clock import LiveClock
from bot4.execution.http_client import BinanceRestClient
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.model.instrument import Instrument
from bot4.venues.sim.server import Account, FaultPlan, ServerConfig
from tests.acceptance.test_crash_points import ServerThread
from tests.integration.test_oms_recovery import BACKENDS, make_opener
from tests.unit.execution.harness import status

INST = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.01", step_size="0.000001", min_notional="5")
VARIANTS: dict[str, dict[str, Any]] = {
    "drop_after_book": {"action": "drop_after_book"},
    "status_503_after_booking": {"action": "status", "code": 503, "book": True},
    "code_-1007_after_booking": {
        "action": "status", "code": 408, "book": True,
        "body": {"code": -1007, "msg": "Timeout waiting for response from backend server."},
    },
    "delay_beyond_client_timeout": {"action": "delay", "ms": 900},
}  # fmt: skip
ACCOUNTS = [f"h{i}" for i in range(12)]
_next = iter(range(len(ACCOUNTS)))


@pytest.fixture(scope="module")
def exchange(shared_data: Path) -> Iterator[ServerThread]:
    d = shared_data / "nautilus_trader" / "binance"
    accounts = [Account(a, f"key-{a}", f"secret-{a}", {"USDT": Decimal("100000")}) for a in ACCOUNTS]
    cfg = ServerConfig(
        accounts=accounts, data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"], faults=FaultPlan()
    )
    with ServerThread(cfg) as st:
        yield st


@pytest.fixture(params=BACKENDS)
def oms_on(
    request: pytest.FixtureRequest, tmp_path: Path, exchange: ServerThread
) -> Iterator[tuple[OrderManager, str]]:
    opener, cleanup = make_opener(request.param, tmp_path)
    acct = ACCOUNTS[next(_next)]
    client = BinanceRestClient(
        exchange.server.url, f"key-{acct}", f"secret-{acct}", {INST.id: "BTCUSDT"}, LiveClock(), timeout_s=0.4
    )
    oms = OrderManager(client, opener(), LiveClock(), OmsConfig(id_prefix="ht-", inflight_timeout_ns=200_000_000))
    assert recover(oms, [INST.id]).ok
    yield oms, acct
    exchange.server.api.faults.rules.clear()
    cleanup()


def settle(oms: OrderManager, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while oms.working() and time.monotonic() < end:
        time.sleep(0.05)
        oms.poll()


def fault(ex: ServerThread, spec: dict[str, Any]) -> None:
    ex.server.api.faults.add("POST /api/v3/order", spec.pop("action"), count=1, **spec)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_submit_when_ambiguous_over_http_then_in_flight_then_settled_with_one_order(
    exchange: ServerThread, oms_on: tuple[OrderManager, str], variant: str
) -> None:
    oms, acct = oms_on
    fault(exchange, dict(VARIANTS[variant]))
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert status(rec) is OmsStatus.IN_FLIGHT  # never REJECTED
    time.sleep(1.0 if variant.startswith("delay") else 0)
    settle(oms)
    led = exchange.ledger(acct)
    assert status(rec) is OmsStatus.FILLED and rec.filled_qty == led["executed"]["ht-1"] == Decimal("0.001")
    assert led["counts"] == {"ht-1": 1} and led["posts"] == {"ht-1": 1}
    assert oms.position(INST.id).quantity == led["position"]


def test_submit_when_dropped_before_booking_then_failed_and_nothing_on_exchange(
    exchange: ServerThread, oms_on: tuple[OrderManager, str]
) -> None:
    oms, acct = oms_on
    fault(exchange, {"action": "drop_before_book"})
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert status(rec) is OmsStatus.IN_FLIGHT
    settle(oms)
    assert status(rec) is OmsStatus.FAILED
    assert exchange.ledger(acct)["executed"] == {}
