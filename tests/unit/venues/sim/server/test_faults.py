"""Fault plans: parsing JSON/TOML, refusing bad rules by name, and firing with skip/count/when/duration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot4.venues.sim.server.faults import FaultPlan, FaultPlanError, read_plan_file

MS = 1_000_000


def test_load_when_toml_plan_then_rules_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        '[[endpoints."POST /api/v3/order"]]\naction = "drop_after_book"\ncount = 1\n'
        '[[endpoints."ws:user"]]\naction = "duplicate_event"\nn = 3\nwhen = { x = "TRADE" }\n'
    )
    plan = FaultPlan.load(path)
    assert [(r.endpoint, r.action, r.count) for r in plan.rules] == [
        ("POST /api/v3/order", "drop_after_book", 1),
        ("ws:user", "duplicate_event", None),
    ]
    assert plan.rules[1].args == {"n": 3} and plan.rules[1].when == {"x": "TRADE"}


def test_firing_when_skip_and_count_then_fires_on_the_nth_match_only() -> None:
    plan = FaultPlan()
    plan.add("POST /api/v3/order", "drop_before_book", skip=1, count=1)
    fired = [bool(plan.firing("POST /api/v3/order", {}, 0)) for _ in range(4)]
    assert fired == [False, True, False, False]


def test_firing_when_condition_then_only_matching_requests() -> None:
    plan = FaultPlan()
    plan.add("POST /api/v3/order", "status", code=503, when={"side": "SELL"})
    assert plan.firing("POST /api/v3/order", {"side": "BUY"}, 0) == []
    assert plan.firing("POST /api/v3/order", {"side": "SELL"}, 0)[0].args == {"code": 503}


def test_firing_when_duration_then_every_request_in_the_window_then_none() -> None:
    plan = FaultPlan()
    plan.add("*", "status", code=429, headers={"Retry-After": "3"}, duration_ms=3000, count=1)
    assert plan.firing("GET /api/v3/time", {}, 0)
    assert plan.firing("GET /api/v3/depth", {}, 2999 * MS)
    assert plan.firing("GET /api/v3/time", {}, 3000 * MS) == []


def test_firing_when_wildcard_then_rest_only_not_streams() -> None:
    plan = FaultPlan()
    plan.add("*", "delay", ms=5)
    assert plan.firing("ws:user", {}, 0) == []


@pytest.mark.parametrize(
    ("endpoint", "spec", "message"),
    [
        ("POST /api/v3/order", {"action": "explode"}, "action 'explode'"),
        ("ws:user", {"action": "drop_after_book"}, "action 'drop_after_book'"),
        ("ws:nothing", {"action": "silent_stream"}, "unknown stream"),
        ("order", {"action": "delay", "ms": 1}, "must look like"),
        ("POST /api/v3/order", {"action": "delay"}, "delay needs 'ms'"),
        ("POST /api/v3/order", {"action": "delay", "ms": "x"}, "'ms' must be int"),
        ("POST /api/v3/order", {"action": "status", "code": 500, "color": 1}, "no field 'color'"),
        ("POST /api/v3/order", {"action": "delay", "ms": 1, "count": -1}, "'count' must be an integer"),
    ],
)
def test_from_dict_when_rule_is_bad_then_error_names_endpoint_and_field(
    endpoint: str, spec: dict[str, object], message: str
) -> None:
    with pytest.raises(FaultPlanError, match=message) as err:
        FaultPlan.from_dict({"endpoints": {endpoint: [spec]}}, "plan.json")
    assert "plan.json" in str(err.value)


def test_read_plan_file_when_unknown_top_level_key_then_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"endpoint": {}}))
    with pytest.raises(FaultPlanError, match=r"unknown top-level key\(s\) \['endpoint'\]"):
        read_plan_file(path)


def test_read_plan_file_when_not_json_then_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{nope")
    with pytest.raises(FaultPlanError, match=r"plan\.json: not valid"):
        read_plan_file(path)
