"""A tamper-evident, append-only audit trail of risk decisions, mode changes and operator actions.

Each record stores the SHA-256 of the previous record (canonical JSON of seq, ts, actor, action,
payload, prev_hash), so editing, deleting or reordering any record breaks the chain. ``verify`` recomputes
every hash from the record contents. The head (last seq and hash) is also copied to a side file so that
cutting off the whole tail, which leaves a valid shorter chain, is still caught.

Writes never block the kill path: ``append`` only buffers; ``flush`` tries once without waiting for
locks (SQLite ``timeout=0``) and keeps the buffer for the next try if the database is busy or down.
Sequence numbers and hashes are assigned at flush time, inside the transaction that reads the head, so
a buffered backlog always joins the chain where the database really ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot4.risk.modes import atomic_write

GENESIS = "0" * 64
log = logging.getLogger(__name__)

metadata = MetaData()
audit_table = Table(
    "risk_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)


def canonical_json(value: Any) -> str:
    """One byte-exact JSON form per value: sorted keys, no spaces, Decimals and the like as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(seq: int, ts_ns: int, actor: str, action: str, payload_json: str, prev_hash: str) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "ts": ts_ns,
            "actor": actor,
            "action": action,
            "payload": json.loads(payload_json),
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def make_db_engine(url: str) -> Engine:
    """SQLite gets ``timeout=0`` so a locked database fails at once instead of stalling the caller."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 0}, poolclass=None)
    return create_engine(url)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts_ns: int
    actor: str
    action: str
    payload: str  # canonical JSON


class AuditLog:
    """Buffered writer of the hash chain. ``append`` is cheap and never touches the database."""

    def __init__(self, url: str, head_path: str | Path | None = None, max_buffer: int = 100_000) -> None:
        self.url = url
        self.head_path = Path(head_path) if head_path is not None else None
        self._db = make_db_engine(url)
        self._buffer: deque[AuditEntry] = deque(maxlen=max_buffer)
        self._ready = False
        self.dropped = 0  # entries lost because the buffer overflowed while the DB was unavailable
        self.failed_flushes = 0
        self._ensure_table()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def append(self, actor: str, action: str, payload: dict[str, Any], ts_ns: int) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(AuditEntry(ts_ns, actor, action, canonical_json(payload)))

    def flush(self) -> bool:
        """Write the buffer in one transaction; on any DB error keep it for later and return False."""
        if not self._buffer:
            return True
        if not self._ready and not self._ensure_table():
            self.failed_flushes += 1
            return False
        batch = list(self._buffer)
        try:
            with self._db.begin() as conn:
                row = conn.execute(
                    select(audit_table.c.seq, audit_table.c.entry_hash).order_by(audit_table.c.seq.desc()).limit(1)
                ).first()
                seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS)
                rows = []
                for e in batch:
                    seq += 1
                    h = entry_hash(seq, e.ts_ns, e.actor, e.action, e.payload, prev)
                    rows.append(
                        {
                            "seq": seq,
                            "ts_ns": e.ts_ns,
                            "actor": e.actor,
                            "action": e.action,
                            "payload": e.payload,
                            "prev_hash": prev,
                            "entry_hash": h,
                        }
                    )
                    prev = h
                conn.execute(audit_table.insert(), rows)
        except SQLAlchemyError as exc:
            self.failed_flushes += 1
            log.warning("audit flush deferred (%d pending): %s", len(batch), exc.__class__.__name__)
            return False
        for _ in batch:
            self._buffer.popleft()
        if self.head_path is not None:
            write_head(self.head_path, seq, prev)
        return True

    def close(self) -> None:
        self.flush()
        self._db.dispose()

    def _ensure_table(self) -> bool:
        try:
            metadata.create_all(self._db)
        except SQLAlchemyError:
            return False
        self._ready = True
        return True


def write_head(path: Path, seq: int, head_hash: str) -> None:
    atomic_write(path, canonical_json({"seq": seq, "hash": head_hash}).encode())


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    records: int
    first_bad_seq: int | None
    message: str


def verify(url: str, head_path: str | Path | None = None) -> VerifyReport:
    """Recompute the chain from the entries; report the first record where it breaks."""
    db = make_db_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(select(audit_table).order_by(audit_table.c.seq)).all()
    except SQLAlchemyError as exc:
        return VerifyReport(False, 0, None, f"cannot read the audit table at {url}: {exc.__class__.__name__}: {exc}")
    finally:
        db.dispose()
    prev = GENESIS
    expected_seq = 1
    for r in rows:
        if r.seq != expected_seq:
            return VerifyReport(
                False,
                len(rows),
                expected_seq,
                f"record {expected_seq} is missing or out of order (found seq {r.seq} in its place)",
            )
        try:
            recomputed = entry_hash(r.seq, r.ts_ns, r.actor, r.action, r.payload, r.prev_hash)
        except json.JSONDecodeError:
            return VerifyReport(False, len(rows), r.seq, f"record {r.seq}: payload is not valid JSON")
        if recomputed != r.entry_hash:
            return VerifyReport(False, len(rows), r.seq, f"record {r.seq}: contents do not match its hash")
        if r.prev_hash != prev:
            return VerifyReport(
                False,
                len(rows),
                r.seq - 1,
                f"record {r.seq - 1} was altered: its recomputed hash differs from prev_hash stored in record {r.seq}",
            )
        prev = recomputed
        expected_seq += 1
    last_seq = expected_seq - 1
    if head_path is not None and Path(head_path).exists():
        try:
            head = json.loads(Path(head_path).read_text(encoding="utf-8"))
            head_seq, head_hash = int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            return VerifyReport(False, len(rows), None, f"head file {head_path} is unreadable: {exc}")
        if head_seq > last_seq:
            return VerifyReport(
                False,
                len(rows),
                last_seq + 1,
                f"records after {last_seq} are missing: the head file {head_path} records seq {head_seq}",
            )
        chain_hash_at_head = _hash_at(rows, head_seq)
        if chain_hash_at_head != head_hash:
            return VerifyReport(
                False, len(rows), head_seq, f"record {head_seq} does not match the head hash saved in {head_path}"
            )
    return VerifyReport(True, len(rows), None, f"audit chain intact: {len(rows)} records")


def _hash_at(rows: Sequence[Any], seq: int) -> str:
    if seq == 0:
        return GENESIS
    return str(rows[seq - 1].entry_hash)
