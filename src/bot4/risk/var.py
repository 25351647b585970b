"""Value at risk and expected shortfall of a return series, four ways.

All functions take simple returns (0.01 = +1 %) and a confidence level (0.99), and return losses as
positive fractions: ``VaR = 0.03`` means a 1-in-100 loss of 3 % or worse. Methods:

* historical: the empirical quantile (linear interpolation, as numpy's default) and the mean of the
  returns at or beyond it;
* parametric: normal distribution with the sample mean and standard deviation;
* Cornish-Fisher: the normal quantile corrected for sample skewness and excess kurtosis; ES averages
  the corrected quantile over the tail;
* EVT: peaks over a threshold, with a generalized Pareto distribution fitted to the losses beyond it
  (scipy), the standard estimator for the far tail that few observations reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TailRisk:
    var: float
    es: float
    method: str


def _clean(returns: npt.ArrayLike, confidence: float, min_obs: int = 10) -> FloatArray:
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be between 0.5 and 1 (e.g. 0.99), got {confidence}")
    r = np.asarray(returns, dtype=np.float64).ravel()
    if r.size < min_obs:
        raise ValueError(f"returns: need at least {min_obs} observations, got {r.size}")
    if not np.all(np.isfinite(r)):
        bad = int(np.flatnonzero(~np.isfinite(r))[0])
        raise ValueError(f"returns: value at index {bad} is not finite ({r[bad]})")
    return r


def historical(returns: npt.ArrayLike, confidence: float = 0.99) -> TailRisk:
    r = _clean(returns, confidence)
    q = float(np.quantile(r, 1 - confidence))
    tail = r[r <= q]
    return TailRisk(-q, -float(tail.mean()), "historical")


def parametric(returns: npt.ArrayLike, confidence: float = 0.99) -> TailRisk:
    r = _clean(returns, confidence)
    mu, sigma = float(r.mean()), float(r.std(ddof=1))
    alpha = 1 - confidence
    z = float(stats.norm.ppf(alpha))
    var = -(mu + sigma * z)
    es = -(mu - sigma * float(stats.norm.pdf(z)) / alpha)
    return TailRisk(var, es, "parametric")


def cornish_fisher_z(z: FloatArray | float, skew: float, excess_kurt: float) -> FloatArray | float:
    """The Cornish-Fisher expansion of a standard normal quantile ``z``."""
    return z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * excess_kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36


def cornish_fisher(returns: npt.ArrayLike, confidence: float = 0.99, grid: int = 2000) -> TailRisk:
    r = _clean(returns, confidence)
    mu, sigma = float(r.mean()), float(r.std(ddof=1))
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r))  # excess (Fisher)
    alpha = 1 - confidence
    z = float(stats.norm.ppf(alpha))
    var = -(mu + sigma * float(cornish_fisher_z(z, skew, kurt)))
    # ES: the mean of the corrected quantile over tail probabilities (0, alpha), midpoint rule
    u = (np.arange(grid, dtype=np.float64) + 0.5) / grid * alpha
    zs = np.asarray(cornish_fisher_z(stats.norm.ppf(u), skew, kurt), dtype=np.float64)
    es = -(mu + sigma * float(zs.mean()))
    return TailRisk(var, es, "cornish_fisher")


@dataclass(frozen=True, slots=True)
class GpdFit:
    threshold: float  # loss level above which the tail is modelled
    shape: float  # xi
    scale: float  # beta
    n: int
    n_exceed: int


def fit_tail(returns: npt.ArrayLike, threshold_quantile: float = 0.90) -> GpdFit:
    """Fit a generalized Pareto distribution to the losses beyond their ``threshold_quantile``."""
    r = _clean(returns, 0.99, min_obs=50)
    losses = -r
    u = float(np.quantile(losses, threshold_quantile))
    excess = losses[losses > u] - u
    if excess.size < 10:
        raise ValueError(f"returns: only {excess.size} losses beyond the threshold {u:.6g}; need at least 10")
    shape, _, scale = stats.genpareto.fit(excess, floc=0.0)
    return GpdFit(u, float(shape), float(scale), int(losses.size), int(excess.size))


def evt(returns: npt.ArrayLike, confidence: float = 0.99, threshold_quantile: float = 0.90) -> TailRisk:
    _clean(returns, confidence)
    fit = fit_tail(returns, threshold_quantile)
    alpha = 1 - confidence
    ratio = fit.n / fit.n_exceed * alpha
    if ratio >= 1:
        raise ValueError(
            f"confidence {confidence} is not in the fitted tail (threshold quantile {threshold_quantile}); "
            "raise the confidence or lower the threshold quantile"
        )
    xi, beta, u = fit.shape, fit.scale, fit.threshold
    if abs(xi) < 1e-9:
        var = u - beta * np.log(ratio)
        es = var + beta
    else:
        var = u + beta / xi * (ratio ** (-xi) - 1)
        if xi >= 1:
            raise ValueError(f"the fitted tail shape {xi:.3f} >= 1 has no finite expected shortfall")
        es = (var + beta - xi * u) / (1 - xi)
    return TailRisk(float(var), float(es), "evt")


METHODS = {"historical": historical, "parametric": parametric, "cornish_fisher": cornish_fisher, "evt": evt}


def tail_risk(returns: npt.ArrayLike, confidence: float = 0.99, method: str = "historical") -> TailRisk:
    fn = METHODS.get(method)
    if fn is None:
        raise ValueError(f"method: {method!r} is not one of {sorted(METHODS)}")
    return fn(returns, confidence)


def breaches(risk: TailRisk, var_limit: float, es_limit: float | None = None) -> str | None:
    """The reason a portfolio's tail risk is over its limits, or None."""
    if risk.var > var_limit:
        return f"VAR_LIMIT: {risk.method} VaR {risk.var:.4%} exceeds the limit {var_limit:.4%}"
    if es_limit is not None and risk.es > es_limit:
        return f"ES_LIMIT: {risk.method} expected shortfall {risk.es:.4%} exceeds the limit {es_limit:.4%}"
    return None
