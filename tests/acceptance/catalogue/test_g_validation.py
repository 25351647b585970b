"""Catalogue G (numeric and config validation), P0 G1-G2 on the order path to the local exchange.

G1 is a Hypothesis property over sizes and prices (floats with binary noise, Decimals, 1e-8 values)
sent through the instrument's rounding, the order manager and bot4's ccxt client to the fake, which
enforces Binance's filters; at the node, the fake changes its filters mid-run (G1's refresh, re-round and
single retry). G2 feeds NaN/inf/None/zero/negative values in at the order boundary. The node-level G3
(invalid config) is in ``test_node.py``.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot4.execution.states import OmsStatus
from bot4.model.errors import InvalidValue
from bot4.model.instrument import Instrument
from tests.acceptance.catalogue.conftest import INST, Scenario
from tests.acceptance.catalogue.noderig import NodeRig

NUMBERS = st.one_of(
    st.floats(min_value=1e-9, max_value=0.003, allow_nan=False, allow_infinity=False),
    st.decimals(
        min_value=Decimal("1e-9"), max_value=Decimal("0.003"), allow_nan=False, allow_infinity=False, places=12
    ),
    st.sampled_from([0.1 + 0.2 - 0.3 + 1e-8, 2.2504e-3, 1e-8, 0.000001, 0.0012999999999999999]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=NUMBERS, price_off=st.floats(min_value=0.001, max_value=5000.0, allow_nan=False))
@example(target=2.2504e-3, price_off=0.1 + 0.2)
@example(target=1e-8, price_off=1e-8 + 0.001)
def test_g1_sizes_and_prices_when_rounded_to_filters_then_on_grid_and_zero_1013(
    cat: Scenario, target: float | Decimal, price_off: float
) -> None:
    """G1: every order that leaves is a Decimal multiple of step/tick with notional >= min, else refused locally."""
    oms = cat.last_oms or cat.oms()
    bid, _ = cat.venue.top()
    qty = INST.make_quantity(target)  # round *down*: never more than meant
    price = INST.make_price(float(bid) - price_off, rounding="floor")  # a resting buy: it never fills
    assert isinstance(qty, Decimal) and qty <= Decimal(str(target)) and qty % INST.step_size == 0
    assert isinstance(price, Decimal) and price % INST.tick_size == 0
    before = sum(cat.venue.ledger().posts.values())
    try:
        rec = oms.new_order(
            INST, strategy_id="s", side="BUY", type="LIMIT", quantity=qty, price=price, time_in_force="GTC"
        )
    except InvalidValue as exc:  # refused locally: zero, or below the minimum notional
        assert qty == 0 or qty * price < INST.min_notional, exc
        assert sum(cat.venue.ledger().posts.values()) == before  # nothing sent
        return
    assert qty * price >= INST.min_notional
    assert rec.status is OmsStatus.ACCEPTED, rec.reason  # never a -1013 from the venue
    assert oms.cancel(rec.client_order_id)
    assert oms.get(rec.client_order_id).status is OmsStatus.CANCELED


@settings(max_examples=200, deadline=None)
@given(
    step_exp=st.integers(min_value=0, max_value=8),
    tick_exp=st.integers(min_value=0, max_value=8),
    value=st.one_of(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False), st.decimals("1e-9", "1e6", places=10)),
)
def test_g1_rounding_property_when_filters_random_then_down_to_step_and_on_tick(
    step_exp: int, tick_exp: int, value: float | Decimal
) -> None:
    """G1 (no server): for random step and tick sizes, quantities round down onto the step, prices onto the tick."""
    step, tick = Decimal(1).scaleb(-step_exp), Decimal(1).scaleb(-tick_exp)
    inst = Instrument.spot("SIM", "BTC/USDT", tick_size=tick, step_size=step, min_notional="5")
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    qty = inst.make_quantity(value)
    assert qty % step == 0 and qty <= exact < qty + step
    try:
        price = inst.make_price(value, rounding="floor")
    except InvalidValue:
        assert exact < tick  # rounds to zero: refused, not sent as 0
        return
    assert price % tick == 0 and price <= exact < price + tick


def test_g1_filter_failure_when_venue_answers_1013_then_rejected_once_never_a_loop(cat: Scenario) -> None:
    """G1 (order manager): a -1013 from changed filters is a definite refusal, posted once; no re-send loop.

    The refresh, re-round and single retry are the node's (``test_g1_node_when_filters_change_mid_run...``).
    """
    oms = cat.oms()
    posts = cat.venue.counter("POST /api/v3/order")
    cat.venue.fault(
        "POST /api/v3/order", "status", code=400, count=1, body={"code": -1013, "msg": "Filter failure: LOT_SIZE"}
    )
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert rec.status is OmsStatus.REJECTED and "-1013" in rec.reason
    oms.poll()
    assert posts.fired == 1 and cat.venue.ledger().orders == {}


BAD = [float("nan"), float("inf"), float("-inf"), None, 0, -1, "abc", "NaN", Decimal("NaN"), Decimal("-0.001")]


def test_g2_order_when_value_nan_inf_none_zero_or_negative_then_refused_naming_field_and_nothing_sent(
    cat: Scenario,
) -> None:
    """G2: refused at the boundary with a typed error naming the field; no order, no crash, trading goes on."""
    oms = cat.oms()
    refused = 0
    for field in ("quantity", "price"):
        for bad in BAD:
            fields: dict[str, Any] = {"quantity": "0.001", "price": "30000", field: bad}
            with pytest.raises(InvalidValue, match=field):
                oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", time_in_force="GTC", **fields)
            refused += 1
    assert refused == 2 * len(BAD) and cat.venue.ledger().posts == {} and oms.halted_reason is None
    assert oms.next_client_id() == "ca-1"  # no intent was journaled for any of them
    ok = oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    assert ok.client_order_id == "ca-1" and ok.status is OmsStatus.FILLED


def test_g3_bot4_run_when_config_invalid_then_exit_2_naming_the_field_before_any_trading_connection(
    cat: Scenario, rig: NodeRig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """G3: each bad config exits 2 before connecting (unknown symbol: before any order), naming the field."""
    from bot4.cli.run_commands import main

    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    loose = cat.tmp_path / "secrets.toml"
    loose.write_text(f'[accounts.main]\napi_key = "{cat.venue.api_key}"\nsecret = "{cat.venue.secret}"\n')
    loose.chmod(0o644)
    good = rig.raw_config(strategies=[{"name": "ema_cross", "params": {"fast": 2, "slow": 5}}])
    cases: list[tuple[str, dict[str, object], bool, tuple[str, ...]]] = [
        ("negative limit", {"risk": {**good["risk"], "limits": {"max_order_notional": "-5"}}}, True,
         ("max_order_notional",)),
        ("typo'd mode", {"mode": "livee"}, True, ("mode",)),
        ("unknown key", {"strategiez": []}, True, ("strategiez",)),
        ("live without --live", {}, False, ("--live",)),
        ("live not enabled", {"live_enabled": False, "mode": "paper"}, True, ("live_enabled",)),
        ("world-readable secrets", {"venue": {**good["venue"], "secrets": {"file": str(loose)}}}, True,
         ("venue.secrets.file", "chmod 600")),
        ("unknown symbol", {"venue": {**good["venue"], "symbols": ["BTC/USDX"]}}, True, ("BTC/USDX", "symbols")),
    ]  # fmt: skip
    seen = cat.venue.counter("*")
    for name, over, live_flag, needles in cases:
        path = cat.tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(json.dumps({**good, **over}))
        before = seen.fired
        code = main(path, paper=False, live=live_flag, log_level="INFO", log_file=cat.tmp_path / "bot4.log")
        err = capsys.readouterr().err
        cat.sinks.texts[f"bot4 run {name} stderr"] = err
        assert code == 2, (name, err)
        assert all(n in err for n in needles), (name, err)
        if name != "unknown symbol":  # the symbol is checked against the venue's markets: one public read
            assert seen.fired == before, name
    assert cat.venue.ledger().posts == {}  # nothing traded
    assert not (rig.state_dir / "live" / "journal.db").exists()


def test_g2_node_when_strategy_emits_nan_inf_none_zero_or_negative_then_denied_counted_and_node_trades_on(
    cat: Scenario, rig: NodeRig
) -> None:
    """G2 (node): a strategy's bad numbers become OrderDenied events (counted), never an order or a crash."""
    from bot4.live.node import EXIT_OK, TradingNode
    from tests.acceptance.catalogue.noderig import IID, on_lane, until

    bad_values: list[object] = [float("nan"), float("inf"), None, 0, -1, "abc"]

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        for bad in bad_values:
            await on_lane(node, lambda bad=bad: rig.hands.ctx.submit(IID, "BUY", bad))  # type: ignore[misc]
        await on_lane(node, lambda: rig.hands.ctx.submit(IID, "BUY", "0.001", type="LIMIT", price=float("nan")))
        assert len(rig.hands.denials) == len(bad_values) + 1
        assert all("invalid order" in d.reason for d in rig.hands.denials), [d.reason for d in rig.hands.denials]
        events = await rig.read(lambda: [e for e in node.engine.events if e.kind == "ORDER_DENIED"])  # type: ignore[union-attr]
        assert len(events) == len(bad_values) + 1  # the counter the run report shows
        assert cat.venue.ledger().posts == {}
        cid = await rig.buy("0.001")
        await until(lambda: cid in cat.venue.ledger().orders, 3, "a good order after the bad ones")

    assert rig.run(rig.node(), script) == EXIT_OK


