"""``bot4 exchange serve`` option handling: loopback only, accounts from flags or file, plan extras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot4.cli.exchange_commands import build_config, exchange_app
from bot4.venues.sim.server.faults import FaultPlanError


def options(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "data": [],
        "fault_plan": None,
        "accounts_file": None,
        "api_key": "k",
        "api_secret": "s",
        "balances": ["USDT=100"],
        "speed": 1.0,
        "seed": 0,
        "debug": False,
    }
    return {**base, **kw}


def test_build_config_when_flags_then_one_default_account_with_balance() -> None:
    cfg = build_config(**options())
    assert [(a.name, a.api_key) for a in cfg.accounts] == [("default", "k")]
    assert str(cfg.accounts[0].balances["USDT"]) == "100"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": "0.0.0.0"}, "127.0.0.1 only"),
        ({"api_key": None, "api_secret": None}, "--accounts FILE or --api-key"),
        ({"api_secret": None}, "both --api-key and --api-secret"),
        ({"speed": -1.0}, "must be >= 0"),
    ],
)
def test_build_config_when_option_bad_then_error_names_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(typer.BadParameter, match=message):
        build_config(**options(**change))


def test_build_config_when_plan_has_latency_and_rate_limit_then_both_used(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    raw = {"endpoints": {}, "latency": {"ack": {"kind": "fixed", "a": 7}}, "rate_limit": {"capacity": 50, "ban_s": 9}}
    plan.write_text(json.dumps(raw))
    cfg = build_config(**options(fault_plan=plan, speed=0.0))
    assert cfg.latency.ack.sample_ms() == 7 and (cfg.limiter.capacity, cfg.limiter.ban_s) == (50, 9)
    assert cfg.speed is None


def test_build_config_when_rate_limit_field_unknown_then_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rate_limit": {"burst": 5}}))
    with pytest.raises(FaultPlanError, match=r"unknown field\(s\) \['burst'\]"):
        build_config(**options(fault_plan=plan))


def test_serve_when_host_not_loopback_then_exit_2_with_message() -> None:
    result = CliRunner().invoke(exchange_app, ["serve", "--host", "0.0.0.0", "--api-key", "k", "--api-secret", "s"])
    assert result.exit_code == 2
    assert "127.0.0.1 only" in result.output
