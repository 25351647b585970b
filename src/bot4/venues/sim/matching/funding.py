"""Perpetual funding: rates from recorded history and the payment each one implies.

Payment = position * mark price * rate, paid by longs to shorts when the rate is positive (and the
reverse when negative). Recorded funding times jitter a few ms past the nominal 00/08/16 UTC marks,
so the loader snaps each to the nearest interval boundary within a tolerance and refuses rows that
are further off, out of order, or duplicated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True, slots=True)
class FundingRate:
    ts_ns: int  # the nominal funding time (snapped to the interval grid)
    rate: Decimal


def funding_payment(position: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """What the account pays (> 0) or receives (< 0) at one funding time."""
    return position * mark_price * rate


def load_funding_rates(path: Path, interval_ns: int = 8 * HOUR_NS, tolerance_ns: int = 60 * 10**9) -> list[FundingRate]:
    """freqtrade funding file: ``[[ts_ms, rate, 0, 0, 0, 0], ...]`` (rate in the open slot)."""
    rows = json.loads(path.read_text(), parse_float=Decimal)
    out: list[FundingRate] = []
    for n, row in enumerate(rows):
        where = f"{path.name} row {n}"
        try:
            ts_ns, rate = int(row[0]) * 10**6, Decimal(row[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"{where}: expected [timestamp_ms, rate, ...], got {row!r}") from None
        if not rate.is_finite():
            raise ValueError(f"{where}: rate {rate} is not finite")
        snapped = (ts_ns + interval_ns // 2) // interval_ns * interval_ns
        if abs(ts_ns - snapped) > tolerance_ns:
            raise ValueError(
                f"{where}: timestamp {row[0]} ms is {abs(ts_ns - snapped) / 1e9:.3f} s from the "
                f"funding grid (tolerance {tolerance_ns / 1e9} s)"
            )
        if out and snapped <= out[-1].ts_ns:
            raise ValueError(f"{where}: funding time {snapped} ns does not follow {out[-1].ts_ns} ns")
        out.append(FundingRate(snapped, rate))
    return out


class FundingSchedule:
    """Rates in time order; ``due(after, until)`` yields those a position held in between must settle."""

    def __init__(self, rates: list[FundingRate]) -> None:
        self.rates = rates
        self._next = 0

    def due(self, until_ns: int) -> list[FundingRate]:
        """Rates at or before ``until_ns`` not yet returned (each is returned once)."""
        start = self._next
        while self._next < len(self.rates) and self.rates[self._next].ts_ns <= until_ns:
            self._next += 1
        return self.rates[start : self._next]
