"""Exchange simulator: a matching-engine venue with Binance-style rules, error codes, fees and funding."""

from bot4.venues.sim.matching.codes import CancelRejected, FundingPaid, OrderTriggered, Rejection, VenueOrderRejected
from bot4.venues.sim.matching.fees import FeeSchedule, FeeTier
from bot4.venues.sim.matching.funding import FundingRate, FundingSchedule, funding_payment, load_funding_rates
from bot4.venues.sim.matching.impact import SqrtImpact
from bot4.venues.sim.matching.rules import PercentPriceBySide, SymbolRules
from bot4.venues.sim.matching.venue import MatchingVenue

__all__ = [
    "CancelRejected",
    "FeeSchedule",
    "FeeTier",
    "FundingPaid",
    "FundingRate",
    "FundingSchedule",
    "MatchingVenue",
    "OrderTriggered",
    "PercentPriceBySide",
    "Rejection",
    "SqrtImpact",
    "SymbolRules",
    "VenueOrderRejected",
    "funding_payment",
    "load_funding_rates",
]
