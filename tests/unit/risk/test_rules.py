"""Boundary tests for every pre-trade rule: just under the limit, at it, just over it (denied, with reason).

Setting for all: equity 10,000 USDT, BTC/USDT at 100, step 0.001, so 0.001 BTC = 0.1 USDT is the finest
step over a limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.model.events import Bar
from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode
from bot4.risk.rules import DailyLoss, StaleData
from tests.unit.risk.fakes import BTC, ETH, S, bar, make_risk, order

UNDER, AT, OVER = "under", "at", "over"


def _expect(reason: str | None, case: str, code: str) -> None:
    if case == OVER:
        assert reason is not None and reason.startswith(code + ":"), reason
    else:
        assert reason is None, reason


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "4.999"), (AT, "5"), (OVER, "5.001")])
def test_check_when_quantity_near_max_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_order_quantity="5")
    bar(risk, control, 100.0)
    _expect(risk.check(order(qty=qty)), case, "MAX_ORDER_QUANTITY")


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "4.999"), (AT, "5"), (OVER, "5.001")])
def test_check_when_notional_near_max_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_order_notional="500")
    bar(risk, control, 100.0)
    _expect(risk.check(order(qty=qty, type="LIMIT", price="100")), case, "MAX_ORDER_NOTIONAL")
    _expect(risk.check(order(qty=qty)), case, "MAX_ORDER_NOTIONAL")  # market: priced at the reference


def test_check_when_quote_quantity_over_max_notional_then_denied(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_order_notional="500")
    bar(risk, control, 100.0)
    from bot4.model.orders import Order

    big = Order.create(BTC, client_order_id="q", strategy_id="s", side="BUY", quote_quantity="500.01")
    assert (risk.check(big) or "").startswith("MAX_ORDER_NOTIONAL: notional 500.01")


@pytest.mark.parametrize(("case", "price"), [(UNDER, "104.99"), (AT, "105.00"), (OVER, "105.01"),
                                             (UNDER, "95.01"), (AT, "95.00"), (OVER, "94.99")])
def test_check_when_price_near_band_then_denied_only_over(tmp_path: Path, case: str, price: str) -> None:
    risk, control = make_risk(tmp_path, price_band=0.05)
    bar(risk, control, 100.0)
    _expect(risk.check(order(type="LIMIT", price=price)), case, "PRICE_BAND")


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "9.999"), (AT, "10"), (OVER, "10.001")])
def test_check_when_position_near_max_fraction_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_position_fraction=0.10)  # 1,000 USDT = 10 BTC
    bar(risk, control, 100.0)
    _expect(risk.check(order(qty=qty)), case, "MAX_POSITION")


def test_check_when_position_over_max_but_order_reduces_then_approved(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_position_fraction=0.1)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "10", "100")
    assert (risk.check(order(qty="0.001")) or "").startswith("MAX_POSITION")
    assert risk.check(order("SELL", "5")) is None


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "4.999"), (AT, "5"), (OVER, "5.001")])
def test_check_when_asset_concentration_near_default_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_asset_concentration=RiskLimits().max_asset_concentration)  # 5 %
    bar(risk, control, 100.0)
    _expect(risk.check(order(qty=qty)), case, "ASSET_CONCENTRATION")


def test_check_when_same_asset_on_two_instruments_then_concentration_sums_them(tmp_path: Path) -> None:
    from tests.builders import make_instrument

    btc_eth = make_instrument("BTC/ETH")
    risk, control = make_risk(tmp_path, max_asset_concentration=0.05)
    bar(risk, control, 100.0)
    bar(risk, control, 100.0, iid=btc_eth.id)
    control.fill(risk, BTC.id, "BUY", "3", "100")
    assert risk.check(order(qty="2", inst=btc_eth)) is None
    assert (risk.check(order(qty="2.001", inst=btc_eth)) or "").startswith("ASSET_CONCENTRATION: exposure to BTC")


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "299.999"), (AT, "300"), (OVER, "300.001")])
def test_check_when_venue_leverage_near_3x_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_venue_leverage=3.0)
    bar(risk, control, 100.0)
    _expect(risk.check(order(qty=qty)), case, "VENUE_LEVERAGE")


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "39.999"), (AT, "40"), (OVER, "40.001")])
def test_check_when_risk_at_stop_near_2pct_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_risk_per_trade=0.02)  # 200 USDT at risk
    bar(risk, control, 100.0)
    risk.set_stop(BTC.id, 95.0)  # 5 USDT per BTC to the stop
    _expect(risk.check(order(qty=qty)), case, "RISK_PER_TRADE")


def test_check_when_no_stop_then_atr_multiple_sets_the_stop_distance(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_risk_per_trade=0.02, atr_period=3, atr_stop_multiple=2.0)
    for _ in range(5):
        bar(risk, control, 100.0, high=102.5, low=97.5)  # true range 5 -> ATR 5 -> stop 10 away
    assert risk.state.instruments[BTC.id].stop_dist == pytest.approx(10.0)
    assert risk.check(order(qty="20")) is None
    assert (risk.check(order(qty="20.001")) or "").startswith("RISK_PER_TRADE")


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "99.999"), (AT, "100"), (OVER, "100.001")])
def test_check_when_portfolio_heat_near_25pct_then_denied_only_over(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path, max_portfolio_heat=0.25)  # 2,500 USDT at the stops
    bar(risk, control, 100.0)
    risk.set_stop(BTC.id, 95.0)
    control.fill(risk, BTC.id, "BUY", "400", "100")  # 2,000 at risk already
    _expect(risk.check(order(qty=qty)), case, "PORTFOLIO_HEAT")


@pytest.mark.parametrize(("case", "corr"), [(UNDER, 0.6999), (AT, 0.7), (OVER, 0.7001)])
def test_check_when_correlation_near_cap_then_adding_denied_only_over(tmp_path: Path, case: str, corr: float) -> None:
    risk, control = make_risk(tmp_path, max_correlation=0.7)
    bar(risk, control, 100.0)
    bar(risk, control, 10.0, iid=ETH.id)
    control.fill(risk, BTC.id, "BUY", "1", "100")
    risk.state.instruments[ETH.id].corr = {BTC.id: corr}
    _expect(risk.check(order(inst=ETH)), case, "CORRELATION")
    assert risk.check(order("SELL", inst=ETH)) is None  # opposite way to a positive correlation is a hedge


def test_check_when_order_rate_cap_reached_then_next_denied_until_window_slides(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_orders_per_window=3, order_window_ns=10 * S)
    bar(risk, control, 100.0)
    results = []
    for _ in range(4):
        results.append(risk.check(order()))
        control.now += S
    assert results[:3] == [None, None, None]  # under and at the cap
    assert (results[3] or "").startswith("ORDER_RATE: 3 orders already sent in the last 10 s")
    control.now = control.now - 4 * S + 10 * S  # exactly one window after the first order
    assert risk.check(order()) is None


def test_check_when_total_order_cap_reached_then_next_denied(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_total_orders=3)
    bar(risk, control, 100.0)
    assert [risk.check(order()) for _ in range(3)] == [None, None, None]
    assert (risk.check(order()) or "").startswith("TOTAL_ORDERS: the cap of 3 orders")


@pytest.mark.parametrize(("case", "close"), [(UNDER, 50.01), (AT, 50.0), (OVER, 49.99)])
def test_daily_loss_rule_when_loss_near_5pct_then_denied_only_over(tmp_path: Path, case: str, close: float) -> None:
    risk, control = make_risk(tmp_path, daily_loss_limit=0.05)  # 500 USDT
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "10", "100")
    bar(risk, control, close)
    risk.state.o_increases = True  # what the engine derives for a buy
    _expect(DailyLoss().check(order(), risk.state), case, "DAILY_LOSS")
    assert risk.mode is (ControlMode.PAUSE if case == OVER else ControlMode.NORMAL)


def test_daily_loss_when_new_utc_day_then_baseline_resets(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, daily_loss_limit=0.05, daily_loss_mode="REDUCE")
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "10", "100")
    bar(risk, control, 60.0, dt=86_400 * S)  # next day: the day starts from the lower equity
    bar(risk, control, 59.0)
    risk.state.o_increases = True
    assert DailyLoss().check(order(), risk.state) is None


@pytest.mark.parametrize(("case", "qty"), [(UNDER, "9.999"), (AT, "10"), (OVER, "10.001")])
def test_check_when_reduce_mode_then_only_reducing_quantities_pass(tmp_path: Path, case: str, qty: str) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    control.fill(risk, BTC.id, "BUY", "10", "100")
    risk.operator_set_mode(ControlMode.REDUCE, "op", "test")
    _expect(risk.check(order("SELL", qty)), case, "REDUCE_ONLY")
    assert (risk.check(order("BUY", "0.001")) or "").startswith("REDUCE_ONLY: mode is REDUCE")


def test_check_when_reduce_only_order_would_increase_then_denied_in_normal_mode(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    assert (risk.check(order("SELL", "1", reduce_only=True)) or "").startswith("REDUCE_ONLY: the order is reduce-only")


@pytest.mark.parametrize(("case", "age_ms"), [(UNDER, 499), (AT, 500), (OVER, 501)])
def test_check_when_live_quote_age_near_500ms_then_denied_only_over(tmp_path: Path, case: str, age_ms: int) -> None:
    risk, control = make_risk(tmp_path, live=True, stale_events_to_trip=1000)
    risk.on_bar(Bar(BTC.id, control.now - 60 * S, control.now, 100.0, 100.0, 100.0, 100.0, 1.0))
    control.now += age_ms * 1_000_000
    reason = risk.check(order())
    _expect(reason, case, "STALE_DATA")
    assert StaleData.code == "STALE_DATA"


def test_check_when_backtest_then_stale_rule_is_off(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    control.now += 3600 * S
    assert risk.check(order()) is None


def test_check_when_no_price_seen_then_denied_with_reason(tmp_path: Path) -> None:
    risk, _ = make_risk(tmp_path)
    assert (risk.check(order()) or "").startswith("NO_REFERENCE_PRICE: no market price seen yet for SIM:BTC/USDT")


@pytest.mark.parametrize("mode", [ControlMode.PAUSE, ControlMode.EMERGENCY])
def test_check_when_paused_or_emergency_then_strategy_denied_but_engine_flatten_passes(
    tmp_path: Path, mode: ControlMode
) -> None:
    risk, control = make_risk(tmp_path)
    bar(risk, control, 100.0)
    risk.operator_set_mode(mode, "op", "test")
    assert (risk.check(order("SELL", reduce_only=True)) or "").startswith(f"MODE_{mode.value}")
    assert risk.check(order("SELL", reduce_only=True, strategy="risk")) is None


def test_crisis_mode_when_on_then_equity_budgets_halve(tmp_path: Path) -> None:
    risk, control = make_risk(tmp_path, max_position_fraction=0.10)
    bar(risk, control, 100.0)
    risk.set_crisis(True, "op", "test")
    assert risk.check(order(qty="5")) is None
    assert (risk.check(order(qty="5.001")) or "").startswith("MAX_POSITION")
    risk.set_crisis(False, "op", "test")
    assert risk.check(order(qty="10")) is None
