"""Chart-pattern detectors that never look ahead.

Swings come from a zig-zag that confirms a turning point only after price has reversed from it by a
threshold (:mod:`.zigzag`); harmonic (:mod:`.harmonic`) and Elliott-wave (:mod:`.elliott`) detectors
read those confirmed swings, so every swing and pattern is reported at the bar where it became knowable.
Each comes as a streaming object fed bar by bar (or swing by swing) and as a function over whole arrays;
the two give identical results.
"""

from bot4.indicators.patterns.elliott import ElliottDetector, ElliottMatch, elliott, find_elliott
from bot4.indicators.patterns.harmonic import (
    PATTERNS,
    HarmonicDetector,
    HarmonicMatch,
    find_harmonics,
    harmonics,
)
from bot4.indicators.patterns.ratios import Ratio, RatioRule
from bot4.indicators.patterns.zigzag import Swing, ZigZag, zigzag

__all__ = [
    "PATTERNS",
    "ElliottDetector",
    "ElliottMatch",
    "HarmonicDetector",
    "HarmonicMatch",
    "Ratio",
    "RatioRule",
    "Swing",
    "ZigZag",
    "elliott",
    "find_elliott",
    "find_harmonics",
    "harmonics",
    "zigzag",
]
