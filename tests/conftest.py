"""Fixtures shared by the test packages: the real shared services (Redis, PostgreSQL), each test isolated
(see tests/services.py), and the real bundled Whisper model for the second pass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from stt.second_pass.settings import SecondPassSettings
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


@pytest.fixture(scope="session")
def whisper_cache(request: pytest.FixtureRequest) -> Path:
    """Where the bundled Whisper model is assembled (kept between runs in pytest's cache)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("callbot-whisper"))
    return request.getfixturevalue("tmp_path_factory").mktemp("whisper")


@pytest.fixture(scope="session")
def whisper_settings(whisper_cache: Path) -> SecondPassSettings:
    """The shipped second-pass defaults (callbot.yml), with the model cache of the test session."""
    return SecondPassSettings(engine="whisper", cache_dir=whisper_cache)


@pytest.fixture(scope="session")
def whisper(whisper_settings: SecondPassSettings) -> Iterator:
    """The real bundled Whisper second pass, loaded once (~1 s, 0.5 GB) for the whole session."""
    from stt.second_pass.pool import SecondPass

    second = SecondPass.load(whisper_settings)
    yield second
    second.close()


@pytest.fixture
def whisper_with(whisper_cache: Path) -> Iterator:
    """`whisper_with(**settings)`: a second pass with other settings, sharing the session's model files."""
    from stt.second_pass.pool import SecondPass

    made = []

    def make(**changes: object) -> SecondPass:
        settings = dataclasses.replace(
            SecondPassSettings(engine="whisper", cache_dir=whisper_cache), **changes
        )
        second = SecondPass.load(settings)
        made.append(second)
        return second

    yield make
    for second in made:
        second.close()
