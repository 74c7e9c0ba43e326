"""A caller and a Twilio in one: places a call against a callbot server the way Twilio would.

It POSTs the signed voice webhook (X-Twilio-Signature computed with the real RequestValidator), reads
the stream URL and token from the TwiML, opens the websocket (websockets 10.4 client) and sends
connected, start, the caller's audio as 20 ms media frames (real time, or faster), DTMF and stop. It
plays the bot's frames back on a virtual clock, echoes marks when their audio has "played", drops
queued audio on `clear`, and measures first reply frame latencies from the end of each caller turn's
audio and from the end of the speech in it (its last 20 ms frame at least `SPEECH_DB` loud: a clip's
trailing silence is not speech, and the server's end-of-utterance window only starts after it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from twilio.request_validator import RequestValidator

from telephony import SimulationError
from telephony.sim_media import (
    CallResult,
    Player,
    Seq,
    load_turn_audio,
    send_audio,
    send_silence,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioTurn:
    """The caller says the audio in `path` (any format libsndfile reads, or raw mu-law `ulaw`)."""

    path: Path | None = None
    ulaw: bytes | None = None
    barge_in: bool = False  # start speaking as soon as the bot's previous reply starts playing


@dataclass(frozen=True)
class DtmfTurn:
    digits: str


@dataclass(frozen=True)
class HoldTurn:
    """The caller stays on the line, silent, until `until()` returns (e.g. a reload mid-call in tests)."""

    until: Callable[[], Awaitable[object]]


Turn = AudioTurn | DtmfTurn | HoldTurn


async def simulate_call(
    url: str,
    turns: Sequence[Turn] = (),
    *,
    auth_token: str | None = None,
    admin_token: str | None = None,
    fast: bool = False,
    call_sid: str | None = None,
    caller: str = "+821055501234",
    callee: str = "+8215885000",
    reply_timeout: float = 20.0,
    linger: float = 1.0,
    on_turn: Callable[[dict[str, Any]], None] | None = None,
) -> CallResult:
    """Place one simulated call against the server at `url` (http://host:port)."""
    base = url.rstrip("/")
    call_sid = call_sid or "CA" + secrets.token_hex(16)
    params = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": callee,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        stream_url, token = await _answer(http, base + "/twilio/voice", params, auth_token)
        stream_sid = "MZ" + secrets.token_hex(16)
        result = CallResult(call_sid=call_sid, stream_sid=stream_sid)
        poller = (
            asyncio.ensure_future(_poll_log(http, base, call_sid, admin_token, on_turn)) if on_turn else None
        )
        try:
            await _stream(stream_url, token, turns, result, fast, reply_timeout, linger, params)
        finally:
            if poller is not None:
                await asyncio.sleep(0.6)
                poller.cancel()
        if admin_token:
            result.log = await _fetch_log(http, base, call_sid, admin_token)
    return result


async def _answer(
    http: httpx.AsyncClient, url: str, params: dict[str, str], auth_token: str | None
) -> tuple[str, str]:
    headers = (
        {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params)}
        if auth_token
        else {}
    )
    try:
        response = await http.post(url, data=params, headers=headers)
    except httpx.HTTPError as exc:
        raise SimulationError(f"voice webhook {url} unreachable: {exc}") from exc
    if response.status_code != 200:
        raise SimulationError(f"voice webhook {url} answered {response.status_code}: {response.text[:200]}")
    return parse_connect_twiml(response.text)


