"""Test doubles implementing telephony's BotLike / RecognizerLike interfaces and Twilio's HttpClient.

Used only by the unit tests of the socket logic; the end-to-end tests use the real Bot and Vosk.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
from twilio.http import HttpClient
from twilio.http.response import Response

from callbot.events import BotAction, BotReply, Dtmf, Silence, Transcript, UserText
from stt import SttCapacityError

GREETING = "안녕하세요. 무엇을 도와드릴까요?"
AUTH_TOKEN = "test-auth-token"
ADMIN_TOKEN = "admin-secret"


class FakeStream:
    """Energy endpointing: loud audio is 'speech'; 300 ms of quiet after it ends the utterance.

    The n-th utterance of a stream is transcribed as `script[n]`; a partial (its first word) is emitted
    after 100 ms of speech.
    """

    def __init__(self, owner: FakeRecognizer) -> None:
        self.owner = owner
        self.loud_ms = 0
        self.quiet_ms = 0
        self.utterance = 0
        self.partial_sent = False
        self.closed = False

    def accept(self, pcm16: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32)
        for i in range(0, len(samples), 160):
            frame = samples[i : i + 160]
            rms = float(np.sqrt(np.mean(frame**2))) if len(frame) else 0.0
            if rms > 500:
                self.loud_ms += 20
                self.quiet_ms = 0
                if self.loud_ms >= 100 and not self.partial_sent:
                    self.partial_sent = True
                    out.append(Transcript(self._text().split()[0], final=False))
            elif self.loud_ms:
                self.quiet_ms += 20
                if self.quiet_ms >= 300:
                    out.append(Transcript(self._text(), final=True, confidence=0.9))
                    self.utterance += 1
                    self.loud_ms = self.quiet_ms = 0
                    self.partial_sent = False
        return out

    def flush(self) -> Transcript | None:
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with self.owner.lock:
                self.owner.active -= 1

    def _text(self) -> str:
        script = self.owner.script
        return script[min(self.utterance, len(script) - 1)]


class ToneStream(FakeStream):
    """Like FakeStream, but an utterance's text is chosen by its tone's pitch (`ToneRecognizer.words`):
    the same audio means the same words on any stream of any replica, as with a real recognizer."""

    def __init__(self, owner: ToneRecognizer) -> None:
        super().__init__(owner)  # type: ignore[arg-type]
        self.tone = owner
        self.heard: list[np.ndarray] = []

    def accept(self, pcm16: bytes) -> list[Transcript]:
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32)
        for i in range(0, len(samples), 160):
            frame = samples[i : i + 160]
            if len(frame) and float(np.sqrt(np.mean(frame**2))) > 500:
                self.heard.append(frame)
        out = super().accept(pcm16)
        if any(t.final for t in out):
            self.heard = []
        return out

    def _text(self) -> str:
        if not self.heard:
            return ""
        audio = np.concatenate(self.heard)
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        pitch = float(np.fft.rfftfreq(len(audio), 1 / 8000)[int(np.argmax(spectrum))])
        return self.tone.words[min(self.tone.words, key=lambda f: abs(f - pitch))]


class ToneRecognizer:
    """A recognizer double for tests across processes: tone pitch (Hz) -> words."""

    def __init__(self, words: dict[int, str]) -> None:
        self.words = words
        self.script = [""]
        self.active = 0
        self.lock = threading.Lock()

    def stream(self, sample_rate: int) -> ToneStream:
        with self.lock:
            self.active += 1
        return ToneStream(self)


class FakeRecognizer:
    def __init__(self, script: list[str], max_streams: int = 100) -> None:
        self.script = script
        self.max_streams = max_streams
        self.active = 0
        self.lock = threading.Lock()

    def stream(self, sample_rate: int) -> FakeStream:
        with self.lock:
            if self.active >= self.max_streams:
                raise SttCapacityError(f"all {self.max_streams} recognition streams are in use")
            self.active += 1
        return FakeStream(self)


class FakeBot:
    """Echo bot: routes '상담원' and DTMF 0 to a handoff, '끊' to a hangup."""

    def __init__(self) -> None:
        self.version = "v1"
        self.events: list[Any] = []
        self.ended: list[str] = []
        self.released: list[str] = []

    def new_session(self, call_id: str) -> dict[str, Any]:
        return {"call_id": call_id}

    async def greet(self, session: Any) -> BotReply:
        return BotReply(GREETING, domain="common", intent="greet", confidence=1.0, fixed=True)

    async def handle(self, session: Any, event: UserText | Dtmf | Silence) -> BotReply:
        self.events.append(event)
        if isinstance(event, Silence):
            return BotReply("여보세요? 듣고 계신가요?", fixed=True)
        if isinstance(event, Dtmf):
            if event.digit == "0":
                return BotReply("상담원에게 연결해 드리겠습니다.", action=BotAction.HANDOFF, fixed=True)
            return BotReply(
                f"{event.digit}번을 누르셨습니다.", intent="menu", domain="common", confidence=1.0
            )
        if "상담원" in event.text:
            return BotReply(
                "상담원에게 연결해 드리겠습니다.",
                intent="agent",
                domain="common",
                confidence=0.95,
                action=BotAction.HANDOFF,
                fixed=True,
            )
        if "끊" in event.text:
            return BotReply(
                "감사합니다. 안녕히 계세요.", intent="goodbye", action=BotAction.HANGUP, fixed=True
            )
        return BotReply(f"{event.text} 말씀이시군요.", intent="ask", domain="store", confidence=0.42)

    async def end_session(self, session: Any) -> None:
        self.ended.append(session["call_id"])

    def checkpoint(self, session: Any) -> None:
        return None  # no dialogue state of its own to store

    async def resume_session(self, call_id: str) -> dict[str, Any] | None:
        return None

    async def release_session(self, session: Any) -> None:
        self.released.append(session["call_id"])

    async def reload(self) -> str:
        self.version = "v2"
        return self.version


class RecordingHttpClient(HttpClient):
    """Captures Twilio REST requests instead of sending them."""

    def __init__(self) -> None:
        super().__init__(logger=None, is_async=False)  # type: ignore[arg-type]
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        uri: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {})})
        sid = uri.removesuffix(".json").rsplit("/", 1)[-1]
        return Response(200, json.dumps({"sid": sid, "status": "in-progress"}))


def tone(seconds: float, amplitude: int = 8000, freq: float = 440.0) -> bytes:
    """8 kHz mu-law of a sine tone (loud 'speech' for FakeRecognizer), followed by nothing."""
    from stt.codec import ulaw_encode

    t = np.arange(int(8000 * seconds)) / 8000
    return ulaw_encode((amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)).tobytes()
