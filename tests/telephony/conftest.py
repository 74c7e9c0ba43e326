"""Fixtures: a real callbot server on loopback with test doubles for the bot and recognizer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from callbot.config import Config
from telephony.server import Secrets, ServerThread, build_services
from telephony.services import CallServices
from telephony.settings import TelephonySettings
from tests.telephony.telephony_fakes import (
    ADMIN_TOKEN,
    AUTH_TOKEN,
    FakeBot,
    FakeRecognizer,
    RecordingHttpClient,
)


@dataclasses.dataclass
class RunningServer:
    url: str
    services: CallServices
    bot: FakeBot
    recognizer: FakeRecognizer
    http: RecordingHttpClient
    thread: ServerThread

    def drain(self) -> None:
        self.thread.drain()

    @property
    def stopped(self) -> bool:
        return self.thread.stopped


@pytest.fixture
def fake_server(tmp_path: Path) -> Callable[..., Any]:
    """`with fake_server(script=[...], **settings) as srv:` a server whose bot and STT are doubles."""

    started = [0]

    @contextmanager
    def start(
        script: list[str] | None = None,
        max_streams: int = 100,
        bot: FakeBot | None = None,
        **overrides: Any,
    ) -> Iterator[RunningServer]:
        bot = bot or FakeBot()
        recognizer = FakeRecognizer(script or ["안녕하세요"], max_streams)
        http = RecordingHttpClient()
        started[0] += 1  # several servers in one test: a state folder each
        state_dir = tmp_path / ("var" if started[0] == 1 else f"var-{started[0]}")
        base = {"state_dir": state_dir, "agent_number": "+8215880000"}
        settings = dataclasses.replace(TelephonySettings(), **{**base, **overrides})
        config = Config(path=tmp_path / "callbot.yml")

        async def factory() -> CallServices:
            return await build_services(
                config,
                Secrets("AC" + "1" * 32, AUTH_TOKEN, ADMIN_TOKEN),
                settings=settings,
                bot=bot,
                recognizer=recognizer,
                http_client=http,
            )

        with ServerThread(factory) as server:
            assert server.services is not None
            yield RunningServer(server.url, server.services, bot, recognizer, http, server)

    return start
