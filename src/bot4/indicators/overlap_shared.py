"""Input checks shared by the overlap studies (moving averages, bands, SAR), and TA-Lib's zero band.

The overlap studies live in several small modules by concept; they refuse bad inputs and parameters with
the same wording, so those helpers live here once.
"""

from __future__ import annotations

import math

import numpy as np

from bot4.indicators.base import IndicatorError

#: TA-Lib's "is zero" band (TA_IS_ZERO in ta_utility.h), used by KAMA's efficiency ratio.
TA_EPSILON = 1e-14


def _check_real(value: float, param: str, low: float = -math.inf, high: float = math.inf) -> float:
    """Refuse a non-numeric, non-finite or out-of-range real parameter, naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise IndicatorError(f"{param} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < low or v > high:
        raise IndicatorError(f"{param} must be a finite number in [{low}, {high}], got {value!r}")
    return v


def _bad(name: str, x: float) -> IndicatorError:
    """The streaming forms' error for a NaN or infinite input."""
    return IndicatorError(f"{name} input is {x!r}; inputs must be finite numbers")
