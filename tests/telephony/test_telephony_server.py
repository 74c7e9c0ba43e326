"""The real server on loopback, driven by the call simulator; the bot and STT are test doubles here."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json

import httpx
import pytest
import websockets
from twilio.request_validator import RequestValidator

from telephony.simulator import AudioTurn, DtmfTurn, parse_connect_twiml, simulate_call
from tests.telephony.telephony_fakes import ADMIN_TOKEN, AUTH_TOKEN, GREETING, FakeBot, tone

PARAMS = {"CallSid": "CAtest0001", "AccountSid": "AC1", "From": "+821012345678", "To": "+8215885000"}


def _signed_post(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> httpx.Response:
    signature = RequestValidator(token).compute_signature(url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})


def _call(srv, turns, fast: bool = True, **kw):  # noqa: ANN001, ANN202
    return asyncio.run(
        simulate_call(srv.url, turns, auth_token=AUTH_TOKEN, admin_token=ADMIN_TOKEN, fast=fast, **kw)
    )


def test_voice_webhook_signature_and_exact_twiml(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        url = srv.url + "/twilio/voice"
        ok = _signed_post(url, PARAMS)
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/xml")
        stream_url, token = parse_connect_twiml(ok.text)
        port = srv.url.rsplit(":", 1)[1]
        assert ok.text == (
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            f'<Connect action="http://127.0.0.1:{port}/twilio/resume">'
            f'<Stream url="ws://127.0.0.1:{port}/twilio/stream">'
            f'<Parameter name="token" value="{token}" /></Stream></Connect></Response>'
        )
        assert stream_url.endswith("/twilio/stream") and token.count(".") == 2
        assert _signed_post(url, PARAMS, token="wrong").status_code == 403
        assert httpx.post(url, data=PARAMS).status_code == 403
        tampered = _signed_post(url, PARAMS)
        assert tampered.status_code == 200
        sig = RequestValidator(AUTH_TOKEN).compute_signature(url, PARAMS)
        forged = httpx.post(url, data={**PARAMS, "From": "+1999"}, headers={"X-Twilio-Signature": sig})
        assert forged.status_code == 403


def test_call_greets_answers_and_logs_every_turn(fake_server) -> None:  # noqa: ANN001
    with fake_server(script=["영업시간 알려주세요 010-1234-5678"]) as srv:
        result = _call(srv, [AudioTurn(ulaw=tone(0.6))])
        assert result.replies == 2  # greeting + answer
        assert len(result.reply_latencies_ms) == 1 and result.reply_latencies_ms[0] < 2000
        assert result.marks_echoed == 2 and result.clears == 0
        assert len(result.bot_audio) > 8000  # more than a second of speech came back
        log = result.log
        assert log is not None and log["end_reason"] == "stop" and log["ended_at"] is not None
        assert log["caller"] != "+821012345678"  # masked
        greeting, turn = log["turns"]
        assert (greeting["kind"], greeting["reply"]) == ("greeting", GREETING)
        assert turn["kind"] == "speech" and "010-1234-5678" not in turn["caller_text"]
        assert turn["caller_text"].startswith("영업시간 알려주세요") and "PHONE" in (turn["pii"] or "")
        assert (turn["intent"], turn["domain"], turn["intent_confidence"]) == ("ask", "store", 0.42)
        assert (
            turn["nlu_ms"] is not None and turn["first_audio_ms"] is not None and turn["stt_ms"] is not None
        )
        assert srv.bot.ended == [result.call_sid]
        assert srv.recognizer.active == 0  # the STT slot was given back


class StoreBot(FakeBot):
    """Names a store in its reply's slots when the caller does (as a Rasa domain's tracker would)."""

    async def handle(self, session, event):  # noqa: ANN001, ANN201
        reply = await super().handle(session, event)
        said = getattr(event, "text", "")
        store = next((s for s in ("강남점", "잠실점") if s in said), None)
        return dataclasses.replace(reply, slots={"store": store} if store else {})


def test_each_turn_logs_the_store_it_was_about(fake_server) -> None:  # noqa: ANN001
    script = ["강남점 주차 돼요", "배달 되나요", "잠실점은요"]
    turns = [AudioTurn(ulaw=tone(0.6)) for _ in script]
    with fake_server(script=script, bot=StoreBot(), store_slot="store") as srv:
        result = _call(srv, turns)
        # a turn without a store of its own keeps the one the call named before
        assert [t["store"] for t in result.log["turns"]] == [None, "강남점", "강남점", "잠실점"]
    with fake_server(script=script, bot=StoreBot(), store_slot="") as srv:  # "": no store slot
        result = _call(srv, turns)
        assert [t["store"] for t in result.log["turns"]] == [None] * 4


def test_dtmf_zero_hands_off_through_rest(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        result = _call(srv, [DtmfTurn("0")])
        assert result.closed_by_server
        (request,) = srv.http.requests
        assert request["method"] == "POST" and request["uri"].endswith(f"/Calls/{result.call_sid}.json")
        assert request["data"]["Twiml"] == (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+8215880000</Dial></Response>'
        )
        kinds = [(t["kind"], t["caller_text"], t["action"]) for t in result.log["turns"]]
        assert kinds[-1] == ("dtmf", "0", "handoff")


def test_hangup_through_rest(fake_server) -> None:  # noqa: ANN001
    with fake_server(script=["이제 끊을게요"]) as srv:
        result = _call(srv, [AudioTurn(ulaw=tone(0.5))])
        assert result.closed_by_server
        assert [r["data"] for r in srv.http.requests] == [{"Status": "completed"}]


def test_barge_in_sends_clear_but_backchannel_does_not(fake_server) -> None:  # noqa: ANN001
    with fake_server(script=["잠깐만요 영업시간이요"]) as srv:
        result = _call(srv, [AudioTurn(ulaw=tone(0.6), barge_in=True)], fast=False)
        assert result.clears == 1
        turn = srv.services.calllog.get_call(result.call_sid)["turns"][1]
        assert turn["caller_text"] == "잠깐만요 영업시간이요" and turn["barged_in"] is True
    with fake_server(script=["네"]) as srv:
        result = _call(srv, [AudioTurn(ulaw=tone(0.6), barge_in=True)], fast=False, reply_timeout=1.5)
        assert result.clears == 0
        assert [t["kind"] for t in result.log["turns"]] == ["greeting"]  # "네" while speaking is no turn


def test_silence_reprompts_then_hands_off(fake_server) -> None:  # noqa: ANN001
    import dataclasses

    from telephony.settings import SilenceSettings

    silence = dataclasses.replace(SilenceSettings(), reprompt_seconds=1.0, max_reprompts=1)
    with fake_server(silence=silence) as srv:
        quiet = AudioTurn(ulaw=b"\xff" * 800)
        result = _call(srv, [quiet, quiet])
        turns = result.log["turns"]
        assert [t["kind"] for t in turns] == ["greeting", "silence", "silence"]
        assert turns[1]["reply"] == "여보세요? 듣고 계신가요?"
        assert turns[2]["action"] == "handoff" and turns[2]["reply"] == silence.handoff_text
        assert "Twiml" in srv.http.requests[0]["data"]


def test_busy_when_stt_capacity_is_exhausted(fake_server) -> None:  # noqa: ANN001
    with fake_server(max_streams=0) as srv:
        result = _call(srv, [])
        assert result.closed_by_server and result.replies == 1
        (turn,) = result.log["turns"]
        assert turn["kind"] == "busy" and turn["action"] == "handoff"
        assert "Dial" in srv.http.requests[0]["data"]["Twiml"]


def test_status_callback_closes_record_and_admin_reload(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        assert _signed_post(srv.url + "/twilio/voice", PARAMS).status_code == 200
        status = {**PARAMS, "CallStatus": "completed"}
        assert _signed_post(srv.url + "/twilio/status", status).status_code == 204
        call = srv.services.calllog.get_call("CAtest0001")
        assert call["status"] == "completed" and call["ended_at"] is not None
        assert httpx.post(srv.url + "/admin/reload").status_code == 401
        bad = httpx.post(srv.url + "/admin/reload", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        ok = httpx.post(srv.url + "/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert ok.json() == {"version": "v2", "live_calls": 0}


# -- the websocket refuses bad tokens and survives broken clients -------------------------------


def _token(srv, call_sid: str) -> tuple[str, str]:  # noqa: ANN001
    response = _signed_post(srv.url + "/twilio/voice", {**PARAMS, "CallSid": call_sid})
    return parse_connect_twiml(response.text)


def _start(call_sid: str, token: str | None) -> str:
    params = {"token": token} if token is not None else {}
    return json.dumps(
        {
            "event": "start",
            "start": {
                "streamSid": "MZ1",
                "callSid": call_sid,
                "accountSid": "AC1",
                "customParameters": params,
            },
        }
    )


async def _raw(url: str, messages: list[str], abrupt: bool = False) -> int | None:
    """Send `messages`, then wait for the server to close; the close code (None: still open)."""
    ws = await websockets.connect(url)
    for m in messages:
        await ws.send(m)
    if abrupt:
        ws.transport.abort()
        return None
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 2.0)
    except websockets.ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        await ws.close()
        return None


def test_stream_refuses_missing_reused_and_forged_tokens(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        url, token = _token(srv, "CAtok1")
        connected = '{"event": "connected", "protocol": "Call", "version": "1.0.0"}'
        assert asyncio.run(_raw(url, [connected, _start("CAtok1", None)])) == 1008
        assert asyncio.run(_raw(url, [_start("CAtok1", token[:-4] + "abcd")])) == 1008
        assert asyncio.run(_raw(url, [_start("CAother", token)])) == 1008
        stop = '{"event": "stop", "stop": {"callSid": "CAtok1"}}'
        assert asyncio.run(_raw(url, [_start("CAtok1", token), stop])) == 1000
        assert asyncio.run(_raw(url, [_start("CAtok1", token)])) == 1008  # reused


BROKEN = {
    "malformed": "{not json",
    "bad_base64": '{"event": "media", "media": {"payload": "***"}}',
    "oversized": '{"event": "media", "media": {"payload": "' + "A" * 70000 + '"}}',
    "second_start": None,
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_messages_end_only_that_call(fake_server, name: str) -> None:  # noqa: ANN001
    bad = BROKEN[name]
    with fake_server() as srv:
        sid = f"CAbroken{name}"
        url, token = _token(srv, sid)
        code = asyncio.run(_raw(url, [_start(sid, token), bad or _start(sid, token)]))
        assert code == 1002
        call = srv.services.calllog.get_call(sid)
        assert call["end_reason"].startswith("protocol error") and call["ended_at"] is not None
        assert _call(srv, [AudioTurn(ulaw=tone(0.4))]).replies == 2  # the server carries on


def test_media_before_start_and_abrupt_disconnect(fake_server) -> None:  # noqa: ANN001
    with fake_server() as srv:
        url, token = _token(srv, "CAearly")
        media = json.dumps({"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 160).decode()}})
        assert asyncio.run(_raw(url, [media])) == 1002
        url, token = _token(srv, "CAabrupt")
        asyncio.run(_raw(url, [_start("CAabrupt", token), media], abrupt=True))
        for _ in range(100):
            call = srv.services.calllog.get_call("CAabrupt")
            if call["ended_at"] is not None:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert call["end_reason"] == "disconnected"
        assert srv.services.live_calls == {}
        assert _call(srv, [AudioTurn(ulaw=tone(0.4))]).replies == 2


def test_models_pointer_watch_reloads_the_bot(fake_server, tmp_path) -> None:  # noqa: ANN001
    models = tmp_path / "models"
    models.mkdir()
    (models / "current").write_text("v1\n", encoding="utf-8")
    with fake_server(models_dir=models, reload_watch_seconds=0.1) as srv:
        assert srv.bot.version == "v1"
        (models / "current").write_text("v2\n", encoding="utf-8")
        for _ in range(100):
            if srv.bot.version == "v2":
                break
            asyncio.run(asyncio.sleep(0.05))
        assert srv.bot.version == "v2"
        assert _call(srv, [AudioTurn(ulaw=tone(0.4))]).log["bot_version"] == "v2"
