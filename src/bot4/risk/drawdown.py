"""Drawdown guard: a soft limit that asks for REDUCE and a hard limit that asks for EMERGENCY.

Drawdown is measured from the highest equity seen. The guard only reports the mode it wants; the risk
engine decides (modes only escalate automatically) and records it.
"""

from __future__ import annotations

from bot4.risk.modes import ControlMode

_SLACK = 1e-12  # reaching a limit exactly must trip it despite binary rounding (1 - 0.8 < 0.2)


class DrawdownGuard:
    def __init__(self, soft: float, hard: float) -> None:
        if not 0 < soft < hard < 1:
            raise ValueError(f"drawdown limits must satisfy 0 < soft < hard < 1; got soft={soft}, hard={hard}")
        self.soft = soft
        self.hard = hard
        self.peak = 0.0
        self.drawdown = 0.0

    def update(self, equity: float) -> ControlMode | None:
        """Feed the current equity; return the mode the drawdown calls for, if any."""
        if equity > self.peak:
            self.peak = equity
        if self.peak <= 0:
            return None
        dd = 1.0 - equity / self.peak
        self.drawdown = dd
        if dd >= self.hard - _SLACK:
            return ControlMode.EMERGENCY
        if dd >= self.soft - _SLACK:
            return ControlMode.REDUCE
        return None
