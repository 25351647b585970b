"""POSIX signals as a kill path that needs nothing but the process: SIGUSR1 pauses, SIGUSR2 is EMERGENCY.

The handler only records the request; the risk engine applies it at its next check, bar or poll, so
nothing heavy runs inside a signal handler.
"""

from __future__ import annotations

import signal
from types import FrameType

from bot4.risk.engine import RiskEngine
from bot4.risk.modes import ControlMode

DEFAULT_SIGNALS: dict[signal.Signals, ControlMode] = {
    signal.SIGUSR1: ControlMode.PAUSE,
    signal.SIGUSR2: ControlMode.EMERGENCY,
}


def install_signal_handlers(risk: RiskEngine, mapping: dict[signal.Signals, ControlMode] | None = None) -> None:
    """Route each signal in ``mapping`` to ``risk.request_mode``; call from the main thread."""
    for sig, mode in (mapping or DEFAULT_SIGNALS).items():
        if mode is ControlMode.NORMAL:
            raise ValueError(f"signal {sig.name}: a signal may not resume NORMAL trading")

        def handler(signum: int, frame: FrameType | None, mode: ControlMode = mode) -> None:
            name = signal.Signals(signum).name
            risk.request_mode(mode, f"signal:{name}", f"received {name}")

        signal.signal(sig, handler)