def parse_connect_twiml(text: str) -> tuple[str, str]:
    """TwiML -> (stream URL, token parameter) of its <Connect><Stream>."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SimulationError(f"voice webhook answered invalid TwiML: {exc}") from exc
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        raise SimulationError("TwiML has no <Connect><Stream url=...>")
    token = next((p.get("value", "") for p in stream.findall("Parameter") if p.get("name") == "token"), "")
    return stream.get("url", ""), token


async def _stream(
    stream_url: str,
    token: str,
    turns: Sequence[Turn],
    result: CallResult,
    fast: bool,
    reply_timeout: float,
    linger: float,
    params: dict[str, str],
) -> None:
    async with websockets.connect(stream_url, max_size=2**22) as ws:
        player = Player(ws, result, fast)
        receiver = asyncio.ensure_future(player.run())
        seq = Seq()
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps(_start(result, token, params, seq())))
        try:
            # The greeting (if the bot greets over the stream).
            await _wait_reply(player, receiver, 0.0, 3.0, want_end=not _first_barges(turns))
            for i, turn in enumerate(turns):
                if receiver.done():
                    break
                if isinstance(turn, HoldTurn):
                    sender = asyncio.ensure_future(send_silence(ws, result, seq, fast))
                    try:
                        await turn.until()
                    finally:
                        sender.cancel()
                    continue
                speech_end: float | None = None
                if isinstance(turn, AudioTurn):
                    audio = turn.ulaw if turn.ulaw is not None else load_turn_audio(turn.path)
                    speech_end = await send_audio(ws, audio, result, seq, fast)
                else:
                    for digit in turn.digits:
                        msg = {
                            "event": "dtmf",
                            "streamSid": result.stream_sid,
                            "sequenceNumber": seq(),
                            "dtmf": {"track": "inbound_track", "digit": digit},
                        }
                        await ws.send(json.dumps(msg))
                ended = time.monotonic()
                sender = asyncio.ensure_future(send_silence(ws, result, seq, fast))
                try:
                    nxt = turns[i + 1] if i + 1 < len(turns) else None
                    barge = isinstance(nxt, AudioTurn) and nxt.barge_in
                    started = await _wait_reply(player, receiver, ended, reply_timeout, want_end=not barge)
                finally:
                    sender.cancel()
                if started is not None:
                    result.reply_latencies_ms.append(round((started - ended) * 1000, 1))
                    if speech_end is not None:
                        result.speech_end_latencies_ms.append(round((started - speech_end) * 1000, 1))
            if not receiver.done():  # the caller stays on the line a moment: the bot may end the call
                sender = asyncio.ensure_future(send_silence(ws, result, seq, fast))
                await asyncio.wait([receiver], timeout=linger)
                sender.cancel()
            result.closed_by_server = receiver.done()
            if not receiver.done():
                await ws.send(
                    json.dumps(
                        {
                            "event": "stop",
                            "streamSid": result.stream_sid,
                            "sequenceNumber": seq(),
                            "stop": {"accountSid": params["AccountSid"], "callSid": result.call_sid},
                        }
                    )
                )
                await asyncio.wait([receiver], timeout=5.0)  # the server closes once the call is logged
        except websockets.ConnectionClosed:
            pass
        finally:
            await ws.close()
            await asyncio.gather(receiver, return_exceptions=True)
            result.close_code = ws.close_code


async def _wait_reply(
    player: Player,
    receiver: asyncio.Future[None],
    since: float,
    start_timeout: float,
    want_end: bool,
    end_timeout: float = 60.0,
) -> float | None:
    """Wait for a reply that starts after `since` (and, with `want_end`, for it to finish playing)."""
    deadline = time.monotonic() + start_timeout
    started: float | None = None
    while not receiver.done():
        new = [t for t in player.reply_start_times if t >= since]
        if new and started is None:
            started = new[0]
            deadline = time.monotonic() + end_timeout
        if started is not None and (not want_end or (player.reply_done.is_set() and not player.in_reply)):
            return started
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    return started


def _start(result: CallResult, token: str, params: dict[str, str], seq: str) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": seq,
        "streamSid": result.stream_sid,
        "start": {
            "accountSid": params["AccountSid"],
            "streamSid": result.stream_sid,
            "callSid": result.call_sid,
            "tracks": ["inbound"],
            "customParameters": {"token": token},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


def _first_barges(turns: Sequence[Turn]) -> bool:
    return bool(turns) and isinstance(turns[0], AudioTurn) and turns[0].barge_in


async def _poll_log(
    http: httpx.AsyncClient,
    base: str,
    call_sid: str,
    admin_token: str | None,
    on_turn: Callable[[dict[str, Any]], None],
) -> None:
    """Report call-log turns as the server writes them (needs the admin token)."""
    seen = 0
    while admin_token:
        log = await _fetch_log(http, base, call_sid, admin_token)
        for turn in (log or {}).get("turns", [])[seen:]:
            on_turn(turn)
            seen += 1
        await asyncio.sleep(0.5)


async def _fetch_log(
    http: httpx.AsyncClient, base: str, call_sid: str, admin_token: str
) -> dict[str, Any] | None:
    try:
        r = await http.get(
            f"{base}/admin/calls/{call_sid}", headers={"Authorization": f"Bearer {admin_token}"}
        )
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None
