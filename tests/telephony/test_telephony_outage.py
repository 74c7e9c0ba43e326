"""Redis or PostgreSQL gone mid-call: the call goes on in-process, call-log rows are buffered and written
later (none lost, none twice), /readyz says what is down. Against the real services: a private
redis-server that the test stops, and the machine's PostgreSQL behind a proxy that the test cuts."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from callbot.config import Config
from telephony.calllog import CallLog, TurnRecord
from telephony.server import Secrets, ServerThread, build_services
from telephony.simulator import AudioTurn, HoldTurn, simulate_call
from tests.services import TcpProxy
from tests.telephony.telephony_fakes import (
    ADMIN_TOKEN,
    AUTH_TOKEN,
    FakeBot,
    FakeRecognizer,
    RecordingHttpClient,
    tone,
)


def _server(tmp_path: Path, raw: dict, script: list[str]) -> ServerThread:
    config = Config(path=tmp_path / "callbot.yml", raw={"paths": {"state_dir": str(tmp_path / "var")}, **raw})

    async def factory():  # noqa: ANN202
        return await build_services(
            config,
            Secrets("AC" + "1" * 32, AUTH_TOKEN, ADMIN_TOKEN),
            bot=FakeBot(),
            recognizer=FakeRecognizer(script),
            http_client=RecordingHttpClient(),
        )

    return ServerThread(factory)


def _wait_for(check, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _call_with_outage(url: str, outage, restore, turns_after: int = 2):  # noqa: ANN001, ANN202
    """One call: a turn, then `outage()` while the caller holds, `turns_after` turns, then `restore()`
    while the caller holds again, then the caller hangs up. Returns the simulator's result."""

    async def main():  # noqa: ANN202
        def step(fn):  # noqa: ANN001, ANN202
            async def run() -> None:
                await asyncio.to_thread(fn)

            return run

        turns = [
            AudioTurn(ulaw=tone(0.5)),
            HoldTurn(until=step(outage)),
            *[AudioTurn(ulaw=tone(0.5)) for _ in range(turns_after)],
            HoldTurn(until=step(restore)),
        ]
        return await simulate_call(url, turns, auth_token=AUTH_TOKEN, fast=True, reply_timeout=10)

    return asyncio.run(main())


def test_redis_stops_mid_call_and_comes_back(tmp_path: Path, private_redis) -> None:  # noqa: ANN001
    raw = {"state": {"redis_url": private_redis.url, "timeout_seconds": 0.3, "retry_seconds": 0.2}}
    with _server(tmp_path, raw, ["영업시간 알려주세요"]) as srv:
        assert httpx.get(srv.url + "/readyz").json()["checks"]["redis"] == "ok"
        seen: dict[str, object] = {}

        def outage() -> None:
            private_redis.stop()
            ready = httpx.get(srv.url + "/readyz")
            seen["down"] = (ready.status_code, ready.json()["checks"]["redis"])
            seen["degraded"] = httpx.get(srv.url + "/readyz?degraded=ok").status_code

        def restore() -> None:
            private_redis.start()  # an empty Redis: everything it held is gone
            _wait_for(lambda: srv.services.link is not None and srv.services.link.up)
            seen["up"] = httpx.get(srv.url + "/readyz").status_code

        result = _call_with_outage(srv.url, outage, restore)
        assert result.answered == [0, 2, 3]  # every caller turn was answered, during the outage too
        assert seen["down"][0] == 503 and str(seen["down"][1]).startswith("down:")
        assert seen["degraded"] == 200 and seen["up"] == 200
        call = srv.services.calllog.get_call(result.call_sid)
        assert [t["kind"] for t in call["turns"]] == ["greeting", "speech", "speech", "speech"]
        metrics = httpx.get(srv.url + "/metrics").text
        assert 'callbot_dependency_up{dependency="redis"} 1.0' in metrics


def test_redis_back_gets_the_state_of_calls_that_went_on_without_it(tmp_path: Path, private_redis) -> None:  # noqa: ANN001
    import redis

    raw = {"state": {"redis_url": private_redis.url, "timeout_seconds": 0.3, "retry_seconds": 0.2}}
    with _server(tmp_path, raw, ["영업시간 알려주세요"]) as srv:
        key = {}

        def outage() -> None:
            private_redis.stop()

        def restore() -> None:
            private_redis.start()
            client = redis.Redis.from_url(private_redis.url)
            sid = next(iter(srv.services.live_calls))
            key["value"] = None
            _wait_for(lambda: client.get(f"callbot:call:{sid}") is not None)  # rewritten by the live call
            key["value"] = json.loads(client.get(f"callbot:call:{sid}"))
            client.close()

        _call_with_outage(srv.url, outage, restore)
        assert key["value"]["turn"] == 3 and key["value"]["prompt"].endswith("말씀이시군요.")


