"""Seeded latency distributions for order entry, acks and market data.

A real venue answers late and unevenly; tests need that to be reproducible, so each channel draws
from its own ``random.Random`` seeded from the server seed and the channel name.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["fixed", "uniform", "normal", "lognormal"]
CHANNELS = ("order_entry", "ack", "market_data")


class LatencyError(ValueError):
    """A latency spec that cannot be used; the message names the channel and field."""


@dataclass(slots=True)
class Latency:
    """Delay in ms: ``fixed(a)``, ``uniform(a, b)``, ``normal(a=mean, b=sd)``, ``lognormal(a=mu, b=sigma)``."""

    kind: Kind = "fixed"
    a: float = 0.0
    b: float = 0.0
    rng: random.Random | None = None

    def sample_ms(self) -> float:
        rng = self.rng or random.Random(0)
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "normal":
            value = rng.gauss(self.a, self.b)
        else:
            value = rng.lognormvariate(self.a, self.b)
        return max(0.0, value)


@dataclass(slots=True)
class LatencyModel:
    """One ``Latency`` per channel; all zero by default."""

    order_entry: Latency
    ack: Latency
    market_data: Latency

    @classmethod
    def zero(cls) -> LatencyModel:
        return cls(Latency(), Latency(), Latency())

    @classmethod
    def from_dict(cls, raw: dict[str, Any], seed: int) -> LatencyModel:
        """``{"order_entry": {"kind": "uniform", "a": 5, "b": 20}, ...}``; unknown channels are refused."""
        unknown = set(raw) - set(CHANNELS)
        if unknown:
            raise LatencyError(f"latency: unknown channel(s) {sorted(unknown)}; use {list(CHANNELS)}")
        made: dict[str, Latency] = {}
        for name in CHANNELS:
            spec = raw.get(name, {})
            if not isinstance(spec, dict):
                raise LatencyError(f"latency.{name}: must be a table with kind/a/b")
            kind = spec.get("kind", "fixed")
            if kind not in ("fixed", "uniform", "normal", "lognormal"):
                raise LatencyError(f"latency.{name}.kind: {kind!r} is not fixed|uniform|normal|lognormal")
            try:
                a, b = float(spec.get("a", 0.0)), float(spec.get("b", 0.0))
            except (TypeError, ValueError):
                raise LatencyError(f"latency.{name}: a/b must be numbers (got {spec!r})") from None
            if kind == "uniform" and b < a:
                raise LatencyError(f"latency.{name}: uniform needs a <= b (got a={a}, b={b})")
            made[name] = Latency(kind, a, b, random.Random(seed * 1_000_003 + zlib.crc32(name.encode())))
        return cls(made["order_entry"], made["ack"], made["market_data"])
