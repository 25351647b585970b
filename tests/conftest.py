"""Shared fixtures: where the real recorded market data lives; a throw-away PostgreSQL schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PG_URL, drop_schema, open_schema

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository, or ``$BOT4_SHARED_DATA``."""
    env = os.environ.get("BOT4_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"real market data not found at {path}; set BOT4_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def pg_url() -> str:
    return PG_URL


@pytest.fixture()
def pg_schema() -> Iterator[str]:
    """A fresh schema on the test server, dropped with everything in it afterwards."""
    engine, name = open_schema("bot4_test_")
    try:
        yield name
    finally:
        drop_schema(engine, name)
