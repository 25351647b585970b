"""Sizing against independent computations: arch's GARCH directly, TA-Lib ATR, closed-form Kelly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import talib
from arch import arch_model
from hypothesis import given
from hypothesis import strategies as st

from bot4.data.loaders import load_ohlcv
from bot4.model.events import Bar
from bot4.risk import sizing
from tests.builders import make_instrument
from tests.unit.risk.fakes import make_risk

INST = make_instrument("ETH/BTC", step_size="0.001", tick_size="0.000001")


@pytest.fixture(scope="module")
def bars(shared_data: Path):  # type: ignore[no-untyped-def]
    return load_ohlcv(shared_data / "ohlcv" / "BITTREX_ETH_BTC_5m.csv")


def test_kelly_when_multiplier_above_quarter_then_capped() -> None:
    full = 0.55 - 0.45 / 1.5
    assert sizing.kelly_fraction(0.55, 1.5, 1.0) == pytest.approx(0.25 * full)
    assert sizing.kelly_fraction(0.55, 1.5, 0.1) == pytest.approx(0.1 * full)
    assert sizing.kelly_fraction(0.40, 1.0) == 0.0  # no edge, no bet


def test_kelly_when_probability_out_of_range_then_error_names_it() -> None:
    with pytest.raises(ValueError, match="win_probability"):
        sizing.kelly_fraction(1.2, 2.0)


def test_garch_when_real_returns_then_equals_arch_fitted_directly(bars) -> None:  # type: ignore[no-untyped-def]
    c = np.asarray(bars.close[-1500:], dtype=np.float64)
    r = c[1:] / c[:-1] - 1
    res = arch_model(r * 100, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    omega, alpha, beta = res.params["omega"], res.params["alpha[1]"], res.params["beta[1]"]
    var_next = omega + alpha * (r[-1] * 100) ** 2 + beta * res.conditional_volatility[-1] ** 2
    assert sizing.garch_volatility(r) == pytest.approx(np.sqrt(var_next) / 100, rel=1e-6)


def test_ewma_when_returns_then_matches_riskmetrics_recursion() -> None:
    r = np.array([0.01, -0.02, 0.015, 0.0, -0.01] * 10)
    var = np.mean(r[:30] ** 2)
    for x in r:
        var = 0.94 * var + 0.06 * x * x
    assert sizing.ewma_volatility(r) == pytest.approx(np.sqrt(var))


def test_vol_target_when_forecast_known_then_rounded_down_to_step() -> None:
    q = sizing.vol_target_quantity(INST, "10", "0.1", target_volatility=0.01, forecast_volatility=0.03)
    assert q == Decimal("33.333")  # 10 * (1/3) / 0.1 = 33.333.. rounded down
    capped = sizing.vol_target_quantity(INST, "10", "0.1", 0.05, 0.01, max_leverage=2.0)
    assert capped == Decimal("200.000")


def test_atr_stop_when_real_bars_then_multiple_of_talib_atr(bars) -> None:  # type: ignore[no-untyped-def]
    h, lo, c = bars.high[:500], bars.low[:500], bars.close[:500]
    expected = 2.0 * talib.ATR(h, lo, c, timeperiod=14)[-1]
    assert sizing.atr_stop_distance(h, lo, c, 14, 2.0) == pytest.approx(expected)


def test_engine_atr_when_fed_real_bars_then_matches_talib(tmp_path: Path, bars) -> None:  # type: ignore[no-untyped-def]
    risk, _ = make_risk(tmp_path, atr_period=14, atr_stop_multiple=1.0)
    n = 300
    for i in range(n):
        risk.on_bar(Bar("SIM:ETH/BTC", i, i + 1, float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                        float(bars.close[i]), 1.0))
    expected = talib.ATR(bars.high[:n], bars.low[:n], bars.close[:n], timeperiod=14)[-1]
    assert risk.state.instruments["SIM:ETH/BTC"].atr == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("equity", "expected"), [("10000", "40.000"), ("10000.2", "40.000"), ("10000.25", "40.001")])
def test_quantity_for_risk_when_budget_near_step_then_rounded_down(equity: str, expected: str) -> None:
    inst = make_instrument("BTC/USDT")
    assert sizing.quantity_for_risk(inst, equity, 0.02, 5.0) == Decimal(expected)


@given(
    equity=st.decimals(min_value="1", max_value="1e7", places=2),
    risk=st.floats(min_value=0.001, max_value=0.05),
    stop=st.floats(min_value=0.01, max_value=1000.0),
    step=st.sampled_from(["1", "0.1", "0.001", "0.00000001", "0.25"]),
)
def test_quantity_for_risk_when_any_inputs_then_step_multiple_within_budget(
    equity: Decimal, risk: float, stop: float, step: str
) -> None:
    inst = make_instrument("BTC/USDT", step_size=step, min_quantity="0")
    q = sizing.quantity_for_risk(inst, equity, risk, stop)
    budget_qty = equity * Decimal(repr(risk)) / Decimal(repr(stop))
    assert q % Decimal(step) == 0
    assert q <= budget_qty < q + Decimal(step)
