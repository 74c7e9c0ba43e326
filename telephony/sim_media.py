"""The media half of the call simulator: the caller's audio out in real time, the bot's audio played.

`Player` is Twilio's side of playback (a virtual clock that plays the bot's frames and echoes marks when
their audio has "played"); `send_audio` and `send_silence` are the caller's side (20 ms media frames,
real time or faster). `telephony.simulator` drives both over one websocket per call.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import websockets

from stt.audio import PHONE_RATE, read_audio, to_telephone
from stt.codec import ulaw_to_pcm16
from telephony import SimulationError, protocol

SILENCE = b"\xff" * protocol.FRAME_BYTES
FRAME_S = 0.02
SPEECH_DB = -42.0  # a frame at least this loud (RMS, dBFS) is speech: stt.vad's default threshold


@dataclass
class CallResult:
    call_sid: str
    stream_sid: str
    bot_audio: bytearray = field(default_factory=bytearray)  # mu-law 8 kHz, every frame received
    reply_latencies_ms: list[float] = field(default_factory=list)  # end of caller turn -> first reply frame
    # End of the caller's speech (the last frame of a turn at least SPEECH_DB loud was sent) -> first
    # reply frame, one per replied audio turn; this includes the server's end-of-utterance window.
    speech_end_latencies_ms: list[float] = field(default_factory=list)
    replies: int = 0
    frames_received: int = 0
    late_frames: int = 0  # frames that arrived after the virtual player had run dry mid-reply
    clears: int = 0
    marks_echoed: int = 0
    closed_by_server: bool = False
    close_code: int | None = None
    log: dict[str, Any] | None = None
    answered: list[int] = field(default_factory=list)  # indices of the caller turns that got a reply
    # The call's stream moved (it ended without the caller hanging up and the <Connect action> answered
    # with a new stream): per move, the turn index it resumed at and "gap_ms" from losing the stream to
    # the first frame of the resumed call.
    moves: list[dict[str, Any]] = field(default_factory=list)
    streams: int = 0


class Player:
    """Twilio's side of playback: a virtual clock that plays frames and answers marks."""

    def __init__(self, ws: Any, result: CallResult, fast: bool) -> None:
        self.ws, self.result, self.fast = ws, result, fast
        self.buffer_end = 0.0
        self.in_reply = False
        self.reply_started = asyncio.Event()
        self.reply_done = asyncio.Event()
        self.reply_start_times: list[float] = []
        self.pending: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            event, now = msg.get("event"), time.monotonic()
            if event == "media":
                self._media(base64.b64decode(msg["media"]["payload"]), now)
            elif event == "mark":
                delay = 0.0 if self.fast else max(0.0, self.buffer_end - now)
                self.pending.append(asyncio.ensure_future(self._echo(msg["mark"]["name"], delay)))
            elif event == "clear":
                self.result.clears += 1
                self.buffer_end = now
                for task in self.pending:  # cleared audio's marks come back at once
                    task.cancel()
                self.in_reply = False
                self.reply_done.set()

    def _media(self, frame: bytes, now: float) -> None:
        r = self.result
        r.frames_received += 1
        r.bot_audio += frame
        if not self.in_reply:
            self.in_reply = True
            r.replies += 1
            self.reply_start_times.append(now)
            self.reply_done.clear()
            self.reply_started.set()
            self.buffer_end = max(self.buffer_end, now)
        elif self.buffer_end < now and not self.fast:
            r.late_frames += 1
            self.buffer_end = now
        self.buffer_end += FRAME_S

    async def _echo(self, name: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            msg = {"event": "mark", "sequenceNumber": "0", "streamSid": "", "mark": {"name": name}}
            try:
                await self.ws.send(json.dumps(msg))
                self.result.marks_echoed += 1
            except websockets.ConnectionClosed:
                pass
            self.in_reply = False
            self.reply_done.set()


async def send_audio(ws: Any, ulaw: bytes, result: CallResult, seq: Seq, fast: bool) -> float | None:
    """Send a caller turn; returns when its last speech frame was sent (None: no frame was speech)."""
    start, speech_end = time.monotonic(), None
    last = last_speech_frame(ulaw)
    for i, frame in enumerate(protocol.frames(ulaw)):
        await ws.send(_media_message(result, seq, frame, chunk=i + 1, timestamp_ms=i * 20))
        if i == last:  # a frame is sent once its 20 ms were spoken: the speech ended now
            speech_end = time.monotonic()
        if not fast:
            await asyncio.sleep(max(0.0, start + (i + 1) * FRAME_S - time.monotonic()))
        elif i % 50 == 49:
            await asyncio.sleep(0)
    return speech_end


def _media_message(result: CallResult, seq: Seq, frame: bytes, chunk: int, timestamp_ms: int) -> str:
    """One inbound Twilio `media` event carrying a 20 ms mu-law frame."""
    return json.dumps(
        {
            "event": "media",
            "streamSid": result.stream_sid,
            "sequenceNumber": seq(),
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp_ms),
                "payload": base64.b64encode(frame).decode(),
            },
        }
    )


def last_speech_frame(ulaw: bytes, threshold_db: float = SPEECH_DB) -> int | None:
    """Index of the last 20 ms frame of mu-law audio whose RMS level reaches `threshold_db` (dBFS)."""
    padded = b"".join(protocol.frames(ulaw))
    count = len(padded) // protocol.FRAME_BYTES
    if not count:
        return None
    pcm = np.frombuffer(ulaw_to_pcm16(padded), dtype="<i2")
    power = np.mean(np.square(pcm.reshape(count, -1).astype(np.float64)), axis=1)
    loud = np.flatnonzero(10.0 * np.log10(np.maximum(power, 1e-12) / 32768.0**2) >= threshold_db)
    return int(loud[-1]) if loud.size else None


async def send_silence(ws: Any, result: CallResult, seq: Seq, fast: bool) -> None:
    """The line stays open after the caller stops talking: silence frames, in real time."""
    start, i = time.monotonic(), 0
    burst = 50 if fast else 0  # in fast mode the first second of silence goes at once
    while True:
        await ws.send(_media_message(result, seq, SILENCE, chunk=0, timestamp_ms=0))
        i += 1
        if i > burst:
            await asyncio.sleep(max(0.0, start + (i - burst) * FRAME_S - time.monotonic()))


def load_turn_audio(path: Path | None) -> bytes:
    if path is None:
        raise SimulationError("AudioTurn needs a path or ulaw bytes")
    return to_telephone(read_audio(path, PHONE_RATE), PHONE_RATE)


class Seq:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return str(self.n)


def save_wav(path: Path, ulaw: bytes) -> None:
    """The bot's audio as a 16-bit 8 kHz WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.frombuffer(ulaw_to_pcm16(bytes(ulaw)), dtype="<i2"), PHONE_RATE, subtype="PCM_16")
