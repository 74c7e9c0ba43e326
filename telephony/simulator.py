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
from urllib.parse import urljoin

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
    follow_action: bool = True,
    max_moves: int = 5,
) -> CallResult:
    """Place one simulated call against the server at `url` (http://host:port).

    Like Twilio, when a stream ends without the caller hanging up, the simulator requests the TwiML's
    <Connect action> URL (signed) and follows its answer: a new <Connect><Stream> continues the call
    (the caller says again a turn it got no reply to), <Hangup/> ends it.
    """
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
        connect = parse_connect(await _post(http, base + "/twilio/voice", params, auth_token))
        result = CallResult(call_sid=call_sid, stream_sid="")
        poller = (
            asyncio.ensure_future(_poll_log(http, base, call_sid, admin_token, on_turn)) if on_turn else None
        )
        params = {**params, "CallStatus": "in-progress"}
        try:
            index, lost_at = 0, None
            while True:
                result.stream_sid = "MZ" + secrets.token_hex(16)
                index, hung_up = await _stream(
                    connect, turns, index, result, fast, reply_timeout, linger, params, lost_at
                )
                if hung_up or not follow_action or not connect.action or len(result.moves) >= max_moves:
                    break
                # The stream ended without the caller hanging up: Twilio requests the <Connect action>.
                lost_at = time.monotonic()
                action = urljoin(base + "/twilio/voice", connect.action)
                answer = await _post(http, action, params, auth_token)
                if _hangs_up(answer):  # the call was over (the bot ended it)
                    result.closed_by_server = True
                    break
                connect = parse_connect(answer)
                result.moves.append({"at_turn": index, "gap_ms": None})
        finally:
            if poller is not None:
                await asyncio.sleep(0.6)
                poller.cancel()
        if admin_token:
            result.log = await _fetch_log(http, base, call_sid, admin_token)
    return result


async def _post(http: httpx.AsyncClient, url: str, params: dict[str, str], auth_token: str | None) -> str:
    """POST a signed Twilio webhook; the TwiML it answers."""
    headers = (
        {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params)}
        if auth_token
        else {}
    )
    try:
        response = await http.post(url, data=params, headers=headers)
    except httpx.HTTPError as exc:
        raise SimulationError(f"webhook {url} unreachable: {exc}") from exc
    if response.status_code != 200:
        raise SimulationError(f"webhook {url} answered {response.status_code}: {response.text[:200]}")
    return response.text


@dataclass(frozen=True)
class Connect:
    """What a <Connect><Stream> TwiML tells Twilio: where to stream, with which parameters, and the
    <Connect action> to request when the stream ends."""

    stream_url: str
    token: str
    action: str = ""
    parameters: tuple[tuple[str, str], ...] = ()


def parse_connect(text: str) -> Connect:
    """TwiML -> its <Connect><Stream> (`SimulationError` when there is none)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SimulationError(f"webhook answered invalid TwiML: {exc}") from exc
    connect = root.find("./Connect")
    stream = connect.find("Stream") if connect is not None else None
    if connect is None or stream is None or not stream.get("url"):
        raise SimulationError(f"TwiML has no <Connect><Stream url=...>: {text[:200]}")
    parameters = tuple((p.get("name", ""), p.get("value", "")) for p in stream.findall("Parameter"))
    token = next((v for n, v in parameters if n == "token"), "")
    return Connect(stream.get("url", ""), token, connect.get("action", ""), parameters)


def parse_connect_twiml(text: str) -> tuple[str, str]:
    """TwiML -> (stream URL, token parameter) of its <Connect><Stream>."""
    connect = parse_connect(text)
    return connect.stream_url, connect.token


def _hangs_up(text: str) -> bool:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SimulationError(f"<Connect action> answered invalid TwiML: {exc}") from exc
    return root.find("./Connect") is None


async def _stream(
    connect: Connect,
    turns: Sequence[Turn],
    start: int,
    result: CallResult,
    fast: bool,
    reply_timeout: float,
    linger: float,
    params: dict[str, str],
    lost_at: float | None,
) -> tuple[int, bool]:
    """One media stream of the call, from caller turn `start`; (next turn, whether the caller hung up).

    A turn whose reply never started before the stream ended is said again on the next stream.
    """
    result.streams += 1
    try:
        ws = await websockets.connect(connect.stream_url, max_size=2**22)
    except (OSError, websockets.WebSocketException) as exc:
        logger.info("simulator.stream.connect_failed url=%s error=%s", connect.stream_url, exc)
        return start, False  # Twilio: the <Connect> ended; it requests the action URL
    index, hung_up = start, False
    player = Player(ws, result, fast)
    receiver = asyncio.ensure_future(player.run())
    seq = Seq()
    try:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps(_start(result, connect, params, seq())))
        # The greeting (if the bot greets over the stream), or after a move the question asked again.
        first_wait = 3.0 if lost_at is None else reply_timeout
        first = await _wait_reply(
            player, receiver, 0.0, first_wait, want_end=not _first_barges(turns[start:])
        )
        if lost_at is not None and first is not None and result.moves:
            result.moves[-1]["gap_ms"] = round((first - lost_at) * 1000, 1)
        for i in range(start, len(turns)):
            turn = turns[i]
            if receiver.done():
                break
            if isinstance(turn, HoldTurn):
                sender = asyncio.ensure_future(send_silence(ws, result, seq, fast))
                try:
                    await turn.until()
                finally:
                    sender.cancel()
                index = i + 1
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
            if started is None:
                if receiver.done():
                    break  # the stream ended before a reply: the caller says it again on the next one
                index = i + 1  # no reply, the line still open: the caller goes on
                continue
            index = i + 1
            result.answered.append(i)
            result.reply_latencies_ms.append(round((started - ended) * 1000, 1))
            if speech_end is not None:
                result.speech_end_latencies_ms.append(round((started - speech_end) * 1000, 1))
        if index >= len(turns) and not receiver.done():
            # the caller stays on the line a moment: the bot may end the call
            sender = asyncio.ensure_future(send_silence(ws, result, seq, fast))
            await asyncio.wait([receiver], timeout=linger)
            sender.cancel()
        result.closed_by_server = receiver.done()
        if index >= len(turns) and not receiver.done():
            hung_up = True
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
    return index, hung_up


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
    if started is None:  # the reply may have started just as the stream ended
        new = [t for t in player.reply_start_times if t >= since]
        started = new[0] if new else None
    return started


def _start(result: CallResult, connect: Connect, params: dict[str, str], seq: str) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": seq,
        "streamSid": result.stream_sid,
        "start": {
            "accountSid": params["AccountSid"],
            "streamSid": result.stream_sid,
            "callSid": result.call_sid,
            "tracks": ["inbound"],
            "customParameters": dict(connect.parameters),
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
