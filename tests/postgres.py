"""The PostgreSQL test server: one address and one way to get a throw-away schema on it.

The server is part of the test environment, so an unreachable server is a failure, never a skip.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def open_schema(prefix: str) -> tuple[sa.Engine, str]:
    """An engine on the test server (checked reachable) and a fresh, not yet created, schema name."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(f"PostgreSQL test server not reachable at {PG_URL}: {exc.orig}")
    return engine, name


def drop_schema(engine: sa.Engine, name: str) -> None:
    """Drop the schema with everything in it, then release the engine's connections."""
    with engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))
    engine.dispose()
