"""The SQLite journal: exact decimals, fill dedup in one transaction, intents never overwritten, lock."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bot4.execution.errors import JournalError, JournalLocked
from bot4.execution.records import FillRow, OrderRecord, PositionRow
from bot4.execution.states import OmsStatus
from bot4.model import Fill, Liquidity, Side
from bot4.persistence.journal import SqlJournal
from tests.unit.execution.harness import IID, limit_order


def record(cid: str = "b4-1", seq: int = 1) -> OrderRecord:
    return OrderRecord(cid, seq, "SIM", limit_order(cid), status=OmsStatus.PENDING_SEND)


def test_commit_fill_when_same_trade_twice_then_second_changes_nothing(tmp_path: Path) -> None:
    with SqlJournal(f"sqlite:///{tmp_path / 'j.db'}") as j:
        rec = record()
        j.commit_intent(rec)
        fill = Fill("T-1", "b4-1", "s", IID, Side.BUY, Decimal("0.1"), Decimal("100.00000001"), Decimal("1E-12"),
                    "BNB", Liquidity.MAKER, 5)  # fmt: skip
        pos = PositionRow("SIM", IID, Decimal("0.1"), Decimal("100.00000001"), Decimal(0))
        done = replace(rec, status=OmsStatus.PARTIALLY_FILLED, filled_qty=Decimal("0.1"))
        assert j.commit_fill(FillRow("SIM", fill, 1), done, pos, ("BNB", Decimal("1E-12")))
        other = replace(pos, quantity=Decimal(99))
        assert not j.commit_fill(
            FillRow("SIM", fill, 1), replace(done, filled_qty=Decimal(9)), other, ("BNB", Decimal(7))
        )
        snap = j.load()
    assert [f.fill for f in snap.fills] == [fill]
    assert snap.positions == [pos] and snap.fees == {("SIM", "BNB"): Decimal("1E-12")}
    assert snap.orders[0].filled_qty == Decimal("0.1") and snap.orders[0].status is OmsStatus.PARTIALLY_FILLED
    assert snap.next_intent_seq == 2


def test_commit_intent_when_id_exists_then_journal_error(tmp_path: Path) -> None:
    with SqlJournal(f"sqlite:///{tmp_path / 'j.db'}") as j:
        j.commit_intent(record())
        with pytest.raises(JournalError, match="commit intent failed"):
            j.commit_intent(record())


def test_open_when_lock_held_then_refused_and_released_on_close(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    first = SqlJournal(url)
    with pytest.raises(JournalLocked, match=r"j\.db\.lock"):
        SqlJournal(url)
    first.close()
    SqlJournal(url).close()


def test_open_when_bad_arguments_then_errors_name_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="schema"):
        SqlJournal(f"sqlite:///{tmp_path / 'j.db'}", schema="x")
    with pytest.raises(ValueError, match="busy_timeout_ms"):
        SqlJournal(f"sqlite:///{tmp_path / 'k.db'}", busy_timeout_ms=-1)
