"""Every metric against numbers worked out by hand on tiny results."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from bot4.research.metrics import Metrics, compute_metrics
from tests.unit.research._factory import DAY, HOUR, T0, fill, make_result, trade

# Equity 100, 110, 99, 118.8, 118.8 on five consecutive days:
# returns +0.1, -0.1, +0.2, 0.0; mean 0.05; squared deviations 0.0025 + 0.0225 + 0.0225 + 0.0025 = 0.05;
# sample variance 0.05 / 3; downside squares 0 + 0.01 + 0 + 0 over 4 periods -> downside deviation 0.05.
CURVE = [100.0, 110.0, 99.0, 118.8, 118.8]
REL = 1e-12


def _curve_metrics() -> Metrics:
    return compute_metrics(make_result(CURVE, final_equity="118.8"))


def test_total_return_when_final_equity_exact_then_uses_decimal_money() -> None:
    m = _curve_metrics()
    assert m.total_return == pytest.approx(0.188, rel=REL)
    assert m.final_equity == Decimal("118.8")


def test_cagr_when_four_days_then_compounds_over_365_day_year() -> None:
    m = _curve_metrics()
    assert m.cagr == pytest.approx(1.188 ** (365 / 4) - 1, rel=1e-9)


def test_periods_per_year_when_daily_points_then_365() -> None:
    assert _curve_metrics().periods_per_year == pytest.approx(365.0, rel=REL)


def test_periods_per_year_when_steps_uneven_then_uses_median_step() -> None:
    ts = [T0, T0 + HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    m = compute_metrics(make_result([100.0, 101.0, 102.0, 103.0], ts=ts))
    assert m.periods_per_year == pytest.approx(8760.0, rel=REL)


def test_volatility_when_known_returns_then_sample_std_annualized() -> None:
    assert _curve_metrics().volatility == pytest.approx(math.sqrt(0.05 / 3) * math.sqrt(365), rel=1e-9)


def test_sharpe_when_known_returns_then_mean_over_sample_std_annualized() -> None:
    expected = 0.05 / math.sqrt(0.05 / 3) * math.sqrt(365)
    assert _curve_metrics().sharpe == pytest.approx(expected, rel=1e-9)


def test_sortino_when_one_loss_then_downside_deviation_over_all_periods() -> None:
    # downside deviation sqrt((0 + 0.01 + 0 + 0) / 4) = 0.05, so sortino = 0.05 / 0.05 * sqrt(365)
    assert _curve_metrics().sortino == pytest.approx(math.sqrt(365), rel=1e-9)


def test_max_drawdown_when_110_falls_to_99_then_ten_percent_recovered_in_two_days() -> None:
    m = _curve_metrics()
    assert m.max_drawdown == pytest.approx(0.1, rel=REL)
    assert m.max_drawdown_duration_ns == 2 * DAY
    assert m.max_drawdown_recovered is True
    assert m.max_drawdown_duration_days == 2.0


def test_calmar_when_known_curve_then_cagr_over_max_drawdown() -> None:
    m = _curve_metrics()
    assert m.calmar == pytest.approx((1.188 ** (365 / 4) - 1) / 0.1, rel=1e-9)


def test_drawdown_when_never_recovered_then_duration_runs_to_last_point() -> None:
    m = compute_metrics(make_result([100.0, 120.0, 90.0, 100.0, 110.0]))
    assert m.max_drawdown == pytest.approx(0.25, rel=REL)
    assert m.max_drawdown_duration_ns == 3 * DAY  # peak on day 1, still under water on day 4
    assert m.max_drawdown_recovered is False


def test_drawdown_when_deep_one_short_and_shallow_one_long_then_reports_depth_and_length_separately() -> None:
    m = compute_metrics(make_result([100.0, 90.0, 100.0, 99.0, 98.0, 97.0, 101.0]))
    assert m.max_drawdown == pytest.approx(0.1, rel=REL)
    assert m.max_drawdown_duration_ns == 4 * DAY  # day 2 peak (100) back above on day 6
    assert m.max_drawdown_recovered is True


def test_trade_stats_when_wins_losses_and_break_even_then_counted_by_hand() -> None:
    trades = [trade("10", 10.0), trade("-4", -4.0), trade("6", 6.0), trade("0", 0.0), trade("-1", -1.0)]
    m = compute_metrics(make_result(CURVE, trades=trades))
    assert (m.n_trades, m.n_wins, m.n_losses) == (5, 2, 2)
    assert m.win_rate == pytest.approx(0.4, rel=REL)
    assert m.gross_profit == Decimal("16")
    assert m.gross_loss == Decimal("5")
    assert m.profit_factor == pytest.approx(3.2, rel=REL)
    assert m.avg_trade_pnl == Decimal("2.2")
    assert m.avg_trade_return_pct == pytest.approx(2.2, rel=REL)
    assert m.best_trade_pnl == Decimal("10")
    assert m.worst_trade_pnl == Decimal("-4")


def test_profit_factor_when_no_losing_trade_then_none_not_infinity() -> None:
    m = compute_metrics(make_result(CURVE, trades=[trade("3"), trade("1")]))
    assert m.profit_factor is None
    assert m.win_rate == 1.0


def test_profit_factor_when_only_losses_then_zero() -> None:
    m = compute_metrics(make_result(CURVE, trades=[trade("-3")]))
    assert m.profit_factor == 0.0
    assert m.win_rate == 0.0


def test_fees_when_several_currencies_then_exact_quote_sum_and_others_listed() -> None:
    fills = [
        fill(0, "BUY", "1", "100", "0.1"),
        fill(1, "SELL", "1", "110", "0.2"),
        fill(2, "BUY", "0.001", "100", "0.000001", fee_ccy="BTC"),
    ]
    m = compute_metrics(make_result(CURVE, fills=fills))
    assert m.fees_paid == Decimal("0.3")  # exact: float 0.1 + 0.2 would not be
    assert m.fees_by_currency == (("BTC", Decimal("0.000001")), ("USDT", Decimal("0.3")))
    assert m.n_fills == 3


def test_turnover_when_fills_then_traded_notional_over_mean_equity() -> None:
    fills = [fill(0, "BUY", "0.5", "100", "0"), fill(1, "SELL", "0.5", "110", "0")]
    m = compute_metrics(make_result(CURVE, fills=fills))
    assert m.traded_notional == Decimal("105.0")
    assert m.turnover == pytest.approx(105.0 / (sum(CURVE) / 5), rel=REL)


def test_exposure_when_steps_uneven_then_weighted_by_time_not_points() -> None:
    ts = [T0, T0 + HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    m = compute_metrics(make_result([100.0, 100.0, 100.0, 100.0], ts=ts, gross=[0.0, 1.0, 0.0, 0.0]))
    assert m.exposure == pytest.approx(0.5, rel=REL)  # held 2 h of 4 h; by point count it would be 0.25


def test_metrics_when_no_trades_then_trade_stats_none_and_json_safe() -> None:
    m = _curve_metrics()
    assert (m.n_trades, m.win_rate, m.profit_factor, m.avg_trade_pnl, m.best_trade_pnl) == (0, None, None, None, None)
    assert m.fees_paid == Decimal(0)
    assert m.exposure == 0.0
    json.dumps(m.as_dict(), allow_nan=False)


def test_metrics_when_equity_flat_then_zero_risk_and_undefined_ratios() -> None:
    m = compute_metrics(make_result([100.0] * 5, final_equity="100"))
    assert (m.total_return, m.cagr, m.volatility, m.max_drawdown) == (0.0, 0.0, 0.0, 0.0)
    assert (m.sharpe, m.sortino, m.calmar) == (None, None, None)
    assert m.max_drawdown_duration_ns == 0
    assert m.max_drawdown_recovered is True
    json.dumps(m.as_dict(), allow_nan=False)


def test_metrics_when_single_bar_then_time_based_values_none() -> None:
    m = compute_metrics(make_result([105.0], gross=[0.3]))
    assert m.total_return == pytest.approx(0.05, rel=REL)
    assert (m.cagr, m.periods_per_year, m.volatility, m.sharpe, m.sortino) == (None, None, None, None, None)
    assert m.max_drawdown == 0.0
    assert m.exposure == 1.0
    assert m.start_ts == m.end_ts == T0
    json.dumps(m.as_dict(), allow_nan=False)


def test_metrics_when_no_equity_points_then_defined_values() -> None:
    m = compute_metrics(make_result([], final_equity="100"))
    assert (m.n_points, m.start_ts, m.turnover, m.exposure, m.max_drawdown) == (0, None, None, 0.0, 0.0)
    json.dumps(m.as_dict(), allow_nan=False)


def test_sortino_when_no_losing_period_then_none() -> None:
    m = compute_metrics(make_result([100.0, 101.0, 103.0], final_equity="103"))
    assert m.sortino is None
    assert m.sharpe is not None


def test_cagr_when_everything_lost_then_minus_one() -> None:
    m = compute_metrics(make_result([100.0, 50.0, 0.0], final_equity="0"))
    assert m.cagr == -1.0
    assert m.max_drawdown == 1.0


def test_cagr_when_too_large_for_a_float_then_none() -> None:
    m = compute_metrics(make_result([100.0, 200.0], ts=[T0, T0 + 1_000_000_000], final_equity="200"))
    assert m.cagr is None
    assert m.calmar is None


def test_as_dict_when_decimals_then_exact_strings_and_round_trips() -> None:
    fills = [fill(0, "BUY", "1", "100", "0.1"), fill(1, "SELL", "1", "110", "0.2")]
    m = compute_metrics(make_result(CURVE, final_equity="118.8", fills=fills, trades=[trade("-4")]))
    d = m.as_dict()
    assert d["fees_paid"] == "0.3"
    assert d["final_equity"] == "118.8"
    assert d["fees_by_currency"] == {"USDT": "0.3"}
    assert Metrics.from_dict(json.loads(m.to_json())) == m


def test_to_json_when_same_result_twice_then_identical_text() -> None:
    assert _curve_metrics().to_json() == _curve_metrics().to_json()


def test_from_dict_when_field_missing_then_error_names_it() -> None:
    d = _curve_metrics().as_dict()
    del d["sharpe"]
    with pytest.raises(ValueError, match="sharpe"):
        Metrics.from_dict(d)


def test_compute_metrics_when_arrays_differ_in_length_then_error_names_them() -> None:
    with pytest.raises(ValueError, match="gross_exposure=2"):
        compute_metrics(make_result([100.0, 101.0, 102.0], gross=[0.0, 0.0]))


def test_compute_metrics_when_timestamps_not_increasing_then_error_names_index() -> None:
    with pytest.raises(ValueError, match=r"equity_ts.*ts\[2\]"):
        compute_metrics(make_result([100.0, 101.0, 102.0], ts=[T0, T0 + DAY, T0 + DAY]))


def test_compute_metrics_when_equity_nan_then_error_names_point() -> None:
    with pytest.raises(ValueError, match=r"equity\[1\] is nan"):
        compute_metrics(make_result([100.0, float("nan"), 102.0], final_equity="102"))


def test_compute_metrics_when_starting_cash_zero_then_error() -> None:
    with pytest.raises(ValueError, match="starting_cash"):
        compute_metrics(make_result([100.0], starting_cash="0"))


def test_metrics_when_curve_absurdly_volatile_then_overflowing_ratios_none_not_infinity() -> None:
    m = compute_metrics(make_result([100.0, 1e-300, 1e300, 1.0], final_equity="1"))
    assert m.volatility is None and m.sharpe is None and m.sortino is None
    json.dumps(m.as_dict(), allow_nan=False)


def test_compute_metrics_when_trade_return_nan_then_error_names_trade() -> None:
    with pytest.raises(ValueError, match=r"trades\[1\]\.return_pct is nan"):
        compute_metrics(make_result(CURVE, trades=[trade("1"), trade("1", float("nan"))]))
