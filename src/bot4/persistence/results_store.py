"""Backtest results kept in a SQL database, so runs can be listed, compared and re-reported later.

SQLite (one local file, WAL journal) is the default; any SQLAlchemy URL works, PostgreSQL included.
Money is stored as decimal *text*: SQLite has no exact decimal type and a fixed ``NUMERIC(p, s)`` would
round fees with many digits, whereas ``str(Decimal)`` round-trips every value exactly on every backend.
Equity points are floats in the result and are stored as double precision, which is also exact.

A run is written in one transaction: either every row of it is stored or none is. The creation time
is given by the caller (the run's clock), never read from the wall clock, so storing the same run
twice stores the same data. Bars are market data, not results, and are not stored; a loaded run has
an empty ``bars`` mapping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot4.research.metrics import Metrics
from bot4.research.results import BacktestResult, FillRecord, RunEvent, TradeRecord

DEFAULT_URL = "sqlite:///bot4.sqlite"


class RunNotFoundError(LookupError):
    """No run with the requested id."""


@dataclass(frozen=True)
class RunSummary:
    """One line of ``list_runs``: enough to choose a run without loading its rows."""

    run_id: int
    created_ts_ns: int
    quote_currency: str
    starting_cash: Decimal
    final_equity: Decimal
    n_fills: int
    n_trades: int
    config: dict[str, Any]
    metrics: Metrics


@dataclass(frozen=True)
class StoredRun:
    """A run read back: its result (without bars) and the metrics saved with it."""

    run_id: int
    created_ts_ns: int
    result: BacktestResult
    metrics: Metrics


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    def run_fk() -> sa.Column[int]:
        return sa.Column("run_id", sa.Integer, sa.ForeignKey("bot4_runs.id", ondelete="CASCADE"), primary_key=True)

    def seq() -> sa.Column[int]:
        return sa.Column("seq", sa.Integer, primary_key=True)

    runs = sa.Table(
        "bot4_runs",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_ts_ns", sa.BigInteger, nullable=False),
        sa.Column("quote_currency", sa.String(32), nullable=False),
        sa.Column("starting_cash", sa.Text, nullable=False),
        sa.Column("final_equity", sa.Text, nullable=False),
        sa.Column("n_fills", sa.Integer, nullable=False),
        sa.Column("n_trades", sa.Integer, nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("metrics_json", sa.Text, nullable=False),
        sa.Column("open_positions_json", sa.Text, nullable=False),
    )
    fills = sa.Table(
        "bot4_fills",
        metadata,
        run_fk(),
        seq(),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("strategy_id", sa.Text, nullable=False),
        sa.Column("instrument_id", sa.Text, nullable=False),
        sa.Column("client_order_id", sa.Text, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("fee", sa.Text, nullable=False),
        sa.Column("fee_currency", sa.String(32), nullable=False),
        sa.Column("liquidity", sa.String(16), nullable=False),
    )
    trades = sa.Table(
        "bot4_trades",
        metadata,
        run_fk(),
        seq(),
        sa.Column("strategy_id", sa.Text, nullable=False),
        sa.Column("instrument_id", sa.Text, nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("entry_ts", sa.BigInteger, nullable=False),
        sa.Column("entry_price", sa.Text, nullable=False),
        sa.Column("exit_ts", sa.BigInteger, nullable=False),
        sa.Column("exit_price", sa.Text, nullable=False),
        sa.Column("pnl", sa.Text, nullable=False),
        sa.Column("fees", sa.Text, nullable=False),
        sa.Column("return_pct", sa.Double, nullable=False),
    )
    equity = sa.Table(
        "bot4_equity",
        metadata,
        run_fk(),
        seq(),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("equity", sa.Double, nullable=False),
        sa.Column("gross_exposure", sa.Double, nullable=False),
    )
    events = sa.Table(
        "bot4_events",
        metadata,
        run_fk(),
        seq(),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    return {"runs": runs, "fills": fills, "trades": trades, "equity": equity, "events": events}


class ResultsStore:
    """Save, load and list backtest runs in the database at ``url``.

    ``schema`` puts the tables in a PostgreSQL schema (created if missing); useful to keep several
    independent stores, e.g. one per test run, in one database.
    """

    def __init__(self, url: str = DEFAULT_URL, *, schema: str | None = None) -> None:
        self._engine = _create_engine(url)
        self.url = self._engine.url.render_as_string(hide_password=True)
        if schema is not None and self._engine.dialect.name == "sqlite":
            self._engine.dispose()
            raise ValueError(f"results store {self.url}: schema={schema!r} needs a server database; SQLite has none")
        self._metadata = sa.MetaData(schema=schema)
        self._t = _tables(self._metadata)
        try:
            with self._engine.begin() as conn:
                if schema is not None:
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
                self._metadata.create_all(conn)
        except sa.exc.OperationalError as exc:
            self._engine.dispose()
            raise ConnectionError(f"results store {self.url}: cannot open the database: {exc.orig}") from exc

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The underlying engine, for ad-hoc SQL over the stored runs."""
        return self._engine

    def save(self, result: BacktestResult, metrics: Metrics, run_ts_ns: int) -> int:
        """Store one run with all its rows in one transaction and return its id."""
        if isinstance(run_ts_ns, bool) or not isinstance(run_ts_ns, int | np.integer) or run_ts_ns < 0:
            raise ValueError(f"run_ts_ns must be a non-negative integer (UTC ns), got {run_ts_ns!r}")
        run_row = {
            "created_ts_ns": int(run_ts_ns),
            "quote_currency": result.quote_currency,
            "starting_cash": _dec(result.starting_cash, "result.starting_cash"),
            "final_equity": _dec(result.final_equity, "result.final_equity"),
            "n_fills": len(result.fills),
            "n_trades": len(result.trades),
            "config_json": _json(result.config, "result.config"),
            "metrics_json": metrics.to_json(),
            "open_positions_json": _json(
                {k: _dec(v, f"result.open_positions[{k!r}]") for k, v in result.open_positions.items()},
                "result.open_positions",
            ),
        }
        with self._engine.begin() as conn:
            runs = self._t["runs"]
            run_id = int(conn.execute(runs.insert().values(run_row).returning(runs.c.id)).scalar_one())
            self._insert(conn, "fills", list(_fill_rows(run_id, result.fills)))
            self._insert(conn, "trades", list(_trade_rows(run_id, result.trades)))
            self._insert(conn, "equity", _equity_rows(run_id, result))
            self._insert(conn, "events", list(_event_rows(run_id, result.events)))
        return run_id

    def load_run(self, run_id: int) -> StoredRun:
        """The run stored under ``run_id``; raises ``RunNotFoundError`` if there is none."""
        t = self._t
        with self._engine.connect() as conn:
            run = conn.execute(sa.select(t["runs"]).where(t["runs"].c.id == run_id)).mappings().first()
            if run is None:
                raise RunNotFoundError(f"results store {self.url} has no run with id {run_id}")
            fills = [_fill_from(r) for r in self._rows(conn, "fills", run_id)]
            trades = [_trade_from(r) for r in self._rows(conn, "trades", run_id)]
            events = [
                RunEvent(r["ts"], r["kind"], r["source"], r["message"]) for r in self._rows(conn, "events", run_id)
            ]
            eq = self._t["equity"]
            points = conn.execute(
                sa.select(eq.c.ts, eq.c.equity, eq.c.gross_exposure).where(eq.c.run_id == run_id).order_by(eq.c.seq)
            ).all()
        result = BacktestResult(
            config=json.loads(run["config_json"]),
            quote_currency=run["quote_currency"],
            starting_cash=Decimal(run["starting_cash"]),
            final_equity=Decimal(run["final_equity"]),
            equity_ts=np.array([p[0] for p in points], dtype=np.int64),
            equity=np.array([p[1] for p in points], dtype=np.float64),
            gross_exposure=np.array([p[2] for p in points], dtype=np.float64),
            fills=tuple(fills),
            trades=tuple(trades),
            bars={},
            events=tuple(events),
            open_positions={k: Decimal(v) for k, v in json.loads(run["open_positions_json"]).items()},
        )
        metrics = Metrics.from_dict(json.loads(run["metrics_json"]))
        return StoredRun(int(run["id"]), int(run["created_ts_ns"]), result, metrics)

    def list_runs(self) -> list[RunSummary]:
        """Every stored run, oldest id first, without fills, trades or equity points."""
        runs = self._t["runs"]
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.id)).mappings().all()
        return [
            RunSummary(
                run_id=int(r["id"]),
                created_ts_ns=int(r["created_ts_ns"]),
                quote_currency=r["quote_currency"],
                starting_cash=Decimal(r["starting_cash"]),
                final_equity=Decimal(r["final_equity"]),
                n_fills=int(r["n_fills"]),
                n_trades=int(r["n_trades"]),
                config=json.loads(r["config_json"]),
                metrics=Metrics.from_dict(json.loads(r["metrics_json"])),
            )
            for r in rows
        ]

    def _insert(self, conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._t[table].insert(), rows)

    def _rows(self, conn: Connection, table: str, run_id: int) -> Sequence[sa.RowMapping]:
        t = self._t[table]
        return conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.seq)).mappings().all()


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"results store URL is not a database URL ({exc}); e.g. sqlite:///bot4.sqlite") from exc
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(parsed)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(f"results store URL {shown}: {exc}") from exc
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers (a report, a dashboard) work while a run is being written."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _dec(value: object, where: str) -> str:
    if not isinstance(value, Decimal):
        raise ValueError(f"{where} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{where} must be a finite Decimal, got {value}")
    return str(value)


