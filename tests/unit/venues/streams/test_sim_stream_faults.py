"""The stream faults added to the local server's fault plan for these feeds are checked when the plan is read."""

from __future__ import annotations

import pytest

from bot4.venues.sim.server import FaultPlan, FaultPlanError


@pytest.mark.parametrize(
    ("endpoint", "spec", "why"),
    [
        ("ws:depth", {"action": "listen_key_expired"}, "works on 'ws:user' only"),
        ("ws:trade", {"action": "event_stream_terminated"}, "works on 'ws:user' only"),
        ("ws:user", {"action": "inject_level", "side": "b", "price": "1", "qty": "1"}, "works on 'ws:depth' only"),
        ("ws:depth", {"action": "inject_level", "side": "x", "price": "1", "qty": "1"}, "side \\('b' or 'a'\\)"),
        ("ws:depth", {"action": "inject_level", "side": "b", "price": "1"}, "needs side"),
        ("ws:user", {"action": "server_shutdown", "close_after_ms": "soon"}, "'close_after_ms' must be int"),
    ],
)
def test_fault_plan_when_new_stream_action_misused_then_refused_naming_it(
    endpoint: str, spec: dict[str, object], why: str
) -> None:
    with pytest.raises(FaultPlanError, match=why):
        FaultPlan.from_dict({"endpoints": {endpoint: [spec]}})


def test_fault_plan_when_new_stream_actions_well_formed_then_accepted() -> None:
    plan = FaultPlan.from_dict(
        {
            "endpoints": {
                "ws:user": [
                    {"action": "server_shutdown", "close_after_ms": 500, "count": 1},
                    {"action": "listen_key_expired", "when": {"x": "NEW"}},
                    {"action": "event_stream_terminated"},
                    {"action": "malformed_body"},
                ],
                "ws:depth": [{"action": "inject_level", "side": "a", "price": "abc", "qty": "1"}],
            }
        }
    )
    assert [r.action for r in plan.rules] == [
        "server_shutdown", "listen_key_expired", "event_stream_terminated", "malformed_body", "inject_level",
    ]  # fmt: skip
