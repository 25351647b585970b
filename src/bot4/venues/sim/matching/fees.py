"""Maker/taker fee schedules with 30-day-volume tiers, as exchanges publish them (VIP levels).

A negative maker rate is a rebate. The tier is chosen at each fill from the account's traded quote
volume over the trailing 30 days *before* that fill, which is how tiered exchanges apply them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from bot4.model.instrument import Instrument

DAY_NS = 86_400 * 10**9
WINDOW_NS = 30 * DAY_NS


@dataclass(frozen=True, slots=True)
class FeeTier:
    min_volume_30d: Decimal  # quote volume needed to reach this tier
    maker: Decimal
    taker: Decimal

    def __post_init__(self) -> None:
        if self.min_volume_30d < 0:
            raise ValueError(f"fee tier min_volume_30d: must be >= 0 (got {self.min_volume_30d})")
        for name in ("maker", "taker"):
            rate = getattr(self, name)
            if not Decimal("-0.01") <= rate < Decimal("0.1"):
                raise ValueError(f"fee tier {name}: {rate} is not a fraction of notional in [-0.01, 0.1)")
        if self.taker < 0:
            raise ValueError(f"fee tier taker: a taker rebate ({self.taker}) is not something venues pay")


class FeeSchedule:
    """Tiers sorted by volume; ``rates(volume)`` returns (maker, taker) of the highest tier reached."""

    def __init__(self, tiers: list[FeeTier]) -> None:
        if not tiers:
            raise ValueError("fee schedule: needs at least one tier")
        self.tiers = sorted(tiers, key=lambda t: t.min_volume_30d)
        if self.tiers[0].min_volume_30d != 0:
            raise ValueError(
                f"fee schedule: the first tier must start at volume 0 (got {self.tiers[0].min_volume_30d})"
            )
        for lower, higher in zip(self.tiers, self.tiers[1:], strict=False):
            if higher.maker > lower.maker or higher.taker > lower.taker:
                raise ValueError(
                    f"fee schedule: tier at volume {higher.min_volume_30d} charges more than the "
                    f"tier below it; rates must not rise with volume"
                )
        self._volume: deque[tuple[int, Decimal]] = deque()
        self._total = Decimal(0)

    @classmethod
    def flat(cls, instrument: Instrument) -> FeeSchedule:
        return cls([FeeTier(Decimal(0), instrument.maker_fee, instrument.taker_fee)])

    def volume_30d(self, now_ns: int) -> Decimal:
        cutoff = now_ns - WINDOW_NS
        vol = self._volume
        while vol and vol[0][0] <= cutoff:
            self._total -= vol.popleft()[1]
        return self._total

    def rates(self, now_ns: int) -> tuple[Decimal, Decimal]:
        volume = self.volume_30d(now_ns)
        tier = self.tiers[0]
        for t in self.tiers:
            if volume >= t.min_volume_30d:
                tier = t
        return tier.maker, tier.taker

    def max_rate(self) -> Decimal:
        """The highest rate any fill could pay: what a resting buy must lock."""
        return max(max(t.maker, t.taker) for t in self.tiers)

    def record(self, now_ns: int, notional: Decimal) -> None:
        self._volume.append((now_ns, notional))
        self._total += notional
