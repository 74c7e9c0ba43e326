"""`callbot replicas reload`: a rolling model update, one replica at a time, while calls go on."""

from __future__ import annotations

import asyncio
import time

from telephony.rollout import RolloutError, rolling_reload, status
from telephony.simulator import AudioTurn, HoldTurn, simulate_call
from tests.telephony.telephony_fakes import ADMIN_TOKEN, AUTH_TOKEN, FakeBot, tone


class SlowReload(FakeBot):
    """Loading a version takes a moment; when it ran is recorded."""

    def __init__(self, log: list[tuple[str, float, float]], name: str) -> None:
        super().__init__()
        self.log, self.name = log, name

    async def reload(self) -> str:
        started = time.monotonic()
        await asyncio.sleep(0.3)
        self.version = "v2"
        self.log.append((self.name, started, time.monotonic()))
        return self.version


def test_replicas_reload_one_after_another_and_calls_go_on(fake_server) -> None:  # noqa: ANN001
    log: list[tuple[str, float, float]] = []
    with (
        fake_server(script=["영업시간 알려주세요"], bot=SlowReload(log, "a")) as a,
        fake_server(script=["영업시간 알려주세요"], bot=SlowReload(log, "b")) as b,
    ):
        urls = [a.url, b.url]

        async def main():  # noqa: ANN202
            reloaded = asyncio.Event()

            async def update() -> list:
                await asyncio.sleep(1.0)  # both calls are under way
                steps = await rolling_reload(urls, ADMIN_TOKEN)
                reloaded.set()
                return steps

            calls = [
                simulate_call(
                    url,
                    [AudioTurn(ulaw=tone(0.5)), HoldTurn(until=reloaded.wait), AudioTurn(ulaw=tone(0.5))],
                    auth_token=AUTH_TOKEN,
                    fast=True,
                )
                for url in urls
            ]
            return await asyncio.gather(update(), *calls)

        steps, *results = asyncio.run(main())
        assert [(s["replica"], s["version"], s["live_calls"]) for s in steps] == [
            (a.url, "v2", 1),
            (b.url, "v2", 1),
        ]
        (first, _, first_done), (second, second_started, _) = log
        assert (first, second) == ("a", "b") and second_started >= first_done  # never both at once
        for r in results:
            assert r.answered == [0, 2] and r.moves == []
        rows = asyncio.run(status(urls))
        assert [(r["status"], r["version"], r["ready"]) for r in rows] == [
            (200, "v2", True),
            (200, "v2", True),
        ]


def test_a_refused_reload_stops_the_rollout(fake_server) -> None:  # noqa: ANN001
    with fake_server() as a, fake_server() as b:
        try:
            asyncio.run(rolling_reload([a.url, b.url], "wrong-token"))
        except RolloutError as exc:
            assert "answered 401" in str(exc) and a.url in str(exc)
        else:
            raise AssertionError("a refused reload must stop the rollout")
        assert (a.bot.version, b.bot.version) == ("v1", "v1")  # the next replica was not touched