def test_postgres_gone_mid_call_buffers_the_call_log(tmp_path: Path, postgres_schema) -> None:  # noqa: ANN001
    proxy = TcpProxy(("127.0.0.1", 5432))
    url = postgres_schema.url(port=proxy.port)
    raw = {"telephony": {"database_url": url}}
    try:
        with _server(tmp_path, raw, ["영업시간 알려주세요"]) as srv:
            seen: dict[str, object] = {}

            def outage() -> None:
                proxy.cut()

            def restore() -> None:
                ready = httpx.get(srv.url + "/readyz")
                seen["down"] = (ready.status_code, ready.json()["checks"]["database"])
                seen["pending"] = srv.services.calllog.pending_writes
                proxy.restore()
                _wait_for(lambda: srv.services.calllog.pending_writes == 0)
                seen["up"] = httpx.get(srv.url + "/readyz").status_code

            result = _call_with_outage(srv.url, outage, restore, turns_after=3)
            assert result.answered == [0, 2, 3, 4]
            assert seen["down"][0] == 503 and str(seen["down"][1]).startswith("down:")
            assert seen["pending"] >= 3 and seen["up"] == 200
            _wait_for(lambda: srv.services.calllog.get_call(result.call_sid)["ended_at"] is not None)
            call = srv.services.calllog.get_call(result.call_sid)
        turns = [(t["turn"], t["kind"]) for t in call["turns"]]
        assert turns == [(0, "greeting"), (1, "speech"), (2, "speech"), (3, "speech"), (4, "speech")]
        assert call["end_reason"] == "stop"
    finally:
        proxy.close()


def test_a_crashed_replicas_spooled_rows_are_written_once_by_the_next(
    tmp_path: Path, postgres_schema
) -> None:  # noqa: ANN001
    proxy = TcpProxy(("127.0.0.1", 5432))
    url, spool = postgres_schema.url(port=proxy.port), tmp_path / "spool"
    first = CallLog(url, spool=spool, name="replica-a")
    try:
        first.start_call("CAspool")
        proxy.cut()

        async def writes() -> None:
            await first.submit(first.add_turn, TurnRecord("CAspool", 1, "speech", 1.0, caller_text="네"))
            await first.submit(first.add_turn, TurnRecord("CAspool", 2, "speech", 2.0, caller_text="4명"))
            await first.submit(first.end_call, "CAspool", "ended", "stop", {"frames_in": 10}, "MZ1")

        asyncio.run(writes())  # each waits at most a moment: the database does not answer
        assert first.pending_writes == 3 and first.write_error
        # The process dies: nothing more is written, its lock on the spool file goes with it.
        assert first.buffer is not None
        first.buffer._stop = True
        first.buffer._file.close()
        proxy.restore()
        second = CallLog(url, spool=spool, name="replica-b")  # the next process on this machine
        _wait_for(lambda: second.pending_writes == 0)
        call = second.get_call("CAspool")
        assert [(t["turn"], t["caller_text"]) for t in call["turns"]] == [(1, "네"), (2, "4명")]
        assert (call["end_reason"], call["frames_in"]) == ("stop", 10)
        # A row that reached the database just before the crash is not stored twice when replayed.
        assert second.buffer is not None
        second.buffer.add("add_turn", [{"call_sid": "CAspool", "turn": 2, "kind": "speech", "at": 2.0}], {})
        second.buffer.add("end_call", ["CAspool", "ended", "stop", {"frames_in": 10}, "MZ1"], {"at": 3.0})
        _wait_for(lambda: second.pending_writes == 0)
        again = second.get_call("CAspool")
        assert len(again["turns"]) == 2 and again["frames_in"] == 10
        second.close()
        assert not list(spool.glob("*.jsonl"))  # everything written: no spool file left
    finally:
        proxy.close()
        first.engine.dispose()


def test_a_paused_database_does_not_hold_the_call(tmp_path: Path, postgres_schema) -> None:  # noqa: ANN001
    """A database that keeps its connections but stops answering (a paused server): a write waits at
    most a moment, the call goes on, the row arrives once the database answers again."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    log = CallLog(postgres_schema.url(port=proxy.port), spool=tmp_path / "spool", name="paused")
    try:
        log.start_call("CAfirst")  # the pool holds a connection through the proxy
        proxy.pause()

        async def write() -> float:
            started = time.monotonic()
            await log.submit(log.start_call, "CApause")
            return time.monotonic() - started

        assert asyncio.run(write()) < 3.0
        assert log.pending_writes == 1
        proxy.resume()
        _wait_for(lambda: log.pending_writes == 0)
        with log.engine.connect() as db:
            assert db.execute(sa.text("SELECT count(*) FROM calls WHERE call_sid = 'CApause'")).scalar() == 1
    finally:
        proxy.resume()
        log.close()
        proxy.close()
