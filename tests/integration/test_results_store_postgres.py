"""The results store on the real PostgreSQL server, in a throw-away schema per test run.

The server is part of the test environment, so an unreachable server is a failure, not a skip.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from bot4.persistence import ResultsStore, RunNotFoundError
from bot4.research.metrics import compute_metrics
from bot4.research.results import RunEvent
from tests.postgres import PG_URL
from tests.unit.research._factory import T0, fill, make_result, rich_result, trade

pytestmark = pytest.mark.postgres


def test_postgres_save_then_load_when_exact_values_then_round_trip_exactly(pg_schema: str) -> None:
    result = make_result(
        [100.0, 0.1 + 0.2, 99.5],
        gross=[0.0, 0.5, 0.0],
        starting_cash="100.000000000000000000000000001",
        final_equity="99.5000000000000000000000000000000001",
        fills=[
            fill(0, "BUY", "0.000000000000000000123456789", "65000.10", "1E-30"),
            fill(1, "SELL", "123456789012345678901234.5678", "0.00000001", "0.0", fee_ccy="BTC"),
        ],
        trades=[trade("-0.000000000000000000000000000001", -1e-30)],
        events=[RunEvent(T0, "DATA_GAP", "loader", "gap ✓ ünïcode")],
        open_positions={"BINANCE:BTC/USDT": Decimal("-0.2500")},
    )
    metrics = compute_metrics(result)
    with ResultsStore(PG_URL, schema=pg_schema) as store:
        run_id = store.save(result, metrics, run_ts_ns=T0 + 7)
        stored = store.load_run(run_id)
    loaded = stored.result
    assert stored.created_ts_ns == T0 + 7
    assert stored.metrics == metrics
    assert str(loaded.starting_cash) == "100.000000000000000000000000001"
    assert str(loaded.final_equity) == "99.5000000000000000000000000000000001"
    assert loaded.equity.tobytes() == result.equity.tobytes()
    assert loaded.equity_ts.tobytes() == result.equity_ts.tobytes()
    assert loaded.fills == result.fills
    assert [str(f.fee) for f in loaded.fills] == ["1E-30", "0.0"]
    assert loaded.trades == result.trades
    assert loaded.events == result.events
    assert str(loaded.open_positions["BINANCE:BTC/USDT"]) == "-0.2500"


def test_postgres_list_runs_when_two_saved_then_both_listed_in_order(pg_schema: str) -> None:
    first, second = rich_result(), make_result([100.0, 90.0], final_equity="90")
    with ResultsStore(PG_URL, schema=pg_schema) as store:
        a = store.save(first, compute_metrics(first), run_ts_ns=1)
        b = store.save(second, compute_metrics(second), run_ts_ns=2)
        runs = store.list_runs()
        with pytest.raises(RunNotFoundError):
            store.load_run(b + 1000)
    assert [(r.run_id, r.created_ts_ns) for r in runs] == [(a, 1), (b, 2)]
    assert runs[1].final_equity == Decimal("90")


def test_postgres_save_when_late_row_fails_then_whole_run_rolled_back(pg_schema: str) -> None:
    bad_trade = trade("1")
    object.__setattr__(bad_trade, "pnl", 1.5)
    result = make_result([100.0, 101.0], fills=[fill(0, "BUY", "1", "100", "0.1")], trades=[bad_trade])
    with ResultsStore(PG_URL, schema=pg_schema) as store:
        with pytest.raises(ValueError, match=r"result\.trades\[0\]\.pnl must be a Decimal"):
            store.save(result, compute_metrics(make_result([100.0, 101.0])), run_ts_ns=1)
        with store.engine.connect() as conn:
            fills = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{pg_schema}".bot4_fills')).scalar_one()
        assert store.list_runs() == []
    assert fills == 0
