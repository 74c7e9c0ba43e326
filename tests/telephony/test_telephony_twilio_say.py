"""The twilio_say TTS backend: replies are spoken by a call update, and the new stream resumes the call."""

from __future__ import annotations

import asyncio
import json

import websockets

from telephony.settings import TtsSettings
from telephony.simulator import parse_connect_twiml
from tests.telephony.test_telephony_server import _start, _token

SAY = '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ko-KR" voice="Polly.Seoyeon">'
STOP = json.dumps({"event": "stop", "stop": {"callSid": "CAsay"}})


async def _request(http, n: int) -> dict:  # noqa: ANN001
    for _ in range(200):
        if len(http.requests) >= n:
            return http.requests[n - 1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no REST request #{n}: {http.requests}")


def test_say_update_then_new_stream_resumes_the_session(fake_server) -> None:  # noqa: ANN001
    with fake_server(tts=TtsSettings(backend="twilio_say", voice="Polly.Seoyeon")) as srv:
        url, token = _token(srv, "CAsay")

        async def call() -> None:
            async with websockets.connect(url) as ws1:
                await ws1.send(_start("CAsay", token))
                greeting = (await _request(srv.http, 1))["data"]["Twiml"]
                resume = url.replace("ws://", "http://").replace("/twilio/stream", "/twilio/resume")
                assert greeting.startswith(
                    SAY + f'안녕하세요. 무엇을 도와드릴까요?</Say><Connect action="{resume}"><Stream url='
                )
                await ws1.send(STOP)  # Twilio ends this stream to run the new TwiML
            stream_url, token2 = parse_connect_twiml(greeting)
            assert stream_url == url and token2 != token
            async with websockets.connect(stream_url) as ws2:
                await ws2.send(_start("CAsay", token2))
                await ws2.send(json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}}))
                answer = (await _request(srv.http, 2))["data"]["Twiml"]
                assert answer.startswith(SAY + "5번을 누르셨습니다.</Say>")
                await ws2.send(STOP)
            _, token3 = parse_connect_twiml(answer)
            async with websockets.connect(stream_url) as ws3:
                await ws3.send(_start("CAsay", token3))
                await ws3.send(STOP)
                await asyncio.wait_for(ws3.wait_closed(), 5)

        asyncio.run(call())
        log = srv.services.calllog.get_call("CAsay")
        assert [(t["kind"], t["reply"]) for t in log["turns"]] == [
            ("greeting", "안녕하세요. 무엇을 도와드릴까요?"),
            ("dtmf", "5번을 누르셨습니다."),
        ]
        assert log["end_reason"] == "stop" and srv.services.live_calls == {}
        assert srv.bot.ended == ["CAsay"]
