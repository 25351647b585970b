"""The node as the control API's ``ControlTarget``: status, the risk engine's mode, operator mode changes."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from bot4.live.lane import LaneClosed
from bot4.risk.modes import ControlMode

if TYPE_CHECKING:
    from bot4.live.node import TradingNode

log = logging.getLogger("bot4.node")


class NodeControl:
    """What ``bot4.monitor.control_api.ControlApi`` drives; every action is also journaled (S11).

    The control API runs on the loop thread while the trading lane owns the engine and order
    manager, so ``status()`` reads the copy the lane publishes every ~100 ms (``lane_fields``) and
    ``set_mode`` records the mode at once but leaves the risk engine's actions to the lane.
    """

    def __init__(self, node: TradingNode) -> None:
        self.node = node

    def lane_fields(self) -> dict[str, Any]:
        """What only the lane may compute (it iterates the order manager's and engine's dicts)."""
        n = self.node
        oms, gate = n.oms, n.gate
        return {
            "halted": oms.halted_reason if oms is not None else "not started",
            "journal_down": oms.journal_down if oms is not None else None,
            "stream_gap": gate.stream_gap if gate else None,
            "unhealthy": dict(gate.unhealthy) if gate else {},
            "working_orders": [r.client_order_id for r in oms.working()] if oms is not None else [],
            "positions": {iid: str(q) for iid, q in n.engine.net_positions().items()} if n.engine else {},
            "bars": n.bar_count,
        }

    def status(self) -> dict[str, Any]:
        n = self.node
        lane = n.lane
        live = not lane.running or lane.on_lane()
        fields = self.lane_fields() if live or n.published is None else n.published
        busy = lane.busy()
        busy_s = (n.base_clock.monotonic_ns() - busy.started_ns) / 1e9 if busy is not None else 0.0
        gate = n.gate
        return {
            "run_mode": n.run_mode,
            "control_mode": self.mode(),
            "venue": n.venue_name,
            **fields,
            "last_reconcile": n.last_reconcile.describe() if n.last_reconcile else None,
            "stream_gaps": n.stream_gaps,
            "resyncs": n.resyncs,
            "lane": {
                "busy": busy.label if busy is not None else None,
                "busy_s": round(busy_s, 3),
                "queued": lane.queued(),
                "venue_stall": gate.venue_stall if gate else None,
                "stalls": len(n.stall.events) if n.stall is not None else 0,
                "published": not live,
            },
        }

    def mode(self) -> str:
        pending = self.node.pending_mode
        if pending is not None:
            return pending[1]
        mode = getattr(self.node.risk, "mode", None)
        return str(mode.value).lower() if mode is not None else "normal"

    def set_mode(self, mode: str, actor: str, reason: str, confirm: bool) -> None:
        """Record the mode now (mode file, entries held); the risk engine applies it on the lane.

        The record does not wait for the lane: a mode change must not queue behind a venue call stuck
        for a whole request timeout (E4). The cancels/flattening the new mode triggers are the risk
        engine's and do go through the lane, so they wait for that call to return.
        """
        n = self.node
        risk: Any = n.risk
        if getattr(risk, "operator_set_mode", None) is None:
            raise ValueError("this node runs without the risk engine: modes cannot be set")
        target = ControlMode.parse(mode)
        if target is ControlMode.NORMAL and not confirm:
            raise ValueError("returning to NORMAL needs an explicit confirmation (confirm=True / --confirm)")
        lane = n.lane
        if not lane.running or lane.on_lane():
            self._apply(target, actor, reason, confirm, None)
            return
        store = getattr(risk, "store", None)
        if store is not None:
            try:
                store.write(target, actor, reason, n.base_clock.now_ns())  # survives a crash before the lane gets to it
            except OSError as exc:
                log.error("control: could not record mode %s in %s: %s", target.value, store.path, exc)
        token = (n.pending_mode[0] + 1) if n.pending_mode is not None else 1
        n.pending_mode = (token, str(target.value).lower())
        if n.gate is not None and target is not ControlMode.NORMAL:
            n.gate.operator_hold = f"{target.value} requested by {actor}"
        lane.post(self._apply, target, actor, reason, confirm, token)

    def _apply(self, target: ControlMode, actor: str, reason: str, confirm: bool, token: int | None) -> None:
        """On the lane: the risk engine's transition (and its cancels/flattening), then the hold is lifted."""
        n = self.node
        try:
            n.risk.operator_set_mode(target, actor, reason, confirm=confirm)  # type: ignore[union-attr]
        except PermissionError as exc:
            if token is None:
                raise ValueError(str(exc)) from None
            log.error("control: mode %s by %s refused: %s", target.value, actor, exc)
        finally:
            if token is not None and n.pending_mode is not None and n.pending_mode[0] == token:
                n.pending_mode = None
                if n.gate is not None:
                    n.gate.operator_hold = None
        oms = n.oms
        if target is ControlMode.NORMAL and oms is not None and oms.adopted and oms.halted_reason:
            oms.resume()  # the operator accepted the adopted state (the journal was behind the venue)
            oms.adopted.clear()

    def audit(self, actor: str, action: str, payload: dict[str, Any]) -> None:
        """Logged at once; journaled on the lane, the journal's only writer (its audit rows form a hash chain)."""
        log.info("control %s by %s", action, actor, extra={"payload": payload})
        n = self.node
        if n.journal is None:
            return
        detail = json.dumps({"actor": actor, "action": action, **payload})[:2000]
        lane = n.lane
        if lane.running and not lane.on_lane():
            with contextlib.suppress(LaneClosed):
                lane.post(self._journal_event, detail)
                return
        self._journal_event(detail)

    def _journal_event(self, detail: str) -> None:
        oms, journal = self.node.oms, self.node.journal
        if oms is not None:  # queued, never blocks, while the journal is locked
            oms.record_event("CONTROL", "", detail)
        elif journal is not None:
            with contextlib.suppress(Exception):
                journal.record_event("CONTROL", "", detail)
