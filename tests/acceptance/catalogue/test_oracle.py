"""The oracle can fail: each rule is shown catching a world that breaks it (no ``cat`` fixture here)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot4.engine.clock import LiveClock
from bot4.execution.http_client import BinanceRestClient
from bot4.execution.order_manager import OmsConfig, OrderManager
from bot4.execution.recovery import recover
from bot4.persistence.journal import SqlJournal
from tests.acceptance.catalogue import oracle
from tests.acceptance.catalogue.conftest import INST
from tests.acceptance.catalogue.server import SYMBOL, SimVenue, new_sentinel

LIMIT = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}


@pytest.fixture()
def venue(shared_data: Path) -> Iterator[SimVenue]:
    v = SimVenue(shared_data, new_sentinel()).start()
    yield v
    v.close()


def run_oracle(v: SimVenue, url: str | None, sinks: oracle.Sinks | None = None) -> list[str]:
    inp = oracle.OracleInput(ledger=v.ledger(), start_balances=v.start_balances, journal_url=url)
    return oracle.check(inp, v.secret, sinks or oracle.Sinks())


def traded(v: SimVenue, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    client = BinanceRestClient(v.url, v.api_key, v.secret, {INST.id: SYMBOL}, LiveClock())
    with SqlJournal(url) as j:
        oms = OrderManager(client, j, LiveClock(), OmsConfig(id_prefix="ca-"))
        assert recover(oms, [INST.id]).ok
        oms.new_order(INST, strategy_id="s", side="BUY", type="MARKET", quantity="0.001")
    return url


def test_oracle_when_world_consistent_then_no_violation(venue: SimVenue, tmp_path: Path) -> None:
    assert run_oracle(venue, traded(venue, tmp_path)) == []


def test_oracle_when_order_unknown_to_journal_then_orphan_and_balance_mismatch(venue: SimVenue, tmp_path: Path) -> None:
    url = traded(venue, tmp_path)
    venue.place_raw(venue.account, {**LIMIT, "type": "MARKET", "newClientOrderId": "ca-9"} | {"timeInForce": ""})
    bad = run_oracle(venue, url)
    assert any("orphans" in b and "ca-9" in b for b in bad), bad
    assert any(b.startswith("rule 2: ca-9") for b in bad) and any("position" in b for b in bad), bad


def test_oracle_when_journal_order_missing_on_fake_or_fill_doubled_then_ghost_and_fill_mismatch(
    venue: SimVenue, tmp_path: Path
) -> None:
    url = traded(venue, tmp_path)
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE oms_orders SET client_order_id='ca-7' WHERE client_order_id='ca-1'"))
        c.execute(sa.text("UPDATE oms_fills SET quantity='0.002'"))
    eng.dispose()
    bad = run_oracle(venue, url)
    assert any("ghosts" in b and "ca-7" in b for b in bad), bad
    assert any("0.002 != fake executedQty 0.001" in b for b in bad), bad


def test_oracle_when_filled_id_posted_again_or_audit_edited_then_rules_4_and_5(venue: SimVenue, tmp_path: Path) -> None:
    url = traded(venue, tmp_path)
    with SqlJournal(url) as j:
        j.record_event("TEST", "ca-1", "one")
        j.record_event("TEST", "ca-1", "two")
    venue.place_raw(venue.account, {**LIMIT, "type": "MARKET", "newClientOrderId": "ca-1"} | {"timeInForce": ""})
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE oms_audit SET detail='edited' WHERE detail='one'"))
    eng.dispose()
    bad = run_oracle(venue, url)
    assert any(b.startswith("rule 4: ca-1 POSTed 1 more") for b in bad), bad
    assert any(b.startswith("rule 5") for b in bad), bad


def test_oracle_when_sentinel_in_log_db_or_http_body_then_rule_6(venue: SimVenue, tmp_path: Path) -> None:
    url = traded(venue, tmp_path)
    with SqlJournal(url) as j:
        j.record_event("TEST", "", f"oops {venue.secret}")
    log_file = tmp_path / "bot4.log"
    log_file.write_text(f"key={venue.api_key}\n")
    rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (venue.secret,), None)
    sinks = oracle.Sinks(records=[rec], files=[log_file], dbs=[url], texts={"GET /status": "{}"})
    bad = [b for b in run_oracle(venue, url, sinks) if b.startswith("rule 6")]
    assert len(bad) == 3 and "log record 0" in bad[0] and "file" in bad[1] and "oms_audit" in bad[2], bad
    sinks.texts["GET /status"] = f'{{"secret": "{venue.secret}"}}'
    assert any("text GET /status" in b for b in run_oracle(venue, url, sinks))
