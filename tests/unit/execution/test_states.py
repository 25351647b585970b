"""The transition table and the monotonic-only timeout rule (5.5)."""

from __future__ import annotations

import pytest

from bot4.execution.errors import VenueError
from bot4.execution.memory_journal import MemoryJournal
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.states import LEGAL, TERMINAL, OmsStatus, is_legal, to_order_status
from bot4.model.enums import OrderStatus
from tests.unit.execution.harness import INST, Rig


def test_terminal_when_any_event_then_no_legal_exit() -> None:
    for s in TERMINAL:
        assert LEGAL[s] == frozenset()
        assert all(not is_legal(s, t) for t in OmsStatus)


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        (OmsStatus.IN_FLIGHT, OmsStatus.REJECTED, True),
        (OmsStatus.ACCEPTED, OmsStatus.REJECTED, False),
        (OmsStatus.PARTIALLY_FILLED, OmsStatus.ACCEPTED, False),
        (OmsStatus.PENDING_CANCEL, OmsStatus.FILLED, True),
        (OmsStatus.INITIALIZED, OmsStatus.ACCEPTED, False),
        (OmsStatus.IN_FLIGHT, OmsStatus.FAILED, True),
        (OmsStatus.ACCEPTED, OmsStatus.FAILED, False),
    ],
)
def test_is_legal_when_pair_given_then_matches_lifecycle(old: OmsStatus, new: OmsStatus, ok: bool) -> None:
    assert is_legal(old, new) is ok


def test_to_order_status_when_in_flight_then_submitted_not_rejected() -> None:
    assert to_order_status(OmsStatus.IN_FLIGHT) is OrderStatus.SUBMITTED
    assert to_order_status(OmsStatus.FAILED) is not OrderStatus.REJECTED


class MonotonicOnly:
    """A clock whose wall time must never be read by the order manager."""

    def __init__(self) -> None:
        self.mono = 0

    def monotonic_ns(self) -> int:
        return self.mono

    def now_ns(self) -> int:
        raise AssertionError("the order manager read the wall clock")


def test_poll_when_wall_clock_unusable_then_timeouts_run_on_monotonic_time_only() -> None:
    rig = Rig()
    clock = MonotonicOnly()
    oms = OrderManager(rig.client, MemoryJournal(), clock, OmsConfig(inflight_timeout_ns=500))
    oms.resume()
    rig.client.plan["submit"] = ["drop_before_book"]
    rec = oms.new_order(INST, strategy_id="s", side="BUY", type="LIMIT", quantity="1", price="100")
    clock.mono = 499
    oms.poll()
    assert rig.client.calls["query_order"] == 0
    clock.mono = 500
    oms.poll()
    assert rig.client.calls["query_order"] == 1 and rec.status is OmsStatus.IN_FLIGHT


def test_config_when_bad_prefix_then_error_names_field() -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        OmsConfig(id_prefix="bad prefix!")
    with pytest.raises(ValueError, match="not_found_limit"):
        OmsConfig(not_found_limit=0)


def test_get_when_unknown_id_then_key_error_names_it() -> None:
    rig = Rig()
    with pytest.raises(KeyError, match="nope"):
        rig.oms.get("nope")
    assert isinstance(VenueError("x"), Exception)