def change_filters(cat: Scenario, **changes: Any) -> None:
    """The fake changes BTCUSDT's filters mid-run (exchangeInfo and the matching rules), like Binance may.

    Only coarser multiples of the old tick/step are used, so the fake's internal integer grid still holds.
    """
    from dataclasses import replace

    def go() -> None:
        ex = cat.venue.server.exchange
        listing = replace(ex.listings["BTCUSDT"], **changes)
        ex.listings["BTCUSDT"] = listing
        for venue in ex.venues.values():
            venue.market(INST.id).rules = listing.rules()

    cat.venue.call(go)


def test_g1_node_when_filters_change_mid_run_then_one_refresh_rerounded_retry_once_and_alert_never_a_loop(
    cat: Scenario, rig: NodeRig, caplog: pytest.LogCaptureFixture
) -> None:
    """G1 (node): a -1013 after a filter change -> one exchangeInfo refresh, re-round (down), one retry under a
    new id of the same strategy (its fill reaches the strategy); a retry refused again -> ALERT, no third POST."""
    from bot4.live.node import EXIT_OK, TradingNode
    from bot4.model.events import OrderFilled, OrderRejected
    from tests.acceptance.catalogue.noderig import until

    async def script(node: TradingNode) -> None:
        await rig.market(node)
        info = cat.venue.counter("GET /api/v3/exchangeInfo")
        posts = cat.venue.counter("POST /api/v3/order")
        change_filters(cat, step_size=Decimal("0.0001"), min_qty=Decimal("0.0001"))
        first = await rig.buy("0.00123")  # on the old 0.000001 grid, off the new one: -1013 LOT_SIZE
        await until(lambda: node.filter_retry is not None and node.filter_retry.retries == 1, 3, "the retry")
        hands = rig.hands
        rejected = [e for e in hands.events if isinstance(e, OrderRejected) and e.client_order_id == first]
        assert rejected and "-1013" in rejected[0].reason and "retries once" in rejected[0].reason
        await until(lambda: any(isinstance(e, OrderFilled) for e in hands.events), 3, "the retry's fill")
        fill = next(e for e in hands.events if isinstance(e, OrderFilled))
        assert fill.client_order_id != first and fill.strategy_id == "hands"
        assert fill.fill.quantity == Decimal("0.0012")  # re-rounded *down* onto the new step
        assert info.fired == 1 and posts.fired == 2  # one refresh; the original and one retry
        inst = await rig.read(lambda: node.engine.instruments[INST.id])  # type: ignore[union-attr]
        assert inst.step_size == Decimal("0.0001")
        # the venue keeps refusing (a filter bot4 cannot meet): the retry is refused too -> alert, no loop
        cat.venue.fault(
            "POST /api/v3/order", "status", code=400, count=5, body={"code": -1013, "msg": "Filter failure: NOTIONAL"}
        )
        await rig.buy("0.0012")
        await until(lambda: node.filter_retry is not None and node.filter_retry.gave_up == 1, 3, "the alert")
        await asyncio.sleep(0.5)
        assert posts.fired == 4 and info.fired == 1  # no refresh within filter_refresh_min_s; never a third POST
        assert node.filter_retry is not None and node.filter_retry.retries == 2

    assert rig.run(rig.node(), script) == EXIT_OK
    alerts = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "ALERT" in r.getMessage()]
    assert any("refused again" in m and "not retried" in m for m in alerts), alerts
    assert len(rig.audited("FILTER_FAILURE")) == 1
