"""The request budget a venue publishes: Binance's ``exchangeInfo.rateLimits``.

Binance lists ``REQUEST_WEIGHT`` (per IP, per minute) and ``ORDERS`` (per account, per 10 s and per
day). The gate works on a one-minute weight window and a ten-second order window, so other intervals
are scaled to those, rounding down (a smaller budget sheds earlier; never later than the venue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}


@dataclass(frozen=True, slots=True)
class VenueLimits:
    """Request weight per minute and orders per 10 s, as published (None: not published)."""

    weight_1m: int | None = None
    orders_10s: int | None = None


def parse_rate_limits(rows: Any) -> VenueLimits:
    """``VenueLimits`` from a ``rateLimits`` list; malformed rows are skipped, the tightest row wins."""
    weight: int | None = None
    orders: int | None = None
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            limit = int(row["limit"])
            window_s = _SECONDS[str(row["interval"])] * int(row.get("intervalNum", 1))
        except (KeyError, TypeError, ValueError):
            continue
        if limit <= 0 or window_s <= 0:
            continue
        kind = row.get("rateLimitType")
        if kind == "REQUEST_WEIGHT" and window_s <= 60:
            per_min = limit * 60 // window_s
            weight = per_min if weight is None else min(weight, per_min)
        elif kind == "ORDERS" and window_s <= 10:
            per_10s = limit * 10 // window_s
            orders = per_10s if orders is None else min(orders, per_10s)
        elif kind == "REQUEST_WEIGHT" and weight is None:
            weight = max(1, limit * 60 // window_s)  # a longer window only: its average rate per minute
    return VenueLimits(weight, orders)


__all__ = ["VenueLimits", "parse_rate_limits"]
