"""Position sizing: how much to trade so that the risk taken matches the budget.

Three independent answers, each rounded *down* to the instrument's step so a size never exceeds what
the budget allows: fractional Kelly (never more than a quarter of full Kelly, since the edge estimate is
noisy and full Kelly's drawdowns are brutal), volatility targeting (GARCH(1,1) forecast from the
``arch`` package, or RiskMetrics EWMA), and fixed risk at an ATR-based stop.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import talib

from bot4.model.instrument import Instrument
from bot4.model.numbers import to_decimal

KELLY_CAP = 0.25


def kelly_fraction(win_probability: float, payoff_ratio: float, multiplier: float = KELLY_CAP) -> float:
    """Share of equity to stake: ``multiplier`` x (p - (1 - p) / b), multiplier capped at 0.25, never < 0."""
    if not 0 <= win_probability <= 1:
        raise ValueError(f"win_probability must be in [0, 1], got {win_probability}")
    if payoff_ratio <= 0:
        raise ValueError(f"payoff_ratio (average win / average loss) must be positive, got {payoff_ratio}")
    if multiplier <= 0:
        raise ValueError(f"multiplier must be positive, got {multiplier}")
    full = win_probability - (1 - win_probability) / payoff_ratio
    return max(0.0, min(multiplier, KELLY_CAP) * full)


def kelly_fraction_from_returns(mean: float, variance: float, multiplier: float = KELLY_CAP) -> float:
    """Continuous-return Kelly (mean / variance), scaled by a multiplier capped at 0.25, never < 0."""
    if variance <= 0:
        raise ValueError(f"variance must be positive, got {variance}")
    if multiplier <= 0:
        raise ValueError(f"multiplier must be positive, got {multiplier}")
    return max(0.0, min(multiplier, KELLY_CAP) * mean / variance)


def ewma_volatility(returns: npt.ArrayLike, lam: float = 0.94, seed_obs: int = 30) -> float:
    """One-step-ahead RiskMetrics volatility: var_t = lam * var_{t-1} + (1 - lam) * r_{t-1}^2."""
    if not 0 < lam < 1:
        raise ValueError(f"lam must be in (0, 1), got {lam}")
    r = _returns(returns, 2)
    var = float(np.mean(r[: min(seed_obs, r.size)] ** 2))
    for x in r:
        var = lam * var + (1 - lam) * float(x) * float(x)
    return math.sqrt(var)


def garch_volatility(returns: npt.ArrayLike, scale: float = 100.0) -> float:
    """One-step-ahead GARCH(1,1) volatility (zero mean, normal errors) fitted by ``arch``.

    Returns are scaled (x100 by default) for the optimiser, as ``arch`` recommends, and the forecast is
    scaled back.
    """
    from arch import arch_model

    r = _returns(returns, 50)
    res = arch_model(r * scale, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False).fit(disp="off")
    variance = float(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
    return math.sqrt(variance) / scale


def vol_target_quantity(
    instrument: Instrument,
    equity: object,
    price: object,
    target_volatility: float,
    forecast_volatility: float,
    max_leverage: float = 1.0,
) -> Decimal:
    """Quantity whose forecast volatility equals ``target_volatility`` of equity (same horizon)."""
    if target_volatility <= 0 or forecast_volatility <= 0:
        raise ValueError(
            f"target_volatility ({target_volatility}) and forecast_volatility ({forecast_volatility}) must be positive"
        )
    weight = min(target_volatility / forecast_volatility, max_leverage)
    eq = to_decimal(equity, "equity")
    px = to_decimal(price, "price")
    if px <= 0:
        raise ValueError(f"price must be positive, got {price}")
    return instrument.make_quantity(eq * to_decimal(weight, "weight") / px)


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> float:
    """The latest Wilder ATR (TA-Lib), in price units."""
    h, lo, c = (np.asarray(x, dtype=np.float64) for x in (high, low, close))
    if not len(h) == len(lo) == len(c):
        raise ValueError(f"high, low and close must have equal lengths, got {len(h)}, {len(lo)}, {len(c)}")
    if len(c) <= period:
        raise ValueError(f"ATR({period}) needs more than {period} bars, got {len(c)}")
    value = float(talib.ATR(h, lo, c, timeperiod=period)[-1])
    return value


def atr_stop_distance(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14, multiple: float = 2.0
) -> float:
    if multiple <= 0:
        raise ValueError(f"multiple must be positive, got {multiple}")
    return multiple * atr(high, low, close, period)


def quantity_for_risk(instrument: Instrument, equity: object, risk_fraction: float, stop_distance: float) -> Decimal:
    """Quantity that loses ``risk_fraction`` of equity if the stop ``stop_distance`` away is hit."""
    if not 0 < risk_fraction <= 1:
        raise ValueError(f"risk_fraction must be in (0, 1], got {risk_fraction}")
    if stop_distance <= 0:
        raise ValueError(f"stop_distance must be positive, got {stop_distance}")
    budget = to_decimal(equity, "equity") * to_decimal(risk_fraction, "risk_fraction")
    return instrument.make_quantity(budget / to_decimal(stop_distance, "stop_distance"))


def kelly_quantity(instrument: Instrument, equity: object, price: object, fraction: float) -> Decimal:
    """Quantity for staking ``fraction`` of equity at ``price``."""
    px = to_decimal(price, "price")
    if px <= 0:
        raise ValueError(f"price must be positive, got {price}")
    return instrument.make_quantity(to_decimal(equity, "equity") * to_decimal(fraction, "fraction") / px)


def _returns(returns: npt.ArrayLike, min_obs: int) -> npt.NDArray[np.float64]:
    r = np.asarray(returns, dtype=np.float64).ravel()
    if r.size < min_obs:
        raise ValueError(f"returns: need at least {min_obs} observations, got {r.size}")
    if not np.all(np.isfinite(r)):
        bad = int(np.flatnonzero(~np.isfinite(r))[0])
        raise ValueError(f"returns: value at index {bad} is not finite ({r[bad]})")
    return r