def _json(value: Any, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where} is not plain JSON (dicts, lists, str, int, finite float, bool, None): {exc}"
        ) from exc


def _fill_rows(run_id: int, fills: Sequence[FillRecord]) -> Iterator[dict[str, Any]]:
    for i, f in enumerate(fills):
        where = f"result.fills[{i}]"
        yield {
            "run_id": run_id,
            "seq": i,
            "ts": int(f.ts),
            "strategy_id": f.strategy_id,
            "instrument_id": f.instrument_id,
            "client_order_id": f.client_order_id,
            "side": f.side,
            "quantity": _dec(f.quantity, f"{where}.quantity"),
            "price": _dec(f.price, f"{where}.price"),
            "fee": _dec(f.fee, f"{where}.fee"),
            "fee_currency": f.fee_currency,
            "liquidity": f.liquidity,
        }


def _trade_rows(run_id: int, trades: Sequence[TradeRecord]) -> Iterator[dict[str, Any]]:
    for i, t in enumerate(trades):
        where = f"result.trades[{i}]"
        if not math.isfinite(t.return_pct):
            raise ValueError(f"{where}.return_pct must be finite, got {t.return_pct}")
        yield {
            "run_id": run_id,
            "seq": i,
            "strategy_id": t.strategy_id,
            "instrument_id": t.instrument_id,
            "direction": t.direction,
            "quantity": _dec(t.quantity, f"{where}.quantity"),
            "entry_ts": int(t.entry_ts),
            "entry_price": _dec(t.entry_price, f"{where}.entry_price"),
            "exit_ts": int(t.exit_ts),
            "exit_price": _dec(t.exit_price, f"{where}.exit_price"),
            "pnl": _dec(t.pnl, f"{where}.pnl"),
            "fees": _dec(t.fees, f"{where}.fees"),
            "return_pct": float(t.return_pct),
        }


