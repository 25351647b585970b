"""Durable storage of what bot4 produces: backtest runs today."""

from bot4.persistence.results_store import (
    DEFAULT_URL,
    ResultsStore,
    RunNotFoundError,
    RunSummary,
    StoredRun,
)

__all__ = ["DEFAULT_URL", "ResultsStore", "RunNotFoundError", "RunSummary", "StoredRun"]
