"""The matching-venue adapter: a refused duplicate submit leaves the open order's reported state alone."""

from __future__ import annotations

import pytest

from bot4.execution.errors import RejectedError
from bot4.execution.states import OmsStatus
from tests.unit.execution.harness import IID, D, Rig, limit_order


def test_query_order_when_duplicate_submit_refused_then_open_order_still_reported_as_booked() -> None:
    rig = Rig(capture=True)
    rig.book([("99", "5")], [("101", "5")])
    rig.raw.submit(limit_order("dup-1", price="100"))
    with pytest.raises(RejectedError) as refused:
        rig.raw.submit(limit_order("dup-1", price="95"))
    assert refused.value.code == -2010 and "uplicate" in refused.value.reason
    snap = rig.raw.query_order("dup-1", IID)
    assert snap is not None
    assert (snap.status, snap.price, snap.quantity) == (OmsStatus.ACCEPTED, D("100"), D("1"))
    assert [s.client_order_id for s in rig.raw.open_orders()] == ["dup-1"]
