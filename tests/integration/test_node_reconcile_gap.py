"""H10 defect 3 against the real local exchange: a user-stream gap while our order fills is not a mismatch.

The exchange drops the fill's ``executionReport`` (TRADE) and closes the user stream right after it:
the venue's balances include the fill, the journal does not, until the REST resync after the
reconnect backfills it. Reconciliation runs every 100 ms, so several checks fall inside the gap; they
must answer "unknown" (C4), never confirm a mismatch and pause trading (B2's alarm is for real ones,
covered by ``test_node.py``'s B2 test).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot4.live.node import EXIT_OK, TradingNode
from bot4.live.reconcile import ReconcileResult
from bot4.model.events import Bar
from bot4.strategies.base import Strategy
from bot4.venues.sim.server import FaultPlan
from tests.integration.test_node import ENV, IID, ServerThread, config, drive


class RestAtTouch(Strategy):
    """Rests a small limit buy at each bar's close (moved every bar) until one fills on the market's move."""

    name = "rest_at_touch"

    def on_bar(self, bar: Bar) -> None:
        if self.ctx.position(IID) > 0:
            return
        for order in self.ctx.open_orders(IID):
            self.ctx.cancel(order.client_order_id)
        inst = self.ctx.instrument(IID)
        self.ctx.submit(IID, "BUY", Decimal("0.001"), type="LIMIT", price=inst.make_price(Decimal(str(bar.close))))


def test_live_node_when_fill_report_lost_in_user_stream_gap_then_reconcile_unknown_not_pause_c4_b2(
    shared_data: Path, tmp_path: Path
) -> None:
    lost_fill: list[dict[str, Any]] = [
        {"action": "drop_event", "count": 1, "when": {"x": "TRADE"}},
        {"action": "disconnect_at", "count": 1, "when": {"x": "TRADE"}},
    ]
    plan = FaultPlan.from_dict({"endpoints": {"ws:user": lost_fill}})
    with ServerThread(shared_data, faults=plan) as srv:
        cfg = config(tmp_path, srv.url, live=True, reconcile_interval_s=0.1, strategies=[{"name": "rest_at_touch"}])
        node = TradingNode(cfg, "live", env=ENV, strategy_classes={"rest_at_touch": RestAtTouch}, user_silence_s=5)
        seen: list[ReconcileResult] = []

        def watch() -> bool:
            last = node.last_reconcile
            if last is not None and (not seen or seen[-1] is not last):
                seen.append(last)
            gate = node.gate
            healed = node.stream_gaps >= 1 and gate is not None and gate.stream_gap is None
            return healed and node.resyncs >= 2 and len([r for r in seen if r.status == "ok"]) >= 5

        code = asyncio.run(drive(node, watch, timeout=20, on_start=lambda: srv.play(5)))
        ledger = srv.ledger()
    assert code == EXIT_OK
    fills = [t for t in ledger["trades"] if t["account"] == "alice"]
    assert fills, "the resting order never filled: the scenario did not happen"
    assert node.stream_gaps >= 1 and node.resyncs >= 2, "the user stream never dropped"
    in_gap = [r for r in seen if r.status == "unknown" and "user stream" in r.reason]
    assert in_gap, f"no reconcile ran inside the gap: {[r.describe() for r in seen]}"
    assert node.mode() == "normal", f"paused: {[r.describe() for r in seen if r.status == 'mismatch']}"
    assert not [r for r in seen if r.status == "mismatch"]
    assert node.oms is not None
    btc = sum(Decimal(t["qty"]) * (1 if t["isBuyer"] else -1) for t in fills)
    assert node.oms.position(IID).quantity == btc  # the resync applied the fill the stream lost
