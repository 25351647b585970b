"""Recursive hedge exposure (5.4): one hedge per parent fill, hedges never hedged, exposure cap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot4.execution.hedge import HedgeGuard
from bot4.model import Fill, Liquidity, Side
from tests.unit.execution.harness import IID, D


def fill(tid: str, side: Side, qty: str) -> Fill:
    return Fill(tid, "c", "s", IID, side, D(qty), D(100), D(0), "USDT", Liquidity.MAKER, 0)


def test_on_fill_when_maker_fill_duplicated_and_hedge_echoed_then_one_hedge_only() -> None:
    g = HedgeGuard("0.5")
    maker = fill("t1", Side.BUY, "5")
    assert g.on_fill("MAKER", maker) == D(5)
    g.hedge_sent("t1", D(5))
    assert g.makers_blocked
    assert g.on_fill("MAKER", maker) == 0  # duplicate delivery
    assert g.to_hedge("t1") == 0  # in flight counts
    assert g.on_fill("HEDGE", fill("h1", Side.SELL, "5")) == 0  # our own hedge fill echoed back
    g.hedge_done("t1", D(5), D(5))
    assert not g.makers_blocked and g.to_hedge("t1") == 0
    assert abs(g.net_unhedged) <= Decimal("0.001") and not g.tripped


def test_hedge_done_when_partly_filled_then_rest_can_be_hedged_again_but_never_more() -> None:
    g = HedgeGuard("1")
    g.on_fill("MAKER", fill("t1", Side.BUY, "2"))
    g.hedge_sent("t1", D(2))
    g.hedge_done("t1", D(2), D("0.5"))  # the hedge raced a cancel: only 0.5 traded
    assert g.to_hedge("t1") == D("1.5")
    with pytest.raises(ValueError, match="exceeds"):
        g.hedge_sent("t1", D(2))
    assert g.tripped  # 1.5 unhedged > cap 1
