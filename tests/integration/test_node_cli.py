"""``bot4 run`` as a process: SIGTERM gives a clean stop (exit 0), a second instance exits 3, bad config 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot4.cli.main import main
from tests.integration.test_node import ServerThread

PYTHON = sys.executable


def write_config(path: Path, url: str, state: Path, extra: str = 'mode = "paper"') -> Path:
    path.write_text(
        f"""
state_dir = "{state}"
bar_interval = "1s"
{extra}
[venue]
exchange = "binance"
name = "BINANCE"
symbols = ["BTC/USDT"]
url = "{url}"

[[strategies]]
name = "ema_cross"
params = {{ fast = 2, slow = 5, size = "0.001" }}
"""
    )
    return path


def start(cfg: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "bot4.cli.main", "run", "--config", str(cfg), "--log-file", str(log), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for(log: Path, text: str, timeout: float = 20.0) -> list[dict[str, object]]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists():
            lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            if any(text in str(line.get("event", line.get("message", ""))) for line in lines):
                return lines
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {log}")


def test_cli_run_when_sigterm_then_clean_stop_exit_0_and_second_instance_exits_3_b6(
    shared_data: Path, tmp_path: Path
) -> None:
    with ServerThread(shared_data) as srv:
        cfg = write_config(tmp_path / "node.toml", srv.url, tmp_path / "state")
        first = start(cfg, tmp_path / "first.log", "--paper")
        try:
            lines = wait_for(tmp_path / "first.log", "node started")
            assert all(isinstance(line, dict) for line in lines)  # structured JSON lines
            second = subprocess.run(
                [PYTHON, "-m", "bot4.cli.main", "run", "--config", str(cfg), "--paper"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert second.returncode == 3, second.stderr[-2000:]
            first.send_signal(signal.SIGTERM)
            assert first.wait(15) == 0, first.stderr.read()[-2000:] if first.stderr else ""
        finally:
            if first.poll() is None:
                first.kill()
        wait_for(tmp_path / "first.log", "node stopped")


def test_cli_run_when_config_bad_or_flags_conflict_then_exit_2_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    live_off = write_config(tmp_path / "a.toml", "http://127.0.0.1:9", state, extra='mode = "live"')
    live_on = write_config(tmp_path / "b.toml", "http://127.0.0.1:9", state, 'mode = "live"\nlive_enabled = true')
    cases = [
        (["--config", str(live_on), "--paper", "--live"], "choose one"),
        (["--config", str(live_off), "--live"], "live_enabled"),  # the flag alone is not enough (S13)
        (["--config", str(live_on)], "--live"),  # the file alone is not enough either
        (["--config", str(tmp_path / "missing.toml")], "cannot read"),
        (["--config", str(live_on), "--live", "--log-level", "LOUD"], "--log-level"),
    ]
    for args, needle in cases:
        assert main(["run", *args]) == 2, args
        err = capsys.readouterr().err
        assert needle in err, (args, err)
    assert not state.exists()  # nothing was started
