"""Operator log lines from a paper run (H13), the journal-down status field and the streams' ban permit (E2)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot4.venues.streams.permit import wait_for_permit
from tests.unit.live.test_node_paper import make_node, run_bars


def test_paper_run_when_orders_fill_then_info_lines_for_submit_accept_fill_with_fee(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot4.node.orders")
    node = make_node(tmp_path)
    run_bars(node, [40_000.0, 40_100.0, 40_200.0])
    recs = [r for r in caplog.records if r.name == "bot4.node.orders"]
    fills = [r for r in recs if getattr(r, "kind", "") == "fill"]
    assert len(fills) == 1, [r.getMessage() for r in recs]
    f = fills[0]
    assert f.levelno == logging.INFO and f.client_order_id == "b4-buy_then_rest-1"  # type: ignore[attr-defined]
    assert (f.side, f.qty, f.price) == ("BUY", "0.001", "40100.00")  # type: ignore[attr-defined]
    assert f.fee_asset and f.fee is not None  # type: ignore[attr-defined]
    kinds = [getattr(r, "kind", "") for r in recs]
    assert "order_submitted" in kinds or "order_accepted" in kinds
    asyncio.run(node.shutdown())
    cancelled = [r for r in caplog.records if getattr(r, "kind", "") == "order_cancelled"]
    assert [r.client_order_id for r in cancelled] == ["b4-buy_then_rest-2"]  # type: ignore[attr-defined]


def test_gate_when_order_denied_then_warning_with_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot4.node.orders")
    node = make_node(tmp_path)
    assert node.gate is not None
    node.gate.stream_gap = "disconnected"
    run_bars(node, [40_000.0, 40_100.0])
    denied = [r for r in caplog.records if getattr(r, "kind", "") == "order_denied"]
    assert denied and denied[0].levelno == logging.WARNING and "STREAM_RECONCILING" in denied[0].reason  # type: ignore[attr-defined]
    assert node.status()["journal_down"] is None
    asyncio.run(node.shutdown())


def test_permit_when_banned_then_waits_until_the_gate_allows_e2() -> None:
    calls: list[float] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.3

        def may_request() -> float:
            left = max(0.0, end - loop.time())
            calls.append(left)
            return left

        return await wait_for_permit(may_request, "GET /api/v3/depth")

    waited = asyncio.run(main())
    assert 0.25 <= waited < 1.0 and calls[-1] == 0.0
    assert asyncio.run(wait_for_permit(None, "x")) == 0.0
