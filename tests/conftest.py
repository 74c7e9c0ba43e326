"""Fixtures shared by the test packages: the real bundled Whisper model for the second pass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from stt.second_pass.settings import SecondPassSettings


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
