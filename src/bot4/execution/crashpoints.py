"""Named crash hooks on the order path for the SIGKILL crash-point tests (reliability.md 3.1).

``BOT4_CRASHPOINT=<name>`` makes ``crashpoint(name)`` kill the process with SIGKILL, the one signal
nothing can clean up after, so the restart sees exactly what a power cut would leave. The variable is
read once; with it unset a hook costs one string comparison.
"""

from __future__ import annotations

import os
import signal

NAMES = frozenset(
    {
        "intent.persisted",
        "order.sent",
        "order.ack_received",
        "fill.received",
        "fill.persisted",
        "killswitch.cancel_sent",
    }
)

_ARMED = os.environ.get("BOT4_CRASHPOINT", "")
if _ARMED and _ARMED not in NAMES:
    raise ValueError(f"BOT4_CRASHPOINT: unknown crash point {_ARMED!r}; known: {', '.join(sorted(NAMES))}")


def crashpoint(name: str) -> None:
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)


def arm(name: str) -> None:
    """Arm a crash point in this process (the subprocess entry point uses the env var instead)."""
    global _ARMED
    if name and name not in NAMES:
        raise ValueError(f"crash point: unknown name {name!r}; known: {', '.join(sorted(NAMES))}")
    _ARMED = name
