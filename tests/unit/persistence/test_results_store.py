"""The results store on SQLite: exact round trips, one transaction per run, clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from bot4.persistence import ResultsStore, RunNotFoundError
from bot4.research.metrics import compute_metrics
from bot4.research.results import BacktestResult, RunEvent
from tests.unit.research._factory import T0, fill, make_result, rich_result, trade

RUN_TS = T0 + 123_456_789


def _store(tmp_path: Path) -> ResultsStore:
    return ResultsStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")


def _exact_result() -> BacktestResult:
    """Values a float or a fixed-scale NUMERIC would not keep."""
    return make_result(
        [100.0, 0.1 + 0.2, 1e-300, 123456789.123456789],
        gross=[0.0, 0.3333333333333333, 1.0, 0.0],
        starting_cash="100.000000000000000000000000001",
        final_equity="123456789.1234567890123456789012345",
        fills=[
            fill(0, "BUY", "0.000000000000000000123456789", "65000.10", "1E-30"),
            fill(1, "SELL", "123456789012345678901234.5678", "0.00000001", "0.0", fee_ccy="BTC"),
        ],
        trades=[trade("-0.000000000000000000000000000001", -1e-30)],
        events=[RunEvent(T0, "DATA_GAP", "loader", "gap of 3 bars ✓ ünïcode")],
        config={"strategy": "ema_cross", "params": {"fast": 10, "ratio": 0.1}, "symbols": ["A", "B"]},
        open_positions={"BINANCE:BTC/USDT": Decimal("-0.2500")},
    )


def _assert_same(loaded: BacktestResult, original: BacktestResult) -> None:
    assert loaded.config == original.config
    assert loaded.quote_currency == original.quote_currency
    assert str(loaded.starting_cash) == str(original.starting_cash)
    assert str(loaded.final_equity) == str(original.final_equity)
    assert loaded.equity_ts.tobytes() == original.equity_ts.tobytes()
    assert loaded.equity.tobytes() == original.equity.tobytes()  # bit-identical floats
    assert loaded.gross_exposure.tobytes() == original.gross_exposure.tobytes()
    assert loaded.fills == original.fills
    assert [str(f.quantity) for f in loaded.fills] == [str(f.quantity) for f in original.fills]
    assert loaded.trades == original.trades
    assert loaded.events == original.events
    assert {k: str(v) for k, v in loaded.open_positions.items()} == {
        k: str(v) for k, v in original.open_positions.items()
    }
    assert loaded.bars == {}


def test_save_then_load_when_exact_values_then_round_trip_exactly(tmp_path: Path) -> None:
    result = _exact_result()
    metrics = compute_metrics(result)
    with _store(tmp_path) as store:
        run_id = store.save(result, metrics, run_ts_ns=RUN_TS)
        stored = store.load_run(run_id)
    assert stored.run_id == run_id
    assert stored.created_ts_ns == RUN_TS
    assert stored.metrics == metrics
    _assert_same(stored.result, result)


def test_save_when_result_empty_then_round_trips(tmp_path: Path) -> None:
    result = make_result([], final_equity="100", config={})
    with _store(tmp_path) as store:
        stored = store.load_run(store.save(result, compute_metrics(result), run_ts_ns=0))
    _assert_same(stored.result, result)


def test_list_runs_when_two_saved_then_both_in_id_order_with_caller_timestamps(tmp_path: Path) -> None:
    first, second = rich_result(), _exact_result()
    with _store(tmp_path) as store:
        id1 = store.save(first, compute_metrics(first), run_ts_ns=RUN_TS)
        id2 = store.save(second, compute_metrics(second), run_ts_ns=RUN_TS + 1)
        runs = store.list_runs()
    assert [r.run_id for r in runs] == [id1, id2]
    assert id2 > id1
    assert [r.created_ts_ns for r in runs] == [RUN_TS, RUN_TS + 1]
    assert runs[0].final_equity == Decimal("118.8")
    assert (runs[0].n_fills, runs[0].n_trades) == (2, 1)
    assert runs[1].config["params"] == {"fast": 10, "ratio": 0.1}
    assert runs[0].metrics == compute_metrics(first)


def test_store_when_reopened_then_runs_persist(tmp_path: Path) -> None:
    result = rich_result()
    with _store(tmp_path) as store:
        run_id = store.save(result, compute_metrics(result), run_ts_ns=RUN_TS)
    with _store(tmp_path) as reopened:
        _assert_same(reopened.load_run(run_id).result, result)


def test_save_when_same_run_twice_then_stored_rows_identical(tmp_path: Path) -> None:
    result = rich_result()
    with _store(tmp_path) as store:
        a = store.save(result, compute_metrics(result), run_ts_ns=RUN_TS)
        b = store.save(result, compute_metrics(result), run_ts_ns=RUN_TS)
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM bot4_runs ORDER BY id")).all()
    assert (a, b) == (rows[0][0], rows[1][0])
    assert rows[0][1:] == rows[1][1:]


def test_save_when_fill_not_decimal_then_error_names_it_and_nothing_stored(tmp_path: Path) -> None:
    good = fill(0, "BUY", "1", "100", "0.1")
    bad = fill(1, "SELL", "1", "110", "0.1")
    object.__setattr__(bad, "quantity", 1.0)
    result = make_result([100.0, 101.0], fills=[good, bad])
    with _store(tmp_path) as store:
        with pytest.raises(ValueError, match=r"result\.fills\[1\]\.quantity must be a Decimal"):
            store.save(result, compute_metrics(make_result([100.0, 101.0])), run_ts_ns=RUN_TS)
        assert store.list_runs() == []


def test_save_when_late_row_fails_then_earlier_rows_rolled_back(tmp_path: Path) -> None:
    bad_trade = trade("1")
    object.__setattr__(bad_trade, "return_pct", float("nan"))
    result = make_result([100.0, 101.0], fills=[fill(0, "BUY", "1", "100", "0.1")], trades=[bad_trade])
    with _store(tmp_path) as store:
        with pytest.raises(ValueError, match=r"result\.trades\[0\]\.return_pct must be finite"):
            store.save(result, compute_metrics(make_result([100.0, 101.0])), run_ts_ns=RUN_TS)
        with store.engine.connect() as conn:
            counts = [
                conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ("bot4_runs", "bot4_fills")
            ]
    assert counts == [0, 0]


def test_store_when_sqlite_file_then_journal_mode_is_wal(tmp_path: Path) -> None:
    with _store(tmp_path) as store, store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1


def test_store_when_sqlite_parent_folder_missing_then_created(tmp_path: Path) -> None:
    with ResultsStore(f"sqlite:///{tmp_path / 'a' / 'b' / 'runs.sqlite'}") as store:
        assert store.list_runs() == []
    assert (tmp_path / "a" / "b" / "runs.sqlite").is_file()


def test_load_run_when_id_unknown_then_run_not_found_names_id(tmp_path: Path) -> None:
    with _store(tmp_path) as store, pytest.raises(RunNotFoundError, match="no run with id 42"):
        store.load_run(42)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "123"])
def test_save_when_run_ts_not_non_negative_int_then_error(tmp_path: Path, bad: object) -> None:
    result = rich_result()
    with _store(tmp_path) as store, pytest.raises(ValueError, match="run_ts_ns"):
        store.save(result, compute_metrics(result), run_ts_ns=bad)  # type: ignore[arg-type]


def test_save_when_config_not_json_then_error_names_config(tmp_path: Path) -> None:
    result = make_result([100.0, 101.0], config={"when": object()})
    with _store(tmp_path) as store, pytest.raises(ValueError, match=r"result\.config is not plain JSON"):
        store.save(result, compute_metrics(result), run_ts_ns=RUN_TS)


def test_store_when_url_malformed_then_value_error() -> None:
    with pytest.raises(ValueError, match="results store URL"):
        ResultsStore("not a url")


def test_store_when_in_memory_sqlite_then_works() -> None:
    result = rich_result()
    with ResultsStore("sqlite://") as store:
        run_id = store.save(result, compute_metrics(result), run_ts_ns=RUN_TS)
        assert np.array_equal(store.load_run(run_id).result.equity, result.equity)


def test_store_when_schema_given_for_sqlite_then_error_names_schema(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="schema='x'"):
        ResultsStore(f"sqlite:///{tmp_path / 'runs.sqlite'}", schema="x")
