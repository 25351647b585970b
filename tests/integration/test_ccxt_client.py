"""CcxtVenueClient (real synchronous ccxt) against the local exchange server: round trip, faults, limits, clock.

The server's ledger is the ground truth (A1/A2: exactly one order per client id, POSTed once). Rules
of the fault plan double as request counters: a ``delay(0)`` rule's ``seen`` counts what reached the
server, so "zero requests during Retry-After" (E1/E2) is measured on the server side.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from bot4.engine.clock import LiveClock
from bot4.execution.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.execution.states import OmsStatus
from bot4.model.errors import ConfigError
from bot4.model.instrument import Instrument
from bot4.model.orders import Order
from bot4.persistence.journal import SqlJournal
from bot4.venues.ccxt import (
    CcxtVenueClient,
    DuplicateOrderError,
    RateLimitedError,
    TimeSyncError,
    VenueSettings,
    build_exchange,
)
from bot4.venues.sim.server import Account, FaultPlan, ServerConfig
from bot4.venues.sim.server.faults import Rule
from tests.acceptance.test_crash_points import ServerThread

IID = "BINANCE:BTC/USDT"
ACCOUNTS = [f"c{i}" for i in range(24)]
_next = count()


class SkewedClock:
    """LiveClock with the wall clock moved by ``offset_ms`` (E3); monotonic time is untouched."""

    def __init__(self, offset_ms: int) -> None:
        self._live = LiveClock()
        self._offset = offset_ms * 1_000_000

    def now_ns(self) -> int:
        return self._live.now_ns() + self._offset

    def monotonic_ns(self) -> int:
        return self._live.monotonic_ns()


def accounts(**flags: Any) -> list[Account]:
    bal = {"USDT": Decimal("100000"), "BTC": Decimal("1")}
    return [Account(a, f"key-{a}", f"secret-{a}", bal, **flags) for a in ACCOUNTS]


@contextmanager
def serving(shared_data: Path, **kw: Any) -> Iterator[ServerThread]:
    d = shared_data / "nautilus_trader" / "binance"
    kw.setdefault("accounts", accounts())
    cfg = ServerConfig(data=[d / "btcusdt-quotes.parquet", d / "btcusdt-trades.parquet"], faults=FaultPlan(), **kw)
    with ServerThread(cfg) as st:
        yield st


@pytest.fixture(scope="module")
def exchange(shared_data: Path) -> Iterator[ServerThread]:
    with serving(shared_data) as st:
        yield st


def client_for(ex: ServerThread, acct: str | None = None, clock: Any = None, **kw: Any) -> tuple[CcxtVenueClient, str]:
    acct = acct or ACCOUNTS[next(_next)]
    settings = VenueSettings(exchange="binance", name="BINANCE", symbols=["BTC/USDT"], url=ex.server.url, **kw)
    return CcxtVenueClient(
        build_exchange(settings, f"key-{acct}", f"secret-{acct}"), clock or LiveClock(), settings
    ), acct


@pytest.fixture()
def venue(exchange: ServerThread) -> Iterator[tuple[CcxtVenueClient, str, Instrument]]:
    client, acct = client_for(exchange)
    inst = client.load_instruments()[IID]
    yield client, acct, inst
    exchange.server.api.faults.rules.clear()


def fault(ex: ServerThread, endpoint: str, action: str, **spec: Any) -> Rule:
    return ex.server.api.faults.add(endpoint, action, **spec)


def order(inst: Instrument, cid: str, **kw: Any) -> Order:
    kw.setdefault("type", "LIMIT")
    kw.setdefault("side", "BUY")
    kw.setdefault("quantity", "0.001")
    if kw["type"] == "LIMIT":
        kw.setdefault("price", "30000")
    return Order.create(inst, client_order_id=cid, strategy_id="s", **kw)


def ledger_orders(ex: ServerThread, acct: str) -> dict[str, Any]:
    return {o.client_order_id: o for o in ex.server.exchange.ledger.orders.values() if o.account == acct}


# -- round trip ----------------------------------------------------------------------------------------


def test_client_when_trading_round_trip_then_reports_queries_trades_and_balances_match_the_ledger(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, inst = venue
    assert (inst.tick_size, inst.step_size, inst.min_notional) == (Decimal("0.01"), Decimal("0.000001"), 5)
    mkt = client.submit(order(inst, "rt-1", type="MARKET", quantity="0.002"))
    fills = [r.fill for r in mkt if r.fill is not None]
    assert mkt[-1].status is OmsStatus.FILLED and mkt[-1].cum_quantity == Decimal("0.002")
    trade = exchange.server.exchange.ledger.trades[-1]
    assert fills[-1] is not None and fills[-1].trade_id == str(trade.trade_id) and fills[-1].fee == trade.commission
    assert fills[-1].fee_currency == trade.commission_asset == "USDT" and sum(
        f.quantity for f in fills if f
    ) == Decimal("0.002")
    ack = client.submit(order(inst, "rt-2", quantity="0.0015", price="30000.01"))
    assert [r.status for r in ack] == [OmsStatus.ACCEPTED]
    led = ledger_orders(exchange, acct)
    assert led["rt-2"].orig_qty == Decimal("0.0015") and led["rt-2"].price == Decimal("30000.01")  # exact on the wire
    [snap] = client.open_orders()
    assert (snap.client_order_id, snap.status, snap.price, snap.quantity) == (
        "rt-2", OmsStatus.ACCEPTED, Decimal("30000.01"), Decimal("0.0015")
    )  # fmt: skip
    assert client.query_order("rt-2", IID) == snap
    assert client.query_order("never-sent", IID) is None
    [canceled] = client.cancel("rt-2", IID)
    assert canceled.status is OmsStatus.CANCELED and led["rt-2"].status == "CANCELED"
    trades = client.my_trades(IID, 0)
    mine = [t for t in exchange.server.exchange.ledger.trades if t.account == acct]
    assert [t.seq for t in trades] == [t.trade_id for t in mine]
    assert {t.fill.client_order_id for t in trades} == {"rt-1"}
    assert [t.fill.quantity for t in trades] == [t.qty for t in mine]
    assert client.my_trades(IID, trades[-1].seq) == []
    venue_bal = exchange.server.exchange.balances(acct)
    assert {c: v for c, v in client.balances().items() if v[1]} == {c: (f, f + lk) for c, (f, lk) in venue_bal.items()}
    assert client.gate.requests > 0 and 0 <= client.gate.pressure() < 0.1


def test_submit_when_post_only_then_booked_as_limit_maker_and_rests(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, inst = venue
    ack = client.submit(order(inst, "po-1", price="30000", post_only=True))
    assert [r.status for r in ack] == [OmsStatus.ACCEPTED]
    led = ledger_orders(exchange, acct)["po-1"]
    assert led.type == "LIMIT_MAKER" and led.status == "NEW"


def test_submit_when_quantity_off_the_venue_step_then_refused_locally_and_nothing_sent(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, _inst = venue
    coarse = Instrument.spot("BINANCE", "BTC/USDT", tick_size="0.001", step_size="0.0000001")
    with pytest.raises(RejectedError, match=r"quantity 0\.0010001 is not on the venue's grid"):
        client.submit(order(coarse, "grid-1", quantity="0.0010001"))
    assert ledger_orders(exchange, acct) == {}


def test_load_instruments_when_symbol_unknown_then_config_error_with_close_matches(exchange: ServerThread) -> None:
    client, _ = client_for(exchange)
    client.settings = client.settings.model_copy(update={"symbols": ["BTC/USDC"]})
    with pytest.raises(ConfigError, match=r"'BTC/USDC' is not listed on binance; close matches: BTC/USDT"):
        client.load_instruments()


# -- ambiguous and lost submits (A1, A2, E5) ---------------------------------------------------------------

A1_VARIANTS: dict[str, dict[str, Any]] = {
    "drop_after_book": {"action": "drop_after_book"},
    "status_503_after_booking": {"action": "status", "code": 503, "book": True},
    "code_-1007_after_booking": {
        "action": "status", "code": 408, "book": True, "body": {"code": -1007, "msg": "Timeout waiting for response."}
    },
    "malformed_body_E5": {"action": "malformed_body"},
}  # fmt: skip


@pytest.mark.parametrize("variant", sorted(A1_VARIANTS))
def test_submit_when_ambiguous_A1_then_unknown_outcome_and_query_finds_exactly_one_order(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument], variant: str
) -> None:
    client, acct, inst = venue
    spec = dict(A1_VARIANTS[variant])
    fault(exchange, "POST /api/v3/order", spec.pop("action"), count=1, **spec)
    with pytest.raises(UnknownOutcomeError, match="submit a1 BTC/USDT"):
        client.submit(order(inst, "a1"))
    snap = client.query_order("a1", IID)
    assert snap is not None and snap.status is OmsStatus.ACCEPTED
    assert list(ledger_orders(exchange, acct)) == ["a1"]
    assert exchange.server.exchange.ledger.posts[(acct, "a1")] == 1


def test_submit_when_dropped_before_booking_A2_then_unknown_outcome_and_query_says_not_found(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, inst = venue
    fault(exchange, "POST /api/v3/order", "drop_before_book", count=1)
    with pytest.raises(UnknownOutcomeError):
        client.submit(order(inst, "a2"))
    assert client.query_order("a2", IID) is None
    assert ledger_orders(exchange, acct) == {}


def test_submit_when_client_id_already_open_then_duplicate_signal_and_no_second_order(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, inst = venue
    client.submit(order(inst, "dup-1"))
    with pytest.raises(DuplicateOrderError) as info:
        client.submit(order(inst, "dup-1"))
    assert info.value.code == -2010 and "Duplicate order sent" in info.value.reason
    assert len(exchange.server.exchange.ledger.orders_by_client_id(acct, "dup-1")) == 1


def test_cancel_when_order_unknown_then_rejected_with_2011(venue: tuple[CcxtVenueClient, str, Instrument]) -> None:
    client, _acct, _inst = venue
    with pytest.raises(RejectedError, match="Unknown order") as info:
        client.cancel("nothing-here", IID)
    assert getattr(info.value, "code", None) == -2011


# -- rate limits (E1/E2): own server, the limiter is per IP ----------------------------------------------


def test_gate_when_429_with_retry_after_3_then_zero_requests_reach_the_server_until_it_passes(
    shared_data: Path,
) -> None:
    with serving(shared_data) as ex:
        client, _ = client_for(ex)
        client.load_instruments()
        client.server_time_ms()
        seen = fault(ex, "*", "delay", ms=0)  # counts every request that reaches the server
        fault(ex, "*", "status", code=429, headers={"Retry-After": "3"}, count=1, duration_ms=2500)
        with pytest.raises(RateLimitedError) as info:
            client.open_orders()
        assert info.value.retry_after_s == pytest.approx(3) and client.gate.blocked_until_ms > 0
        reached = seen.seen
        started = time.monotonic()
        calls = [client.open_orders, client.balances, client.server_time_ms, lambda: client.cancel("x", IID)]
        while time.monotonic() - started < 2.8:
            for call in calls:
                with pytest.raises(RateLimitedError, match="not sent, rate limited"):
                    call()
            time.sleep(0.2)
        assert seen.seen == reached == 1  # nothing but the first request within the Retry-After window
        time.sleep(max(0.0, 3.05 - (time.monotonic() - started)))
        assert client.open_orders() == []
        assert seen.seen == 1 + client.timesync.samples + 1  # the time sync the 429 interrupted, then the read


def test_gate_when_418_ban_then_every_request_refused_locally_and_ban_reported(shared_data: Path) -> None:
    with serving(shared_data) as ex:
        client, _ = client_for(ex)
        client.load_instruments()
        seen = fault(ex, "*", "delay", ms=0)
        fault(ex, "GET /api/v3/time", "status", code=418, headers={"Retry-After": "120"}, count=1)
        with pytest.raises(RateLimitedError) as info:
            client.server_time_ms()
        assert info.value.banned and client.gate.is_banned
        assert client.gate.banned_until_ms >= LiveClock().now_ns() // 1_000_000 + 119_000
        for call in (client.open_orders, lambda: client.cancel("x", IID)):
            with pytest.raises(RateLimitedError, match=r"banned \(418\)"):
                call()
        assert seen.seen == 1


# -- clock (E3) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("skew_ms", [2000, -2000])
def test_signed_requests_when_local_clock_skewed_2s_then_synced_and_no_1021_E3(
    exchange: ServerThread, skew_ms: int
) -> None:
    client, acct = client_for(exchange, clock=SkewedClock(skew_ms), recv_window_ms=1000)
    inst = client.load_instruments()[IID]
    signed = fault(exchange, "*", "delay", ms=0, when={"recvWindow": "1000"})  # counts our signed requests
    for i in range(3):
        client.submit(order(inst, f"sk{skew_ms}-{i}"))
        client.open_orders()
        client.balances()
    assert client.timesync.syncs == 1  # one sync, never forced by a -1021
    assert client.timesync.offset_ms == pytest.approx(-skew_ms, abs=150)
    assert signed.seen == 9 and len(ledger_orders(exchange, acct)) == 3


def test_timesync_when_one_1021_then_one_resync_read_retried_once_and_write_not_resent(
    exchange: ServerThread, venue: tuple[CcxtVenueClient, str, Instrument]
) -> None:
    client, acct, inst = venue
    body = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    client.open_orders()
    syncs = client.timesync.syncs
    reads = fault(exchange, "GET /api/v3/openOrders", "delay", ms=0)
    fault(exchange, "GET /api/v3/openOrders", "status", code=400, body=body, count=1)
    assert client.open_orders() == []
    assert client.timesync.syncs == syncs + 1 and reads.seen == 2  # refused once, retried once
    posts = fault(exchange, "POST /api/v3/order", "delay", ms=0)
    fault(exchange, "POST /api/v3/order", "status", code=400, body=body, count=1)
    with pytest.raises(TimeSyncError, match="submit t-1"):
        client.submit(order(inst, "t-1"))
    assert isinstance(TimeSyncError("x"), RetryableError)
    assert client.timesync.syncs == syncs + 2 and posts.seen == 1  # re-synced, not re-sent
    assert ledger_orders(exchange, acct) == {}


# -- key permissions (S3) ----------------------------------------------------------------------------------


def test_key_permissions_when_withdrawals_enabled_then_fatal_naming_the_permission(shared_data: Path) -> None:
    with serving(shared_data, accounts=accounts(enable_withdrawals=True, ip_restrict=False)) as ex:
        client, _ = client_for(ex)
        with pytest.raises(FatalError, match="enableWithdrawals is True"):
            client.check_key_permissions()


def test_key_permissions_when_no_ip_whitelist_then_warning_or_fatal_if_required(shared_data: Path) -> None:
    with serving(shared_data, accounts=accounts(ip_restrict=False)) as ex:
        relaxed, acct = client_for(ex)
        [warning] = relaxed.check_key_permissions()
        assert "ipRestrict=false" in warning
        strict, _ = client_for(ex, acct, require_ip_restriction=True)
        with pytest.raises(FatalError, match="require_ip_restriction"):
            strict.check_key_permissions()


def test_key_permissions_when_restricted_key_then_no_warnings(exchange: ServerThread) -> None:
    client, _ = client_for(exchange)
    assert client.check_key_permissions() == []


# -- the order manager on top (A1 end to end) --------------------------------------------------------------


def test_order_manager_when_submit_reply_dropped_then_in_flight_then_settled_with_one_order(
    exchange: ServerThread, tmp_path: Path
) -> None:
    client, acct = client_for(exchange)
    inst = client.load_instruments()[IID]
    journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
    oms = OrderManager(client, journal, LiveClock(), OmsConfig(id_prefix="cx-", inflight_timeout_ns=100_000_000))
    try:
        assert recover(oms, [IID]).ok
        fault(exchange, "POST /api/v3/order", "drop_after_book", count=1)
        rec = oms.new_order(inst, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
        assert rec.status is OmsStatus.IN_FLIGHT  # never REJECTED
        end = time.monotonic() + 5
        while oms.working() and time.monotonic() < end:
            time.sleep(0.05)
            oms.poll()
        led = ledger_orders(exchange, acct)
        assert rec.status is OmsStatus.FILLED and rec.filled_qty == led["cx-1"].executed_qty == Decimal("0.001")
        assert exchange.server.exchange.ledger.posts[(acct, "cx-1")] == 1 and list(led) == ["cx-1"]
        assert oms.position(IID).quantity == Decimal("0.001")
        assert journal.load().orders[0].status is OmsStatus.FILLED
    finally:
        exchange.server.api.faults.rules.clear()
        journal.close()


# -- secrets (global oracle 6) -----------------------------------------------------------------------------


def test_errors_when_transport_fails_or_key_wrong_then_no_key_secret_or_signature_in_messages_or_logs(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, secret = "SENTINEL-SECRET-key-1", "SENTINEL-SECRET-sec-1"
    acct = Account("s", key, secret, {"USDT": Decimal("1000")})
    with serving(shared_data, accounts=[acct]) as ex, caplog.at_level(logging.DEBUG):
        settings = VenueSettings(exchange="binance", name="BINANCE", symbols=["BTC/USDT"], url=ex.server.url)
        client = CcxtVenueClient(build_exchange(settings, key, secret), LiveClock(), settings)
        inst = client.load_instruments()[IID]
        messages = []
        fault(ex, "GET /api/v3/openOrders", "drop_before_book", count=1)
        with pytest.raises(RetryableError) as read_err:
            client.open_orders()
        messages.append(str(read_err.value))
        fault(ex, "POST /api/v3/order", "status", code=500, count=1)
        with pytest.raises(UnknownOutcomeError) as write_err:
            client.submit(order(inst, "leak-1"))
        messages.append(str(write_err.value))
        wrong = CcxtVenueClient(build_exchange(settings, key, "SENTINEL-SECRET-wrong"), LiveClock(), settings)
        wrong.exchange.markets, wrong.exchange.markets_by_id = client.exchange.markets, client.exchange.markets_by_id
        with pytest.raises(FatalError, match="-1022") as auth_err:
            wrong.balances()
        messages.append(str(auth_err.value))
    assert "GET" in messages[0] and "signature=<redacted>" in messages[0]
    for text in [*messages, caplog.text]:
        assert "SENTINEL-SECRET" not in text
        assert not re.search(r"signature=[0-9a-f]{16}", text)
