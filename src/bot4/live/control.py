"""The node as the control API's ``ControlTarget``: status, the risk engine's mode, operator mode changes."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from bot4.risk.modes import ControlMode

if TYPE_CHECKING:
    from bot4.live.node import TradingNode

log = logging.getLogger("bot4.node")


class NodeControl:
    """What ``bot4.monitor.control_api.ControlApi`` drives; every action is also journaled (S11)."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node

    def status(self) -> dict[str, Any]:
        n = self.node
        oms, gate = n.oms, n.gate
        return {
            "run_mode": n.run_mode,
            "control_mode": self.mode(),
            "venue": n.venue_name,
            "halted": oms.halted_reason if oms is not None else "not started",
            "stream_gap": gate.stream_gap if gate else None,
            "unhealthy": dict(gate.unhealthy) if gate else {},
            "working_orders": [r.client_order_id for r in oms.working()] if oms is not None else [],
            "positions": {iid: str(q) for iid, q in n.engine.net_positions().items()} if n.engine else {},
            "bars": len(n.bars),
            "last_reconcile": n.last_reconcile.describe() if n.last_reconcile else None,
            "stream_gaps": n.stream_gaps,
            "resyncs": n.resyncs,
        }

    def mode(self) -> str:
        mode = getattr(self.node.risk, "mode", None)
        return str(mode.value).lower() if mode is not None else "normal"

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        operator = getattr(self.node.risk, "operator_set_mode", None)
        if operator is None:
            raise ValueError("this node runs without the risk engine: modes cannot be set")
        target = ControlMode.parse(mode)
        try:
            operator(target, actor, reason, confirm=confirm)
        except PermissionError as exc:
            raise ValueError(str(exc)) from None
        oms = self.node.oms
        if target is ControlMode.NORMAL and oms is not None and oms.adopted and oms.halted_reason:
            oms.resume()  # the operator accepted the adopted state (the journal was behind the venue)
            oms.adopted.clear()

    def audit(self, actor: str, action: str, payload: dict[str, Any]) -> None:
        journal = self.node.journal
        if journal is not None:
            with contextlib.suppress(Exception):
                journal.record_event("CONTROL", "", json.dumps({"actor": actor, "action": action, **payload})[:2000])
        log.info("control %s by %s", action, actor, extra={"payload": payload})
