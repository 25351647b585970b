"""The order manager's write-ahead journal on SQLAlchemy: SQLite by default, PostgreSQL in production.

Why each choice:
* Every intent, order update and fill is one transaction, committed before the caller goes on; on
  SQLite the database runs in WAL mode with ``synchronous=FULL`` so a committed intent survives a
  power cut (``NORMAL`` may lose the last commits).
* A fill row is keyed by (venue, instrument, trade id); ``INSERT ... ON CONFLICT DO NOTHING`` decides
  whether it is new, and only a new fill updates the order, position and fee rows (same transaction).
* Decimals are stored as text: exact on both databases.
* A single-writer lock is taken on open (``journal_lock``); a second instance fails before trading.
* ``wait_at_most`` bounds how long a write waits for a lock (SQLite ``busy_timeout``, PostgreSQL
  ``lock_timeout``), so the kill path can give up on a locked database within ~100 ms and fall back
  to the emergency intent log next to the journal (``emergency_log_path``, see bot4.execution.emergency).
Any database error becomes ``JournalError`` so the order manager halts instead of sending blind.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot4.execution.errors import JournalError
from bot4.execution.records import FillRow, JournalSnapshot, OrderRecord, PositionRow
from bot4.execution.states import OmsStatus
from bot4.model.enums import Liquidity, OrderType, Side, TimeInForce
from bot4.model.fill import Fill
from bot4.model.orders import Order
from bot4.persistence.journal_lock import AdvisoryLock, FileLock

T = TypeVar("T")
_S = sa.String(64)


def _tables(md: sa.MetaData) -> dict[str, sa.Table]:
    text = sa.Text
    orders = sa.Table(
        "oms_orders", md,
        sa.Column("client_order_id", _S, primary_key=True),
        sa.Column("intent_seq", sa.BigInteger, nullable=False),
        sa.Column("venue", _S, nullable=False),
        sa.Column("instrument_id", _S, nullable=False),
        sa.Column("strategy_id", _S, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("quantity", text), sa.Column("price", text), sa.Column("trigger_price", text),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False), sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("quote_quantity", text), sa.Column("ts_init", sa.BigInteger, nullable=False),
        sa.Column("role", sa.String(16), nullable=False), sa.Column("parent_id", _S, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_qty", text, nullable=False), sa.Column("reported_cum", text, nullable=False),
        sa.Column("notional", text, nullable=False), sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("reason", text, nullable=False),
    )  # fmt: skip
    fills = sa.Table(
        "oms_fills", md,
        sa.Column("venue", _S, primary_key=True), sa.Column("instrument_id", _S, primary_key=True),
        sa.Column("trade_id", _S, primary_key=True), sa.Column("trade_seq", sa.BigInteger, nullable=False),
        sa.Column("client_order_id", _S, nullable=False), sa.Column("strategy_id", _S, nullable=False),
        sa.Column("side", sa.String(8), nullable=False), sa.Column("quantity", text, nullable=False),
        sa.Column("price", text, nullable=False), sa.Column("fee", text, nullable=False),
        sa.Column("fee_currency", sa.String(16), nullable=False), sa.Column("liquidity", sa.String(8), nullable=False),
        sa.Column("ts_event", sa.BigInteger, nullable=False),
    )  # fmt: skip
    positions = sa.Table(
        "oms_positions", md,
        sa.Column("venue", _S, primary_key=True), sa.Column("instrument_id", _S, primary_key=True),
        sa.Column("quantity", text, nullable=False), sa.Column("avg_price", text, nullable=False),
        sa.Column("realized_pnl", text, nullable=False),
    )  # fmt: skip
    fees = sa.Table(
        "oms_fees", md,
        sa.Column("venue", _S, primary_key=True), sa.Column("currency", sa.String(16), primary_key=True),
        sa.Column("amount", text, nullable=False),
    )  # fmt: skip
    meta = sa.Table("oms_meta", md, sa.Column("key", sa.String(200), primary_key=True), sa.Column("value", text))
    audit = sa.Table(
        "oms_audit", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False), sa.Column("client_order_id", _S, nullable=False),
        sa.Column("detail", text, nullable=False), sa.Column("hash", sa.String(64), nullable=False),
    )  # fmt: skip
    return {t.name: t for t in (orders, fills, positions, fees, meta, audit)}


class SqlJournal:
    """``Journal`` on SQLite or PostgreSQL. Opening it takes the single-writer lock for ``account``."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        account: str = "default",
        busy_timeout_ms: int = 2000,
        emergency_log: str | Path | None = None,
    ) -> None:
        if busy_timeout_ms < 0:
            raise ValueError(f"busy_timeout_ms: must be >= 0 (got {busy_timeout_ms})")
        self.url = url
        self._busy_ms = busy_timeout_ms
        self._wait_ms: int | None = None
        self._emergency_log = Path(emergency_log) if emergency_log is not None else None
        self._engine = _create_engine(url, busy_timeout_ms)
        dialect = self._engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"journal url {url!r}: only sqlite and postgresql are supported (got {dialect})")
        if schema is not None and dialect == "sqlite":
            raise ValueError(f"journal url {url!r}: schema={schema!r} needs PostgreSQL; SQLite has none")
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._lock: FileLock | AdvisoryLock | None = None
        try:
            if dialect == "sqlite":
                db = self._engine.url.database
                if db and db != ":memory:":
                    self._lock = FileLock(str(Path(db)) + ".lock")
                    if self._emergency_log is None:
                        self._emergency_log = Path(str(Path(db)) + ".emergency.jsonl")
            else:
                self._lock = AdvisoryLock(self._engine, f"bot4-journal:{schema or 'public'}:{account}")
            md = sa.MetaData(schema=schema)
            self.t = _tables(md)
            with self._engine.begin() as conn:
                if schema is not None:
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
                md.create_all(conn)
        except sa.exc.SQLAlchemyError as exc:
            self.close()
            raise JournalError(f"journal {url}: cannot open ({exc.__class__.__name__}: {exc})") from exc
        except BaseException:
            self.close()
            raise

    # -- Journal protocol ------------------------------------------------------------------------

    @property
    def emergency_log_path(self) -> Path | None:
        """Next to the SQLite file by default; PostgreSQL needs ``emergency_log=`` (else None: strict)."""
        return self._emergency_log

    @contextlib.contextmanager
    def wait_at_most(self, ms: int | None) -> Iterator[None]:
        """Transactions inside wait for a database lock at most ``ms`` (None: ``busy_timeout_ms``)."""
        if ms is not None and ms < 0:
            raise ValueError(f"wait_at_most: ms must be >= 0 (got {ms})")
        prev, self._wait_ms = self._wait_ms, ms if ms is not None else self._wait_ms
        try:
            yield
        finally:
            self._wait_ms = prev

    def load(self) -> JournalSnapshot:
        def work(conn: Connection) -> JournalSnapshot:
            t = self.t
            orders = [_order_from(r) for r in conn.execute(sa.select(t["oms_orders"]).order_by("intent_seq"))]
            fills = [_fill_from(r) for r in conn.execute(sa.select(t["oms_fills"]))]
            positions = [
                PositionRow(
                    r.venue, r.instrument_id, Decimal(r.quantity), Decimal(r.avg_price), Decimal(r.realized_pnl)
                )
                for r in conn.execute(sa.select(t["oms_positions"]))
            ]
            fees = {(r.venue, r.currency): Decimal(r.amount) for r in conn.execute(sa.select(t["oms_fees"]))}
            meta = {r.key: r.value for r in conn.execute(sa.select(t["oms_meta"]))}
            top = max((o.intent_seq for o in orders), default=0)
            return JournalSnapshot(orders, fills, positions, fees, meta, top + 1)

        return self._tx("load", work)

    def commit_intent(self, record: OrderRecord) -> None:
        self._tx("commit intent", lambda c: c.execute(sa.insert(self.t["oms_orders"]).values(**_order_row(record))))

    def commit_order(self, record: OrderRecord) -> None:
        self._tx("commit order", lambda c: self._upsert(c, "oms_orders", _order_row(record), ["client_order_id"]))

    def commit_fill(self, fill: FillRow, order: OrderRecord, position: PositionRow, fee: tuple[str, Decimal]) -> bool:
        def work(conn: Connection) -> bool:
            stmt = self._insert(self.t["oms_fills"]).values(**_fill_row(fill)).on_conflict_do_nothing()
            if conn.execute(stmt).rowcount != 1:
                return False
            self._upsert(conn, "oms_orders", _order_row(order), ["client_order_id"])
            self._upsert(
                conn,
                "oms_positions",
                dict(
                    venue=position.venue,
                    instrument_id=position.instrument_id,
                    quantity=str(position.quantity),
                    avg_price=str(position.avg_price),
                    realized_pnl=str(position.realized_pnl),
                ),
                ["venue", "instrument_id"],
            )
            self._upsert(
                conn, "oms_fees", dict(venue=fill.venue, currency=fee[0], amount=str(fee[1])), ["venue", "currency"]
            )
            return True

        return self._tx(f"commit fill {fill.fill.trade_id}", work)

    def set_meta(self, key: str, value: str) -> None:
        self._tx("set meta", lambda c: self._upsert(c, "oms_meta", {"key": key, "value": value}, ["key"]))

    def record_event(self, kind: str, client_order_id: str, detail: str) -> None:
        """Append to the audit trail; each row's hash chains the previous one, so edits are detectable."""
        t = self.t["oms_audit"]

        def work(conn: Connection) -> None:
            prev = conn.execute(sa.select(t.c.hash).order_by(t.c.id.desc()).limit(1)).scalar() or ""
            row = {"kind": kind[:40], "client_order_id": client_order_id[:64], "detail": detail}
            conn.execute(sa.insert(t).values(**row, hash=_chain(prev, row)))

        self._tx("record event", work)

    def audit(self) -> list[tuple[str, str, str]]:
        t = self.t["oms_audit"]
        rows = self._tx("audit", lambda c: list(c.execute(sa.select(t).order_by(t.c.id))))
        return [(r.kind, r.client_order_id, r.detail) for r in rows]

    def verify_audit(self) -> int | None:
        """Index of the first audit row whose hash does not chain (edited, deleted or reordered), else None."""
        t = self.t["oms_audit"]
        rows = self._tx("verify audit", lambda c: list(c.execute(sa.select(t).order_by(t.c.id))))
        prev = ""
        for i, r in enumerate(rows):
            if r.hash != _chain(prev, {"kind": r.kind, "client_order_id": r.client_order_id, "detail": r.detail}):
                return i
            prev = r.hash
        return None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._engine.dispose()

    def __enter__(self) -> SqlJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _tx(self, what: str, work: Callable[[Connection], T]) -> T:
        try:
            with self._engine.begin() as conn:
                self._bound_lock_wait(conn)
                return work(conn)
        except sa.exc.SQLAlchemyError as exc:
            detail = f"{exc.__class__.__name__}: {exc.args[0] if exc.args else exc}"
            if _storage_full(exc):
                raise JournalError(
                    f"journal {what} failed: storage is full; nothing was written. Free space, reconcile, then "
                    f"resume by operator action ({detail})"
                ) from exc
            raise JournalError(f"journal {what} failed: {detail}") from exc

    def _bound_lock_wait(self, conn: Connection) -> None:
        # SQLite: busy_timeout is per connection and pooled connections keep it, so set it when it differs
        want = self._busy_ms if self._wait_ms is None else self._wait_ms
        if self._engine.dialect.name == "sqlite":
            info = conn.info
            if info.get("bot4_busy_ms") != want:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(want)}")
                info["bot4_busy_ms"] = want
        elif self._wait_ms is not None:  # PostgreSQL: 0 would mean "no limit", so at least 1 ms
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(int(self._wait_ms), 1)}")

    def _upsert(self, conn: Connection, table: str, values: dict[str, Any], keys: list[str]) -> None:
        stmt = self._insert(self.t[table]).values(**values)
        update = {k: v for k, v in values.items() if k not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update))


