"""VaR and ES against values computed independently here (numpy quantiles, scipy.stats), on real returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats  # type: ignore[import-untyped]

from bot4.data.loaders import load_ohlcv
from bot4.risk import var


@pytest.fixture(scope="module")
def returns(shared_data: Path) -> np.ndarray:
    bars = load_ohlcv(shared_data / "ohlcv" / "BITTREX_ETH_BTC_5m.csv")
    c = np.asarray(bars.close, dtype=np.float64)
    return c[1:] / c[:-1] - 1.0


def test_historical_when_real_returns_then_matches_sorted_quantile(returns: np.ndarray) -> None:
    r = var.historical(returns, 0.99)
    s = np.sort(returns)
    pos = 0.01 * (len(s) - 1)  # numpy's default "linear" quantile, by hand
    lo = int(np.floor(pos))
    q = s[lo] + (pos - lo) * (s[lo + 1] - s[lo])
    assert r.var == pytest.approx(-q, rel=1e-12)
    assert r.es == pytest.approx(-s[s <= q].mean(), rel=1e-12)
    assert r.es >= r.var > 0


def test_parametric_when_real_returns_then_matches_scipy_normal(returns: np.ndarray) -> None:
    r = var.parametric(returns, 0.975)
    dist = stats.norm(returns.mean(), returns.std(ddof=1))
    assert r.var == pytest.approx(-dist.ppf(0.025), rel=1e-10)
    es = -dist.expect(lambda x: x, ub=dist.ppf(0.025), conditional=True)
    assert r.es == pytest.approx(es, rel=1e-6)


def test_cornish_fisher_when_real_returns_then_matches_expansion_and_exceeds_normal_on_fat_tails(
    returns: np.ndarray,
) -> None:
    r = var.cornish_fisher(returns, 0.99)
    z = stats.norm.ppf(0.01)
    s, k = stats.skew(returns), stats.kurtosis(returns)
    zcf = z + (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36
    assert r.var == pytest.approx(-(returns.mean() + returns.std(ddof=1) * zcf), rel=1e-10)
    assert k > 3 and r.var > var.parametric(returns, 0.99).var  # crypto 5m returns are fat-tailed
    es = -(returns.mean() + returns.std(ddof=1) * integrate.quad(
        lambda u: var.cornish_fisher_z(stats.norm.ppf(u), s, k), 1e-12, 0.01, limit=200)[0] / 0.01)
    assert r.es == pytest.approx(es, rel=1e-3)


def test_evt_when_real_returns_then_matches_gpd_quantile_and_tail_mean(returns: np.ndarray) -> None:
    r = var.evt(returns, 0.999)
    losses = -returns
    u = np.quantile(losses, 0.90)
    excess = losses[losses > u] - u
    xi, _, beta = stats.genpareto.fit(excess, floc=0)
    p_exceed = excess.size / losses.size
    q = u + stats.genpareto.ppf(1 - 0.001 / p_exceed, xi, scale=beta)
    assert r.var == pytest.approx(q, rel=1e-6)
    # ES: the mean loss beyond VaR under the fitted tail
    tail_mean = u + stats.genpareto.expect(lambda x: x, args=(xi,), scale=beta, lb=q - u, conditional=True)
    assert r.es == pytest.approx(tail_mean, rel=1e-4)
    assert r.es > r.var


def test_tail_risk_when_unknown_method_then_error_names_it(returns: np.ndarray) -> None:
    with pytest.raises(ValueError, match="'magic'"):
        var.tail_risk(returns, 0.99, "magic")


@pytest.mark.parametrize(("values", "match"), [([0.01] * 5, "at least 10"), ([0.01] * 20 + [float("nan")], "index 20")])
def test_historical_when_bad_input_then_error_names_problem(values: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        var.historical(values, 0.99)


@pytest.mark.parametrize(("limit", "breached"), [(0.0301, False), (0.03, False), (0.0299, True)])
def test_breaches_when_var_near_limit_then_reason_only_over(limit: float, breached: bool) -> None:
    reason = var.breaches(var.TailRisk(0.03, 0.04, "historical"), limit)
    assert (reason is not None) is breached
    if breached:
        assert reason is not None and reason.startswith("VAR_LIMIT: historical VaR 3.0000%")
