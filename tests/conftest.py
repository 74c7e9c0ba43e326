"""Fixtures for the real shared services (Redis, PostgreSQL), each test isolated (see tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import (
    PostgresSchema,
    RedisServer,
    delete_prefix,
    new_prefix,
    shared_redis_url,
)


@pytest.fixture
def redis_state() -> Iterator[tuple[str, str]]:
    """(URL of the machine's Redis, a key prefix of this test's own); its keys are deleted after."""
    url, prefix = shared_redis_url(), new_prefix()
    yield url, prefix
    delete_prefix(url, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop, restart, pause and resume."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def postgres_schema() -> Iterator[PostgresSchema]:
    """A fresh schema in the machine's PostgreSQL `test` database, dropped after the test."""
    schema = PostgresSchema()
    yield schema
    schema.drop()
