"""Helpers shared by the momentum indicators: TA-Lib's zero band, input errors, array coercion.

The momentum indicators live in several small modules by concept; they refuse bad inputs with the same
wording and test for zero the way TA-Lib does, so those helpers live here once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import talib

from bot4.indicators.base import FloatArray, IndicatorError, check_series
from bot4.indicators.fused import ema_step, split

#: TA-Lib's zero band (``TA_EPSILON`` in ta_utility.h).
TA_EPSILON = 1e-14

#: TA-Lib's stubs type ``matype`` as their ``MA_Type`` enum, but the compiled functions take the integer
#: code (an enum member is refused at run time), so calls that pass a matype go through this alias.
_talib_int_matype: Any = talib


def _bad(name: str, fields: tuple[str, ...], values: tuple[float, ...]) -> IndicatorError:
    """The error for a streaming input that is NaN or infinite, naming the first offending field."""
    for field, x in zip(fields, values, strict=True):
        if not math.isfinite(x):
            return IndicatorError(f"{name} {field} input is {x!r}; inputs must be finite numbers")
    return IndicatorError(f"{name} inputs {values!r} must be finite numbers")  # pragma: no cover


_split = split
_ema_step = ema_step


def _hlc(high: FloatArray, low: FloatArray, close: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    h = check_series(high, "high")
    n = len(h)
    return h, check_series(low, "low", n), check_series(close, "close", n)


def _f64(values: object) -> FloatArray:
    return np.asarray(values, dtype=np.float64)
