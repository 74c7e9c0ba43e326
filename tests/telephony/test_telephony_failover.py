"""A call outlives its stream: the <Connect action> reconnect, drains, /readyz and /metrics (one process,
in-process state; the bot and STT are test doubles). Several replicas: test_telephony_cluster.py."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets

from telephony.simulator import DtmfTurn, HoldTurn, parse_connect, simulate_call
from tests.telephony.telephony_fakes import ADMIN_TOKEN, AUTH_TOKEN, GREETING, tone
from tests.telephony.test_telephony_server import _signed_post

APOLOGY = "죄송합니다, 잠시 연결이 끊겼어요."


def _start(call_sid: str, connect, stream_sid: str = "MZ1") -> str:  # noqa: ANN001
    return json.dumps(
        {
            "event": "start",
            "start": {
                "streamSid": stream_sid,
                "callSid": call_sid,
                "accountSid": "AC1",
                "customParameters": dict(connect.parameters),
            },
        }
    )


def _media(ulaw: bytes) -> list[str]:
    import base64

    out = []
    for i in range(0, len(ulaw), 160):
        payload = base64.b64encode(ulaw[i : i + 160]).decode()
        out.append(json.dumps({"event": "media", "media": {"track": "inbound", "payload": payload}}))
    return out


async def _replies(ws, count: int, timeout: float = 10.0) -> int:  # noqa: ANN001
    """Read until `count` replies have been sent in full (a mark follows each); echo the marks."""
    marks = 0
    deadline = time.monotonic() + timeout
    while marks < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if message["event"] == "mark":
            marks += 1
            await ws.send(json.dumps({"event": "mark", "mark": message["mark"]}))
    return marks


def _wait_for(check, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_dropped_stream_resumes_and_asks_the_pending_question_again(fake_server) -> None:  # noqa: ANN001
    sid = "CAdrop1"
    params = {"CallSid": sid, "AccountSid": "AC1", "From": "+821012345678", "To": "+8215885000"}
    with fake_server(script=["영업시간 알려주세요"]) as srv:
        connect = parse_connect(_signed_post(srv.url + "/twilio/voice", params).text)
        assert connect.action == srv.url + "/twilio/resume"

        async def first_stream() -> None:
            ws = await websockets.connect(connect.stream_url)
            await ws.send(_start(sid, connect))
            await _replies(ws, 1)  # the greeting
            for m in _media(tone(0.6) + b"\xff" * 4000):
                await ws.send(m)
            await _replies(ws, 1)  # the answer
            ws.transport.abort()  # the connection is lost without a `stop`: the call goes on

        asyncio.run(first_stream())
        _wait_for(lambda: srv.services.calllog.get_call(sid)["status"] == "moved")
        assert srv.services.live_calls == {} and srv.bot.released == [sid] and srv.bot.ended == []
        # Twilio requests the <Connect action>: a new stream continues the call.
        answer = _signed_post(connect.action, {**params, "CallStatus": "in-progress"})
        again = parse_connect(answer.text)
        assert dict(again.parameters)["resume"] == "1" and again.token != connect.token

        async def second_stream() -> None:
            async with websockets.connect(again.stream_url) as ws:
                await ws.send(_start(sid, again, "MZ2"))
                await _replies(ws, 1)  # the question asked again
                await ws.send(json.dumps({"event": "stop", "stop": {"callSid": sid}}))
                await asyncio.wait_for(ws.wait_closed(), 5)

        asyncio.run(second_stream())
        call = srv.services.calllog.get_call(sid)
        turns = [(t["turn"], t["kind"], t["reply"]) for t in call["turns"]]
        answer_text = "영업시간 알려주세요 말씀이시군요."
        assert turns == [
            (0, "greeting", GREETING),
            (1, "speech", answer_text),
            (1, "resume", f"{APOLOGY} {answer_text}"),
        ]
        assert (call["resumes"], call["status"], call["end_reason"]) == (1, "ended", "stop")
        assert srv.bot.ended == [sid]
        # A reconnect of a call that has ended is told to hang up.
        late = _signed_post(connect.action, {**params, "CallStatus": "in-progress"})
        assert late.text.endswith("<Response><Hangup /></Response>")


def test_a_call_the_bot_ended_gets_hangup_when_twilio_reconnects(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        result = asyncio.run(
            simulate_call(srv.url, [DtmfTurn("0")], auth_token=AUTH_TOKEN, admin_token=ADMIN_TOKEN, fast=True)
        )
        # The server closed the stream after the handoff; the simulator, like Twilio, asked the action URL.
        assert result.closed_by_server and result.streams == 1 and result.moves == []
        assert result.log["turns"][-1]["action"] == "handoff" and result.log["resumes"] == 0


def test_drain_refuses_new_streams_hands_live_calls_over_and_stops(fake_server) -> None:  # noqa: ANN001
    from telephony.settings import FailoverSettings

    with fake_server(failover=FailoverSettings(drain_seconds=0.0)) as srv:
        assert httpx.get(srv.url + "/readyz").status_code == 200
        params = {"CallSid": "CAlive", "AccountSid": "AC1", "From": "+8210", "To": "+8215"}
        live = parse_connect(_signed_post(srv.url + "/twilio/voice", params).text)
        late = parse_connect(_signed_post(srv.url + "/twilio/voice", {**params, "CallSid": "CAlate"}).text)

        async def calls() -> tuple[int | None, int | None]:
            ws = await websockets.connect(live.stream_url)
            await ws.send(_start("CAlive", live))
            await _replies(ws, 1)
            srv.drain()
            for _ in range(100):
                if httpx.get(srv.url + "/readyz").status_code == 503:
                    break
                await asyncio.sleep(0.02)
            ready = httpx.get(srv.url + "/readyz")
            assert ready.status_code == 503 and ready.json()["draining"] is True
            assert httpx.get(srv.url + "/readyz?degraded=ok").status_code == 503
            # A stream arriving now is handed straight back (Twilio will ask the action URL).
            async with websockets.connect(late.stream_url) as other:
                await other.send(_start("CAlate", late, "MZlate"))
                await asyncio.wait_for(other.wait_closed(), 5)
            # The live call is handed over between turns: its stream ends normally.
            await asyncio.wait_for(ws.wait_closed(), 15)
            return other.close_code, ws.close_code

        assert asyncio.run(calls()) == (1000, 1000)
        _wait_for(lambda: srv.stopped, 30)
        call = srv.services.calllog.get_call("CAlive")
        assert (call["status"], call["end_reason"]) == ("moved", "handover")
        assert srv.bot.released == ["CAlive"] and srv.bot.ended == []


def test_readyz_reports_each_dependency_and_metrics_count_turns(fake_server) -> None:  # noqa: ANN001
    with fake_server(script=["예약하고 싶어요"]) as srv:
        ready = httpx.get(srv.url + "/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert (
            body["ready"] and body["checks"] == {"models": "ok", "database": "ok"} and body["version"] == "v1"
        )
        until_metrics = asyncio.Event()

        async def call_and_scrape() -> str:
            async def scrape() -> str:
                async with httpx.AsyncClient() as http:
                    text = (await http.get(srv.url + "/metrics")).text
                until_metrics.set()
                return text

            task = asyncio.ensure_future(
                simulate_call(
                    srv.url,
                    [HoldTurn(until=lambda: until_metrics.wait())],
                    auth_token=AUTH_TOKEN,
                    fast=True,
                )
            )
            await asyncio.sleep(1.0)
            during = await scrape()
            await task
            return during

        during = asyncio.run(call_and_scrape())
        assert "callbot_live_calls 1.0" in during
        assert 'callbot_replica_info{replica="' in during and 'version="v1"' in during
        after = httpx.get(srv.url + "/metrics").text
        assert "callbot_live_calls 0.0" in after
        assert 'callbot_turns_total{kind="greeting"} 1.0' in after
        assert 'callbot_calls_total{outcome="started"} 1.0' in after
        assert 'callbot_turn_stage_seconds_count{stage="first_audio"} 1.0' in after
        assert "# HELP callbot_drift_intent_psi" in after  # the drift monitor's gauges (drift.watch)
