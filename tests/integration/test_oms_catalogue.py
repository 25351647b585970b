"""The A and C catalogue scenarios of the unit suite, re-run on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot4.execution.memory_journal import MemoryJournal
from tests.integration.test_oms_recovery import BACKENDS, make_opener
from tests.unit.execution import harness
from tests.unit.execution import test_fills as c
from tests.unit.execution import test_order_manager as a

SCENARIOS: dict[str, Callable[[], None]] = {
    "A1": lambda: a.test_submit_when_outcome_unknown_but_booked_then_in_flight_then_settled_by_query("drop_after_book"),
    "A2": a.test_submit_when_lost_before_booking_then_failed_after_k_not_found_and_never_resent,
    "A3": a.test_submit_when_ack_arrives_on_stream_before_timeout_then_no_query_and_one_post,
    "A4": a.test_submit_when_venue_says_duplicate_then_order_adopted_not_failed,
    "A5": a.test_cancel_when_outcome_unknown_and_order_fills_then_filled_not_assumed_canceled,
    "A5-refused": a.test_cancel_when_venue_refuses_because_filled_then_settled_by_query,
    "C1": c.test_fill_when_delivered_three_times_and_by_rest_poll_then_applied_once,
    "C2": c.test_snapshot_when_stale_new_arrives_after_stream_fill_then_no_regression,
    "C3": c.test_fill_when_one_partial_report_lost_then_cum_jump_reveals_gap_and_backfill_completes,
}


@pytest.fixture(params=BACKENDS)
def sql_rigs(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    opener, cleanup = make_opener(request.param, tmp_path)
    monkeypatch.setattr(harness, "journal_factory", opener)
    yield
    cleanup()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_catalogue_when_run_on_sql_journal_then_passes(sql_rigs: None, name: str) -> None:
    assert harness.journal_factory is not MemoryJournal
    SCENARIOS[name]()
