"""``bot4 control`` and ``bot4 audit`` through typer's runner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from bot4.cli.risk_commands import audit_app, control_app
from bot4.risk.modes import ControlMode, ModeStore

runner = CliRunner()


def test_control_when_pause_then_mode_file_and_audit_row_written(tmp_path: Path) -> None:
    result = runner.invoke(control_app, ["pause", "--state-dir", str(tmp_path), "--actor", "alice",
                                         "--reason", "maintenance"])
    assert result.exit_code == 0, result.output
    record = ModeStore(tmp_path).read()
    assert (record.mode, record.actor, record.reason) == (ControlMode.PAUSE, "alice", "maintenance")
    rows = sqlite3.connect(tmp_path / "audit.db").execute("select actor, action, payload from risk_audit").fetchall()
    assert rows == [("alice", "operator_action",
                     '{"new":"PAUSE","old":"NORMAL","reason":"maintenance","source":"cli"}')]


def test_control_when_resume_without_confirm_then_refused_and_mode_kept(tmp_path: Path) -> None:
    runner.invoke(control_app, ["emergency", "--state-dir", str(tmp_path)])
    result = runner.invoke(control_app, ["resume", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--confirm" in result.output
    assert ModeStore(tmp_path).read().mode is ControlMode.EMERGENCY
    ok = runner.invoke(control_app, ["resume", "--confirm", "--state-dir", str(tmp_path)])
    assert ok.exit_code == 0 and ModeStore(tmp_path).read().mode is ControlMode.NORMAL


def test_control_status_when_reduce_set_then_shows_it(tmp_path: Path) -> None:
    runner.invoke(control_app, ["reduce", "--state-dir", str(tmp_path), "--reason", "vol spike"])
    result = runner.invoke(control_app, ["status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0 and result.output.startswith("REDUCE (set by operator: vol spike)")


def test_audit_verify_when_intact_then_exit_0_and_when_tampered_then_exit_1(tmp_path: Path) -> None:
    for cmd in ("pause", "reduce", "emergency"):
        assert runner.invoke(control_app, [cmd, "--state-dir", str(tmp_path)]).exit_code == 0
    ok = runner.invoke(audit_app, ["verify", "--state-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "3 records" in ok.output
    with sqlite3.connect(tmp_path / "audit.db") as con:
        con.execute("update risk_audit set actor = 'mallory' where seq = 2")
    bad = runner.invoke(audit_app, ["verify", "--state-dir", str(tmp_path)])
    assert bad.exit_code == 1 and "first broken record: 2" in bad.output


def test_audit_verify_when_record_deleted_then_exit_1_names_it(tmp_path: Path) -> None:
    for cmd in ("pause", "reduce", "emergency"):
        runner.invoke(control_app, [cmd, "--state-dir", str(tmp_path)])
    with sqlite3.connect(tmp_path / "audit.db") as con:
        con.execute("delete from risk_audit where seq = 1")
    bad = runner.invoke(audit_app, ["verify", "--db", f"sqlite:///{tmp_path / 'audit.db'}",
                                    "--head", str(tmp_path / "audit.head.json")])
    assert bad.exit_code == 1 and "first broken record: 1" in bad.output