def _equity_rows(run_id: int, result: BacktestResult) -> list[dict[str, Any]]:
    ts = np.asarray(result.equity_ts, dtype=np.int64).tolist()
    equity = np.asarray(result.equity, dtype=np.float64).tolist()
    gross = np.asarray(result.gross_exposure, dtype=np.float64).tolist()
    if not (len(ts) == len(equity) == len(gross)):
        raise ValueError(
            f"result equity arrays differ in length: equity_ts={len(ts)}, equity={len(equity)}, "
            f"gross_exposure={len(gross)}"
        )
    return [
        {"run_id": run_id, "seq": i, "ts": t, "equity": e, "gross_exposure": g}
        for i, (t, e, g) in enumerate(zip(ts, equity, gross, strict=True))
    ]


def _event_rows(run_id: int, events: Sequence[RunEvent]) -> Iterator[dict[str, Any]]:
    for i, ev in enumerate(events):
        yield {
            "run_id": run_id,
            "seq": i,
            "ts": int(ev.ts),
            "kind": ev.kind,
            "source": ev.source,
            "message": ev.message,
        }


def _fill_from(r: sa.RowMapping) -> FillRecord:
    return FillRecord(
        ts=int(r["ts"]),
        strategy_id=r["strategy_id"],
        instrument_id=r["instrument_id"],
        client_order_id=r["client_order_id"],
        side=r["side"],
        quantity=Decimal(r["quantity"]),
        price=Decimal(r["price"]),
        fee=Decimal(r["fee"]),
        fee_currency=r["fee_currency"],
        liquidity=r["liquidity"],
    )


def _trade_from(r: sa.RowMapping) -> TradeRecord:
    return TradeRecord(
        strategy_id=r["strategy_id"],
        instrument_id=r["instrument_id"],
        direction=r["direction"],
        quantity=Decimal(r["quantity"]),
        entry_ts=int(r["entry_ts"]),
        entry_price=Decimal(r["entry_price"]),
        exit_ts=int(r["exit_ts"]),
        exit_price=Decimal(r["exit_price"]),
        pnl=Decimal(r["pnl"]),
        fees=Decimal(r["fees"]),
        return_pct=float(r["return_pct"]),
    )
