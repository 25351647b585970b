"""The mode file and the limits config: atomic, fail-safe, and clear about bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot4.engine.config import ConfigError
from bot4.risk.audit import AuditLog
from bot4.risk.engine import RiskEngine
from bot4.risk.limits import RiskLimits
from bot4.risk.modes import ControlMode, ModeStore
from tests.unit.risk.fakes import PERMISSIVE, FakeControl, bar, order


def test_read_when_no_file_then_normal(tmp_path: Path) -> None:
    assert ModeStore(tmp_path).read().mode is ControlMode.NORMAL


def test_write_when_repeated_then_version_increases_and_no_temp_files_left(tmp_path: Path) -> None:
    store = ModeStore(tmp_path)
    assert store.write(ControlMode.PAUSE, "a", "r", 1).version == 1
    assert store.write(ControlMode.REDUCE, "a", "r", 2).version == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["control_mode.json"]


@pytest.mark.parametrize("content", ["{not json", '{"mode": "PANIC"}', "[]"])
def test_read_when_file_damaged_then_fails_safe_to_pause_with_reason(tmp_path: Path, content: str) -> None:
    (tmp_path / "control_mode.json").write_text(content)
    record = ModeStore(tmp_path).read()
    assert record.mode is ControlMode.PAUSE and "unreadable mode file" in record.reason


def test_parse_when_mode_misspelled_then_error_lists_modes() -> None:
    with pytest.raises(ValueError, match="'panic' is not a control mode; use one of NORMAL, PAUSE"):
        ControlMode.parse("panic")


@pytest.mark.parametrize(("raw", "field"), [
    ({"drawdown_soft": 0.3, "drawdown_hard": 0.2}, "drawdown_soft (0.3) must be below drawdown_hard (0.2)"),
    ({"max_venue_leverage": -1}, "risk.max_venue_leverage"),
    ({"max_leverage": 3}, "risk.max_leverage: Extra inputs are not permitted"),
    ({"runaway_mode": "PANIC"}, "risk.runaway_mode"),
])
def test_limits_when_bad_value_then_config_error_names_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("(", r"\(").replace(")", r"\)")):
        RiskLimits.parse(raw)


def test_limits_when_defaults_then_issue_values() -> None:
    lim = RiskLimits()
    assert (lim.max_asset_concentration, lim.max_venue_leverage, lim.max_risk_per_trade, lim.max_portfolio_heat,
            lim.max_correlation, lim.drawdown_soft, lim.drawdown_hard, lim.max_data_age_ns) == (
        0.05, 3.0, 0.02, 0.25, 0.7, 0.15, 0.20, 500_000_000)


def test_audit_when_engine_acts_then_one_row_per_action_with_actor(tmp_path: Path) -> None:
    audit = AuditLog(f"sqlite:///{tmp_path / 'a.db'}")
    risk = RiskEngine(RiskLimits.parse({**PERMISSIVE, "max_order_quantity": "1", "api_errors_to_trip": 1}),
                      state_dir=tmp_path, audit=audit)
    control = FakeControl()
    risk.bind(control)
    bar(risk, control, 100.0)
    risk.check(order(qty="2"))
    risk.record_api_error("HTTP 500")  # trips PAUSE
    risk.operator_set_mode(ControlMode.EMERGENCY, "alice", "manual kill")
    assert audit.flush()
    import sqlite3

    rows = sqlite3.connect(tmp_path / "a.db").execute("select actor, action from risk_audit order by seq").fetchall()
    assert rows == [
        ("config", "config_load"),
        ("risk", "order_denied"),
        ("breaker:api_errors", "breaker_trip"),
        ("breaker:api_errors", "mode_change"),
        ("alice", "operator_action"),
        ("risk", "kill_switch"),
        ("alice", "mode_change"),
    ]
