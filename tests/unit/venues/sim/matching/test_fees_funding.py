"""Fee tiers on 30-day volume, maker rebates, and perpetual funding from recorded rates."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot4.venues.sim.matching import (
    FeeSchedule,
    FeeTier,
    FundingPaid,
    FundingSchedule,
    funding_payment,
    load_funding_rates,
)
from bot4.venues.sim.matching.fees import DAY_NS
from tests.unit.venues.sim.matching.helpers import IID, D, Harness

TIERS = [
    FeeTier(D(0), D("0.001"), D("0.001")),
    FeeTier(D("1000"), D("0.0008"), D("0.0009")),
    FeeTier(D("5000"), D("-0.0001"), D("0.0007")),
]


def test_fee_schedule_when_volume_crosses_tiers_then_rates_step_down_and_age_out_after_30_days() -> None:
    fees = FeeSchedule(TIERS)
    assert fees.rates(0) == (D("0.001"), D("0.001"))
    fees.record(0, D("1500"))
    assert fees.rates(DAY_NS) == (D("0.0008"), D("0.0009"))
    fees.record(DAY_NS, D("4000"))
    assert fees.rates(2 * DAY_NS) == (D("-0.0001"), D("0.0007"))
    assert fees.rates(30 * DAY_NS + 1) == (D("0.0008"), D("0.0009"))  # the first 1500 left the window
    assert fees.max_rate() == D("0.001")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([], "needs at least one tier"),
        ([FeeTier(D(10), D("0.001"), D("0.001"))], "must start at volume 0"),
        ([FeeTier(D(0), D("0.001"), D("0.001")), FeeTier(D(10), D("0.001"), D("0.002"))], "must not rise"),
    ],
)
def test_fee_schedule_when_malformed_then_error(tiers: list[FeeTier], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeeSchedule(tiers)


def test_fee_tier_when_taker_negative_then_refused() -> None:
    with pytest.raises(ValueError, match="taker rebate"):
        FeeTier(D(0), D(0), D("-0.0001"))


def test_venue_when_volume_reaches_next_tier_then_later_fills_pay_lower_taker_rate() -> None:
    h = Harness(fees={IID: FeeSchedule(TIERS)})
    h.book([("99.9", "100")], [("100.0", "100")])
    h.submit("a", "BUY", "MARKET", "11")  # 1100 USDT at tier 0
    h.submit("b", "BUY", "MARKET", "1")
    (fa,), (fb,) = h.fills("a"), h.fills("b")
    assert fa.fee == D("1100") * D("0.001") and fb.fee == D("100") * D("0.0009")


def test_funding_file_when_loaded_then_jittered_times_snap_to_8h_grid(shared_data: Path) -> None:
    rates = load_funding_rates(shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.json")
    assert len(rates) == 91
    assert all(r.ts_ns % (8 * 3600 * 10**9) == 0 for r in rates)
    assert sum(r.rate == D("0.0001") for r in rates) == 70 and min(r.rate for r in rates) == D("-0.00219334")
    sched = FundingSchedule(rates)
    assert len(sched.due(rates[2].ts_ns)) == 3 and sched.due(rates[2].ts_ns) == []


def test_funding_file_when_timestamp_off_grid_then_error_names_row(tmp_path: Path) -> None:
    p = tmp_path / "f.json"
    p.write_text(
        "[[1637193600017, 0.0001, 0, 0, 0, 0], [1637222400000, 0.0001, 0, 0, 0, 0], "
        "[1637240000000, 0.0001, 0, 0, 0, 0]]"
    )
    with pytest.raises(ValueError, match=r"f\.json row 2: timestamp 1637240000000 ms"):
        load_funding_rates(p)


def test_funding_payment_when_long_and_rate_positive_then_long_pays() -> None:
    assert funding_payment(D("100"), D("1.5"), D("0.0001")) == D("0.015")
    assert funding_payment(D("-100"), D("1.5"), D("0.0001")) == D("-0.015")


def test_venue_apply_funding_when_long_then_quote_balance_pays_and_event_emitted() -> None:
    h = Harness(usdt="1000", btc="0")
    h.book([("99.9", "100")], [("100.0", "100")])
    h.submit("a", "BUY", "MARKET", "2")
    before = h.venue.balances()["USDT"][0]
    ev = h.venue.apply_funding(IID, D("-0.001"), D("100"))
    assert isinstance(ev, FundingPaid) and ev.amount == Decimal("-0.200") and ev.position == D("2")
    assert h.venue.balances()["USDT"][0] == before + D("0.2")
