"""Text to speech for replies: one small interface, backends registered by name.

Every backend returns 8 kHz mu-law bytes ready to be cut into Media Streams frames, except
`twilio_say`, which speaks through a call update and returns no audio (`speaks_via_call`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from telephony import TtsError
from telephony.settings import TtsSettings


class TextToSpeech(ABC):
    """Synthesizes Korean text to 8 kHz mu-law audio."""

    name: str = ""
    # True when the backend speaks by updating the call (no audio over the stream).
    speaks_via_call: bool = False

    def __init__(self, settings: TtsSettings) -> None:
        self.settings = settings

    @property
    def voice(self) -> str:
        return self.settings.voice

    @abstractmethod
    async def synthesize(self, text: str) -> bytes:
        """Mu-law 8 kHz audio of `text`; `TtsError` when synthesis fails."""

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        """The audio of `text` in pieces, the first as soon as it is ready (here: all at once)."""
        audio = await self.synthesize(text)
        if audio:
            yield audio


def _backends() -> dict[str, type[TextToSpeech]]:
    from telephony.tts.espeak import EspeakTts
    from telephony.tts.twilio_say import TwilioSayTts

    return {"espeak": EspeakTts, "twilio_say": TwilioSayTts}


BACKENDS: dict[str, type[TextToSpeech]] = _backends()


def create_tts(settings: TtsSettings) -> TextToSpeech:
    """The backend named by `telephony.tts.backend`."""
    try:
        cls = BACKENDS[settings.backend]
    except KeyError:
        raise TtsError(
            f"unknown TTS backend {settings.backend!r} (telephony.tts.backend); known: {', '.join(BACKENDS)}"
        ) from None
    return cls(settings)


__all__ = ["BACKENDS", "TextToSpeech", "TtsError", "create_tts"]
