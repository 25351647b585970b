"""Single-writer locks, so two bot4 instances can never trade one account from one journal (B6).

SQLite: an exclusive, non-blocking ``flock`` on ``<database>.lock`` (released by the OS when the
process dies, even by SIGKILL). PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) held
on a dedicated connection for the journal's lifetime; the server drops it with the connection.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot4.execution.errors import JournalLocked


class FileLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: IO[bytes] | None = open(path, "a+b")  # noqa: SIM115  # held open for the lock's lifetime
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            raise JournalLocked(
                f"journal lock {path}: held by another bot4 instance (one writer per account)"
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()).encode())
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class AdvisoryLock:
    def __init__(self, engine: Engine, name: str) -> None:
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.name = name
        self._conn: Connection | None = engine.connect()
        got = self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        self._conn.commit()
        if not got:
            self._conn.close()
            self._conn = None
            raise JournalLocked(f"journal lock {name!r}: held by another bot4 instance (one writer per account)")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
            self._conn.close()
            self._conn = None
