"""Elliott-wave candidates on confirmed zig-zag swings: 5-wave impulses and A-B-C zigzag corrections.

Wave counting is subjective, but three rules are not (R. N. Elliott; A. J. Frost and R. R. Prechter,
*Elliott Wave Principle*, 1978). An impulse 0-1-2-3-4-5 is a candidate only if

1. wave 2 never retraces more than 100 % of wave 1 (point 2 may touch point 0, not pass it);
2. wave 3 is never the shortest of waves 1, 3 and 5 (in price; a tie for shortest is allowed);
3. wave 4 does not enter wave 1's price territory (point 4 must stay strictly beyond point 1).

Its score is the mean closeness (see :func:`~bot4.indicators.patterns.ratios.closeness`, widened by
``tolerance``) to Frost and Prechter's usual proportions, which grade but never reject:
``W2/W1`` 0.5-0.618, ``W3/W1`` 1.618-2.618, ``W4/W3`` 0.236-0.382, ``W5/W1`` 0.618-1.618.

A corrective A-B-C candidate is the zigzag form (5-3-5): B must not pass the start of A and C must pass
the end of A, and the guidelines ``B/A`` 0.382-0.786 (B typically retraces 38-79 % of A) and ``C/A``
0.618-1.618 (C typically equals A, or is 0.618 or 1.618 of it) must both hold within ``tolerance``,
because without them nearly every four swings would qualify. Flats and triangles are not detected.

Every point is a confirmed swing, so a candidate is reported at the bar that confirmed its last point
(``reported_at``) and appending later bars never changes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns.ratios import Ratio, RatioRule, check_tolerance, leg_ratio, measure, within
from bot4.indicators.patterns.zigzag import Swing, check_chain, zigzag

WaveKind = Literal["impulse", "corrective"]
Trend = Literal["up", "down"]

#: Names of the three impulse rules, as :func:`impulse_violations` reports them.
WAVE2_BEYOND_WAVE1_START = "wave 2 retraces more than 100% of wave 1"
WAVE3_SHORTEST = "wave 3 is the shortest of waves 1, 3, 5"
WAVE4_IN_WAVE1_TERRITORY = "wave 4 enters wave 1's price territory"
#: Names of the two structural rules of a zigzag A-B-C, as :func:`corrective_violations` reports them.
B_BEYOND_A_START = "B passes the start of A"
C_SHORT_OF_A_END = "C does not pass the end of A"

IMPULSE_GUIDELINES = (
    RatioRule("W2/W1", 0.5, 0.618),
    RatioRule("W3/W1", 1.618, 2.618),
    RatioRule("W4/W3", 0.236, 0.382),
    RatioRule("W5/W1", 0.618, 1.618),
)
CORRECTIVE_GUIDELINES = (RatioRule("B/A", 0.382, 0.786), RatioRule("C/A", 0.618, 1.618))


@dataclass(frozen=True, slots=True)
class ElliottMatch:
    """An impulse (points 0-5) or corrective (points 0, A, B, C) candidate and when it became known.

    ``trend`` is the direction the pattern itself moves: an up impulse starts at a swing low, a down
    correction (wave A falling) starts at a swing high.
    """

    kind: WaveKind
    trend: Trend
    points: tuple[Swing, ...]
    ratios: tuple[Ratio, ...]
    score: float
    reported_at: int

    def ratio(self, name: str) -> Ratio:
        """The measured ratio called ``name`` (e.g. ``"W3/W1"``)."""
        for r in self.ratios:
            if r.name == name:
                return r
        raise KeyError(f"{self.kind} has no ratio {name!r}; it has {[r.name for r in self.ratios]}")


def _prices(points: Sequence[float | Swing], size: int, what: str) -> list[float]:
    if len(points) != size:
        raise IndicatorError(f"{what} needs {size} points, got {len(points)}")
    return [p.price if isinstance(p, Swing) else float(p) for p in points]


def impulse_violations(points: Sequence[float | Swing]) -> tuple[str, ...]:
    """Which of the three Elliott rules the impulse 0-1-2-3-4-5 breaks (empty if none)."""
    p0, p1, p2, p3, p4, p5 = _prices(points, 6, "an impulse")
    up = 1.0 if p1 > p0 else -1.0
    w1, w3, w5 = abs(p1 - p0), abs(p3 - p2), abs(p5 - p4)
    broken = []
    if up * (p2 - p0) < 0.0:
        broken.append(WAVE2_BEYOND_WAVE1_START)
    if w3 < w1 and w3 < w5:
        broken.append(WAVE3_SHORTEST)
    if up * (p4 - p1) <= 0.0:
        broken.append(WAVE4_IN_WAVE1_TERRITORY)
    return tuple(broken)


def corrective_violations(points: Sequence[float | Swing]) -> tuple[str, ...]:
    """Which structural rule of a zigzag A-B-C (points 0, A, B, C) is broken (empty if none)."""
    p0, pa, pb, pc = _prices(points, 4, "an A-B-C correction")
    way = 1.0 if pa > p0 else -1.0
    broken = []
    if way * (pb - p0) <= 0.0:
        broken.append(B_BEYOND_A_START)
    if way * (pc - pa) <= 0.0:
        broken.append(C_SHORT_OF_A_END)
    return tuple(broken)


def _impulse(points: tuple[Swing, ...], tolerance: float) -> ElliottMatch | None:
    if impulse_violations(points):
        return None
    p0, p1, p2, p3, p4, p5 = (p.price for p in points)
    measured = {
        "W2/W1": leg_ratio(p2 - p1, p1 - p0),
        "W3/W1": leg_ratio(p3 - p2, p1 - p0),
        "W4/W3": leg_ratio(p4 - p3, p3 - p2),
        "W5/W1": leg_ratio(p5 - p4, p1 - p0),
    }
    ratios = tuple(measure(rule, measured[rule.name], tolerance) for rule in IMPULSE_GUIDELINES)
    return _match("impulse", points, ratios)


def _corrective(points: tuple[Swing, ...], tolerance: float) -> ElliottMatch | None:
    if corrective_violations(points):
        return None
    p0, pa, pb, pc = (p.price for p in points)
    measured = {"B/A": leg_ratio(pb - pa, pa - p0), "C/A": leg_ratio(pc - pb, pa - p0)}
    if not all(within(rule, measured[rule.name], tolerance) for rule in CORRECTIVE_GUIDELINES):
        return None
    ratios = tuple(measure(rule, measured[rule.name], tolerance) for rule in CORRECTIVE_GUIDELINES)
    return _match("corrective", points, ratios)


def _match(kind: WaveKind, points: tuple[Swing, ...], ratios: tuple[Ratio, ...]) -> ElliottMatch:
    return ElliottMatch(
        kind=kind,
        trend="up" if points[0].kind == "low" else "down",
        points=points,
        ratios=ratios,
        score=sum(r.score for r in ratios) / len(ratios),
        reported_at=points[-1].confirmed_at,
    )


def _match_last(swings: Sequence[Swing], tolerance: float) -> list[ElliottMatch]:
    out = []
    if len(swings) >= 6:
        impulse = _impulse(tuple(swings[-6:]), tolerance)
        if impulse is not None:
            out.append(impulse)
    if len(swings) >= 4:
        correction = _corrective(tuple(swings[-4:]), tolerance)
        if correction is not None:
            out.append(correction)
    return out


def match_elliott(swings: Sequence[Swing], tolerance: float = 0.2) -> list[ElliottMatch]:
    """Candidates (impulse first) whose last point is the last of ``swings``."""
    tol = check_tolerance(tolerance)
    window = list(swings[-6:])
    check_chain(window)
    return _match_last(window, tol)


def find_elliott(swings: Sequence[Swing], tolerance: float = 0.2) -> list[ElliottMatch]:
    """Every candidate in a swing list, in the order they became known."""
    tol = check_tolerance(tolerance)
    check_chain(swings)
    out: list[ElliottMatch] = []
    for end in range(len(swings)):
        out.extend(_match_last(swings[max(0, end - 5) : end + 1], tol))
    return out


class ElliottDetector:
    """Streaming form: feed confirmed swings, get the candidates each one completes. O(1) per swing."""

    __slots__ = ("_window", "tolerance")

    def __init__(self, tolerance: float = 0.2) -> None:
        self.tolerance = check_tolerance(tolerance)
        self._window: deque[Swing] = deque(maxlen=6)

    def on_swing(self, swing: Swing) -> list[ElliottMatch]:
        """Take the next confirmed swing; return the candidates ending at it (impulse first)."""
        if self._window:
            check_chain((self._window[-1], swing))
        self._window.append(swing)
        return _match_last(tuple(self._window), self.tolerance)


def elliott(
    high: Any,
    low: Any,
    close: Any,
    *,
    tolerance: float = 0.2,
    deviation: float | None = None,
    atr_multiple: float | None = None,
    atr_period: int = 14,
    timestamps: Any = None,
) -> list[ElliottMatch]:
    """Zig-zag the bars (see :func:`zigzag`) and return every Elliott candidate, in report order."""
    check_tolerance(tolerance)
    swings = zigzag(
        high,
        low,
        close,
        deviation=deviation,
        atr_multiple=atr_multiple,
        atr_period=atr_period,
        timestamps=timestamps,
    )
    return find_elliott(swings, tolerance)
