"""Strategies: the API every strategy uses, and the built-ins."""

from bot4.strategies.base import Strategy, StrategyConfig, StrategyContext

__all__ = ["Strategy", "StrategyConfig", "StrategyContext"]
