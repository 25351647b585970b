"""Harmonic price patterns (Gartley, Bat, Butterfly, Crab and AB=CD) on confirmed zig-zag swings.

A harmonic pattern is a chain of swings whose leg lengths stand in set Fibonacci ratios; traders act
at its last point D. Here D is a *confirmed* swing, so a match is reported at the bar that confirmed
D (``reported_at``), never at the bar of D's extreme, and appending later bars never changes it.

Ratio tables. H. M. Gartley described the pattern now named after him in *Profits in the Stock
Market* (1935, p. 222) without fixed ratios; the ratios below are Scott M. Carney's, from *The
Harmonic Trader* (1999) and *Harmonic Trading, Volume One* (2004), where he also defined the Bat
(2001), the Crab (2000) and the Butterfly ratios. ``AB/XA`` is B's retracement of XA, ``BC/AB`` C's
retracement of AB, ``CD/BC`` the BC projection reached by D, ``AD/XA`` D's retracement (below 1) or
extension (above 1) of XA:

=========  ===========  ===========  ===========  ===========
pattern    AB/XA        BC/AB        CD/BC        AD/XA
=========  ===========  ===========  ===========  ===========
Gartley    0.618        0.382-0.886  1.13-1.618   0.786
Bat        0.382-0.50   0.382-0.886  1.618-2.618  0.886
Butterfly  0.786        0.382-0.886  1.618-2.24   1.27-1.618
Crab       0.382-0.618  0.382-0.886  2.24-3.618   1.618
=========  ===========  ===========  ===========  ===========

AB=CD (Carney, *The Harmonic Trader*): ``BC/AB`` 0.382-0.886, ``CD/BC`` 1.13-2.618 and ``CD/AB`` 1.0.

Each measured ratio must lie within its band widened by ``tolerance`` (relative to the band edge, see
:func:`~bot4.indicators.patterns.ratios.closeness`); the match's score is the mean closeness of its
ratios, 1.0 when every ratio is inside its band.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot4.indicators.base import IndicatorError
from bot4.indicators.patterns.ratios import Ratio, RatioRule, check_tolerance, leg_ratio, measure, within
from bot4.indicators.patterns.zigzag import Swing, check_chain, zigzag

Direction = Literal["bullish", "bearish"]


@dataclass(frozen=True, slots=True)
class HarmonicPattern:
    """A named pattern: how many swings it spans (5 for XABCD, 4 for ABCD) and its ratio bands."""

    name: str
    size: int
    rules: tuple[RatioRule, ...]


@dataclass(frozen=True, slots=True)
class HarmonicMatch:
    """A pattern completed at D: its swings, measured vs ideal ratios, closeness score, and when known.

    ``direction`` is the move the pattern anticipates after D: bullish when D is a swing low.
    """

    pattern: str
    direction: Direction
    points: tuple[Swing, ...]
    ratios: tuple[Ratio, ...]
    score: float
    reported_at: int

    def ratio(self, name: str) -> Ratio:
        """The measured ratio called ``name`` (e.g. ``"AD/XA"``)."""
        for r in self.ratios:
            if r.name == name:
                return r
        raise KeyError(f"{self.pattern} has no ratio {name!r}; it has {[r.name for r in self.ratios]}")


def _rule(name: str, low: float, high: float | None = None) -> RatioRule:
    return RatioRule(name, low, low if high is None else high)


_C_RETRACE = _rule("BC/AB", 0.382, 0.886)

PATTERNS: dict[str, HarmonicPattern] = {
    p.name: p
    for p in (
        HarmonicPattern(
            "Gartley",
            5,
            (_rule("AB/XA", 0.618), _C_RETRACE, _rule("CD/BC", 1.13, 1.618), _rule("AD/XA", 0.786)),
        ),
        HarmonicPattern(
            "Bat",
            5,
            (_rule("AB/XA", 0.382, 0.50), _C_RETRACE, _rule("CD/BC", 1.618, 2.618), _rule("AD/XA", 0.886)),
        ),
        HarmonicPattern(
            "Butterfly",
            5,
            (_rule("AB/XA", 0.786), _C_RETRACE, _rule("CD/BC", 1.618, 2.24), _rule("AD/XA", 1.27, 1.618)),
        ),
        HarmonicPattern(
            "Crab",
            5,
            (_rule("AB/XA", 0.382, 0.618), _C_RETRACE, _rule("CD/BC", 2.24, 3.618), _rule("AD/XA", 1.618)),
        ),
        HarmonicPattern("ABCD", 4, (_C_RETRACE, _rule("CD/BC", 1.13, 2.618), _rule("CD/AB", 1.0))),
    )
}


def _leg_ratios(points: Sequence[Swing]) -> dict[str, float]:
    """Every leg ratio a pattern of this many points may need, keyed like the ratio tables."""
    *head, a, b, c, d = (p.price for p in points)
    out = {
        "BC/AB": leg_ratio(c - b, b - a),
        "CD/BC": leg_ratio(d - c, c - b),
        "CD/AB": leg_ratio(d - c, b - a),
    }
    if head:
        x = head[-1]
        out["AB/XA"] = leg_ratio(b - a, a - x)
        out["AD/XA"] = leg_ratio(d - a, a - x)
    return out


def _select(patterns: Iterable[str] | None) -> tuple[HarmonicPattern, ...]:
    if patterns is None:
        return tuple(PATTERNS.values())
    chosen = []
    for name in patterns:
        if name not in PATTERNS:
            raise IndicatorError(f"unknown harmonic pattern {name!r}; known: {', '.join(PATTERNS)}")
        chosen.append(PATTERNS[name])
    return tuple(chosen)


def _match_last(
    swings: Sequence[Swing], tolerance: float, patterns: tuple[HarmonicPattern, ...]
) -> list[HarmonicMatch]:
    matches = []
    for pattern in patterns:
        if len(swings) < pattern.size:
            continue
        points = tuple(swings[-pattern.size :])
        measured = _leg_ratios(points)
        if not all(within(rule, measured[rule.name], tolerance) for rule in pattern.rules):
            continue
        ratios = tuple(measure(rule, measured[rule.name], tolerance) for rule in pattern.rules)
        d = points[-1]
        matches.append(
            HarmonicMatch(
                pattern=pattern.name,
                direction="bullish" if d.kind == "low" else "bearish",
                points=points,
                ratios=ratios,
                score=sum(r.score for r in ratios) / len(ratios),
                reported_at=d.confirmed_at,
            )
        )
    matches.sort(key=lambda m: (-m.score, m.pattern))
    return matches


def match_harmonics(
    swings: Sequence[Swing], tolerance: float = 0.05, patterns: Iterable[str] | None = None
) -> list[HarmonicMatch]:
    """Patterns whose D is the last of ``swings`` (best score first); earlier swings are X, A, B, C."""
    tol = check_tolerance(tolerance)
    window = list(swings[-5:])
    check_chain(window)
    return _match_last(window, tol, _select(patterns))


def find_harmonics(
    swings: Sequence[Swing], tolerance: float = 0.05, patterns: Iterable[str] | None = None
) -> list[HarmonicMatch]:
    """Every pattern completed anywhere in a swing list, in the order they became known."""
    tol = check_tolerance(tolerance)
    chosen = _select(patterns)
    check_chain(swings)
    out: list[HarmonicMatch] = []
    for end in range(len(swings)):
        out.extend(_match_last(swings[max(0, end - 4) : end + 1], tol, chosen))
    return out


class HarmonicDetector:
    """Streaming form: feed confirmed swings (e.g. from :class:`ZigZag`), get the patterns each completes.

    Keeps only the last five swings, so each call is O(1).
    """

    __slots__ = ("_patterns", "_window", "tolerance")

    def __init__(self, tolerance: float = 0.05, patterns: Iterable[str] | None = None) -> None:
        self.tolerance = check_tolerance(tolerance)
        self._patterns = _select(patterns)
        self._window: deque[Swing] = deque(maxlen=5)

    def on_swing(self, swing: Swing) -> list[HarmonicMatch]:
        """Take the next confirmed swing; return the patterns it completes as D (best first)."""
        if self._window:
            check_chain((self._window[-1], swing))
        self._window.append(swing)
        return _match_last(tuple(self._window), self.tolerance, self._patterns)


def harmonics(
    high: Any,
    low: Any,
    close: Any,
    *,
    tolerance: float = 0.05,
    patterns: Iterable[str] | None = None,
    deviation: float | None = None,
    atr_multiple: float | None = None,
    atr_period: int = 14,
    timestamps: Any = None,
) -> list[HarmonicMatch]:
    """Zig-zag the bars (see :func:`zigzag`) and return every harmonic pattern found, in report order."""
    check_tolerance(tolerance)
    _select(patterns)
    swings = zigzag(
        high,
        low,
        close,
        deviation=deviation,
        atr_multiple=atr_multiple,
        atr_period=atr_period,
        timestamps=timestamps,
    )
    return find_harmonics(swings, tolerance, patterns)
