"""Fibonacci-ratio bands and how close a measured ratio comes to one.

Harmonic and Elliott detectors both judge a swing structure by comparing leg-length ratios with a
published band (a single Fibonacci number or a range of them). Keeping the band, the tolerance and the
closeness score in one place makes every detector score the same way, so scores are comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot4.indicators.base import IndicatorError


@dataclass(frozen=True, slots=True)
class RatioRule:
    """A named leg ratio and its ideal band ``[low, high]`` (``low == high`` for a single number)."""

    name: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Ratio:
    """A measured ratio next to the ideal band it was judged against, and its closeness in [0, 1]."""

    name: str
    value: float
    low: float
    high: float
    score: float


def check_tolerance(tolerance: float, param: str = "tolerance") -> float:
    """Refuse a tolerance that is not a fraction in [0, 1) (5 % is written 0.05)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise IndicatorError(f"{param} must be a number, got {tolerance!r}")
    tol = float(tolerance)
    if not math.isfinite(tol) or not 0.0 <= tol < 1.0:
        raise IndicatorError(f"{param} must be a fraction in [0, 1) (0.05 means 5 %), got {tolerance!r}")
    return tol


def closeness(value: float, low: float, high: float, tolerance: float) -> float:
    """1 inside ``[low, high]``, falling linearly to 0 at the band widened by ``tolerance``; -1 beyond.

    The widening is relative to the band edge (``low * (1 - tolerance)``, ``high * (1 + tolerance)``)
    because Fibonacci ratios are scale-free: 5 % of 0.382 is a smaller absolute slack than 5 % of 3.618.
    A negative result means the ratio lies outside even the widened band, or on the other side of 1
    from a band that lies wholly below 1 (a retracement) or wholly above 1 (an extension): no tolerance
    may turn a retracement into an extension, since that changes the pattern's shape.
    """
    if (high < 1.0 <= value) or (value <= 1.0 < low):
        return -1.0
    if low <= value <= high:
        return 1.0
    if value < low:
        slack = low * tolerance
        miss = low - value
    else:
        slack = high * tolerance
        miss = value - high
    if miss > slack:
        return -1.0
    return 1.0 - miss / slack


def measure(rule: RatioRule, value: float, tolerance: float) -> Ratio:
    """Judge ``value`` against ``rule``; the score is clamped to [0, 1] (see :func:`closeness`)."""
    score = max(0.0, closeness(value, rule.low, rule.high, tolerance))
    return Ratio(rule.name, value, rule.low, rule.high, score)


def within(rule: RatioRule, value: float, tolerance: float) -> bool:
    """True when ``value`` lies in the rule's band widened by ``tolerance``."""
    return closeness(value, rule.low, rule.high, tolerance) >= 0.0


def leg_ratio(numerator: float, denominator: float) -> float:
    """``|numerator| / |denominator|``; ``inf`` for a zero-length denominator leg."""
    den = abs(denominator)
    return abs(numerator) / den if den > 0.0 else math.inf
