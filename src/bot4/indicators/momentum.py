"""Momentum indicators: the historical import path, kept as re-exports.

Strategies and other code import ``bot4.indicators.momentum.RSI`` and the rest from here. The indicators
themselves live in small modules by concept, each matching TA-Lib value for value: ``ma_oscillators``
(MACD, PPO, APO), ``rate_of_change`` (MOM, ROC, TRIX), ``relative_strength`` (RSI, CMO), ``stochastics``
(STOCH, STOCHF, STOCHRSI, WILLR), ``typical_price_oscillators`` (CCI, MFI) and ``buying_pressure``
(ULTOSC, BOP); ``momentum_shared`` holds their common helpers.
"""

from __future__ import annotations

from bot4.indicators.ma_oscillators import APO, MACD, PPO, apo, macd, ppo

from bot4.indicators.rate_of_change import MOM, ROC, TRIX, mom, roc, trix  # isort: skip
from bot4.indicators.relative_strength import CMO, RSI, cmo, rsi  # isort: skip
from bot4.indicators.stochastics import STOCH, STOCHF, STOCHRSI, WILLR, stoch, stochf, stochrsi, willr  # isort: skip
from bot4.indicators.typical_price_oscillators import CCI, MFI, cci, mfi  # isort: skip
from bot4.indicators.buying_pressure import BOP, ULTOSC, bop, ultosc  # isort: skip
from bot4.indicators.momentum_shared import TA_EPSILON  # isort: skip

__all__ = [
    "APO",
    "BOP",
    "CCI",
    "CMO",
    "MACD",
    "MFI",
    "MOM",
    "PPO",
    "ROC",
    "RSI",
    "STOCH",
    "STOCHF",
    "STOCHRSI",
    "TA_EPSILON",
    "TRIX",
    "ULTOSC",
    "WILLR",
    "apo",
    "bop",
    "cci",
    "cmo",
    "macd",
    "mfi",
    "mom",
    "ppo",
    "roc",
    "rsi",
    "stoch",
    "stochf",
    "stochrsi",
    "trix",
    "ultosc",
    "willr",
]
