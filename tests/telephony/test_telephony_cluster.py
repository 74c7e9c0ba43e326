"""Two replicas behind HAProxy (the repository's config) on the real Redis and PostgreSQL: a SIGTERM drain
(then a restart: a rolling restart) and kill -9 of a replica during calls lose no call, no turn and no
reservation. (The rolling model update: test_telephony_rollout.py.)

Real processes: each replica is the real server with the real Bot over the tiny test models; only
speech recognition is a double mapping tones to words (the same words on any replica). The simulator
places calls through the balancer and, like Twilio, follows the <Connect action> when a stream ends.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml

from telephony.calllog import CallLog
from telephony.simulator import AudioTurn, HoldTurn, simulate_call
from tests.bot.runtime_models import link_models, train_tiny_models, write_config
from tests.bot.test_runtime import model_cache
from tests.cluster import Cluster
from tests.services import PostgresSchema, delete_prefix, new_prefix, shared_redis_url, unavailable
from tests.telephony.telephony_fakes import tone

pytestmark = pytest.mark.slow
AUTH, ADMIN = "cluster-auth", "cluster-admin"
BOOK, FOUR, YES = 440, 550, 660  # tone pitches: tests/telephony/replica_main.WORDS
ASKED = "죄송합니다, 잠시 연결이 끊겼어요. 몇 분이 오시나요?"


def _say(freq: int) -> AudioTurn:
    return AudioTurn(ulaw=tone(0.5, freq=freq))


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    if shutil.which("haproxy") is None:
        unavailable("haproxy not installed (make install installs it)")
    redis_url, prefix = shared_redis_url(), new_prefix()
    schema = PostgresSchema()
    folder = tmp_path_factory.mktemp("cluster")
    models = link_models(train_tiny_models(model_cache(request)), folder / "models")
    config_path = write_config(folder, models)
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    raw["bot"]["database_url"] = schema.url()
    raw["state"] = {"redis_url": redis_url, "key_prefix": prefix}
    raw["telephony"] = {
        "database_url": schema.url(),
        "warm_recognizers": 0,
        "failover": {"drain_seconds": 1},
        "silence": {"reprompt_seconds": 120},  # callers hold silently while replicas reload or die
    }
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    script = str(Path(__file__).with_name("replica_main.py"))
    env = {"TWILIO_AUTH_TOKEN": AUTH, "CALLBOT_ADMIN_TOKEN": ADMIN, "TWILIO_ACCOUNT_SID": ""}
    group = Cluster(
        folder, lambda port: [sys.executable, script, "--config", str(config_path), "--port", str(port)], env
    )
    try:
        group.start()
        yield group, schema
    finally:
        group.stop()
        delete_prefix(redis_url, prefix)
        schema.drop()


def _calls(cluster: Cluster, scripts: list[list], during) -> list:  # noqa: ANN001
    """Place one call per script at once; `during()` runs (in a thread) once every call holds."""

    async def main() -> list:
        holding, go = [0], asyncio.Event()

        async def hold() -> None:
            holding[0] += 1
            await go.wait()

        async def trigger() -> None:
            try:
                while holding[0] < len(scripts):
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(during)
            finally:
                go.set()  # the calls go on even if `during` failed (its error is raised below)

        runner = asyncio.ensure_future(trigger())
        calls = [
            simulate_call(
                cluster.url,
                [t if t != "hold" else HoldTurn(until=hold) for t in script],
                auth_token=AUTH,
                fast=True,
                reply_timeout=20,
                call_sid=f"CAcluster{i:02d}{id(script) % 10000:04d}",
            )
            for i, script in enumerate(scripts)
        ]
        results = await asyncio.gather(*calls)
        await runner
        return results

    return asyncio.run(main())


def _log(schema: PostgresSchema, call_sid: str) -> dict:
    log = CallLog(schema.url())
    try:
        return log.get_call(call_sid)
    finally:
        log.close()


def _reservations(schema: PostgresSchema, call_sid: str) -> list[int]:
    engine = sa.create_engine(schema.url())
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT party_size FROM reservations WHERE phone = :p"), {"p": call_sid[-20:]}
        ).all()
    engine.dispose()
    return [r[0] for r in rows]


def test_sigterm_drains_a_replica_and_its_calls_go_on_elsewhere(cluster) -> None:  # noqa: ANN001
    group, schema = cluster
    drained: list[str] = []

    def drain() -> None:
        live = group.live_calls()
        name = max(live, key=lambda n: live[n])
        drained.append(name)
        group.terminate(name)
        url = group.replicas[name].url
        for _ in range(100):  # /readyz fails at once: the balancer sends no new call there
            ready = httpx.get(url + "/readyz", timeout=5)
            if ready.status_code == 503:
                break
            time.sleep(0.02)
        assert ready.status_code == 503 and ready.json()["draining"]
        # The callers stay silent: past the drain deadline their calls are handed over between turns.
        while group.live_calls().get(name):
            time.sleep(0.1)

    scripts = [[_say(BOOK), "hold", _say(FOUR), _say(YES)] for _ in range(4)]
    results = _calls(group, scripts, drain)
    assert group.wait_exit(drained[0]) == 0  # drained, then exited cleanly
    group.restart(drained[0])  # a rolling restart (new code): the next replica would drain now
    assert any(r.moves for r in results)
    for r in results:
        assert r.answered == [0, 2, 3], (r.call_sid, r.answered, r.moves)
        speech = [t for t in _log(schema, r.call_sid)["turns"] if t["kind"] == "speech"]
        assert [t["turn"] for t in speech] == [1, 2, 3]
        assert _reservations(schema, r.call_sid) == [4]


def test_kill_9_during_calls_moves_them_without_losing_a_turn(cluster) -> None:  # noqa: ANN001
    group, schema = cluster
    killed: list[str] = []

    def crash() -> None:
        live = group.live_calls()
        name = max(live, key=lambda n: live[n])
        killed.append(name)
        group.kill(name)

    scripts = [[_say(BOOK), "hold", _say(FOUR), _say(YES)] for _ in range(4)]
    results = _calls(group, scripts, crash)
    moved = [r for r in results if r.moves]
    assert moved, "the killed replica had calls"
    for r in results:
        assert r.answered == [0, 2, 3], (r.call_sid, r.answered, r.moves)
        call = _log(schema, r.call_sid)
        turns = [(t["turn"], t["kind"], t["reply"]) for t in call["turns"]]
        speech = [t for t in turns if t[1] == "speech"]
        assert [t[0] for t in speech] == [1, 2, 3]  # each caller turn once: none lost, none twice
        assert speech[1][2] == "4명으로 예약할까요?"  # the form went on where the caller heard it
        assert speech[2][2] == "4명으로 예약했습니다."
        assert _reservations(schema, r.call_sid) == [4]
        if r.moves:
            assert len(r.moves) == 1 and r.moves[0]["gap_ms"] is not None
            assert ("resume" in [t[1] for t in turns]) and call["resumes"] == 1
            assert [t[2] for t in turns if t[1] == "resume"] == [ASKED]
