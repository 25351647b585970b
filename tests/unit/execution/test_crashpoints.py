"""Crash hooks: only known names can be armed, and an unarmed hook does nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot4.execution import crashpoints


def test_arm_when_unknown_name_then_error_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"fill\.persisted"):
        crashpoints.arm("fill.persisted.typo")


def test_crashpoint_when_not_armed_then_process_survives() -> None:
    crashpoints.crashpoint("order.sent")


def test_crashpoint_when_armed_by_env_then_process_killed() -> None:
    code = "from bot4.execution.crashpoints import crashpoint; crashpoint('order.sent'); print('alive')"
    env = {"BOT4_CRASHPOINT": "order.sent", "PATH": ""}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=20)
    assert proc.returncode == -9 and "alive" not in proc.stdout