_PG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def audit_grants_sql(
    schema: str, role: str, table: str = "oms_audit", sequence: str | None = "oms_audit_id_seq"
) -> list[str]:
    """PostgreSQL statements that let ``role`` append to and read the audit table, and nothing more.

    Tamper evidence (the hash chain) catches edits after the fact; these grants stop them up front: the
    application's role may INSERT and SELECT audit rows (and draw ids from the table's sequence) but not
    UPDATE, DELETE or TRUNCATE them. Run them as the owner (the migration role), not as the app role.
    """
    for name, value in (("schema", schema), ("role", role), ("table", table), ("sequence", sequence)):
        if value is not None and not _PG_NAME.fullmatch(value):
            raise ValueError(f"audit_grants_sql: {name} {value!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
    target = f'"{schema}"."{table}"'
    statements = [
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        f'REVOKE ALL ON {target} FROM "{role}"',
        f'GRANT SELECT, INSERT ON {target} TO "{role}"',
    ]
    if sequence is not None:
        statements.append(f'GRANT USAGE ON SEQUENCE "{schema}"."{sequence}" TO "{role}"')
    return statements


def _storage_full(exc: sa.exc.SQLAlchemyError) -> bool:
    """SQLITE_FULL (disk or ``max_page_count``) or PostgreSQL's disk_full (SQLSTATE 53100)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlite_errorname", None) == "SQLITE_FULL" or getattr(orig, "pgcode", None) == "53100"


def _chain(prev: str, row: dict[str, str]) -> str:
    payload = "\x1f".join((prev, row["kind"], row["client_order_id"], row["detail"]))
    return hashlib.sha256(payload.encode()).hexdigest()


def _create_engine(url: str, busy_timeout_ms: int) -> Engine:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {})
    if engine.dialect.name == "sqlite":

        def pragmas(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            finally:
                cur.close()
            record.info["bot4_busy_ms"] = int(busy_timeout_ms)

        sa.event.listen(engine, "connect", pragmas)
    return engine


def _s(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _d(x: str | None) -> Decimal | None:
    return None if x is None else Decimal(x)


def _order_row(r: OrderRecord) -> dict[str, Any]:
    o = r.order
    return dict(
        client_order_id=r.client_order_id, intent_seq=r.intent_seq, venue=r.venue, instrument_id=o.instrument_id,
        strategy_id=o.strategy_id, side=o.side.value, type=o.type.value, quantity=_s(o.quantity), price=_s(o.price),
        trigger_price=_s(o.trigger_price), time_in_force=o.time_in_force.value, post_only=o.post_only,
        reduce_only=o.reduce_only, quote_quantity=_s(o.quote_quantity), ts_init=o.ts_init, role=r.role,
        parent_id=r.parent_id, status=r.status.value, filled_qty=str(r.filled_qty), reported_cum=str(r.reported_cum),
        notional=str(r.notional), last_seq=r.last_seq, reason=r.reason,
    )  # fmt: skip


def _order_from(row: Any) -> OrderRecord:
    order = Order(
        client_order_id=row.client_order_id, strategy_id=row.strategy_id, instrument_id=row.instrument_id,
        side=Side(row.side), type=OrderType(row.type), quantity=_d(row.quantity), price=_d(row.price),
        trigger_price=_d(row.trigger_price), time_in_force=TimeInForce(row.time_in_force), post_only=row.post_only,
        reduce_only=row.reduce_only, quote_quantity=_d(row.quote_quantity), ts_init=row.ts_init,
    )  # fmt: skip
    return OrderRecord(
        row.client_order_id, row.intent_seq, row.venue, order, row.role, row.parent_id, OmsStatus(row.status),
        Decimal(row.filled_qty), Decimal(row.reported_cum), Decimal(row.notional), row.last_seq, row.reason,
    )  # fmt: skip


def _fill_row(f: FillRow) -> dict[str, Any]:
    x = f.fill
    return dict(
        venue=f.venue, instrument_id=x.instrument_id, trade_id=x.trade_id, trade_seq=f.trade_seq,
        client_order_id=x.client_order_id, strategy_id=x.strategy_id, side=x.side.value, quantity=str(x.quantity),
        price=str(x.price), fee=str(x.fee), fee_currency=x.fee_currency, liquidity=x.liquidity.value,
        ts_event=x.ts_event,
    )  # fmt: skip


def _fill_from(r: Any) -> FillRow:
    fill = Fill(
        r.trade_id, r.client_order_id, r.strategy_id, r.instrument_id, Side(r.side), Decimal(r.quantity),
        Decimal(r.price), Decimal(r.fee), r.fee_currency, Liquidity(r.liquidity), r.ts_event,
    )  # fmt: skip
    return FillRow(r.venue, fill, r.trade_seq)
