"""Typed events that packages exchange: telephony -> stt -> bot -> telephony.

Small frozen dataclasses, never raw dicts, so each boundary says exactly what crosses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class AudioChunk:
    """Signed 16-bit little-endian mono PCM at `sample_rate`."""

    pcm: bytes
    sample_rate: int


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Transcript:
    """A recognizer hypothesis. `final` marks the end of an utterance (endpoint)."""

    text: str
    final: bool
    confidence: float = 0.0
    words: tuple[Word, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class UserText:
    """What the caller said, as text, with how sure the recognizer is (1.0 for typed text)."""

    text: str
    confidence: float = 1.0
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Dtmf:
    """A keypad digit pressed by the caller: 0-9, * or #."""

    digit: str


@dataclass(frozen=True)
class Silence:
    """The caller said nothing for the configured time after the bot finished speaking."""


class BotAction(StrEnum):
    """What the telephony layer must do after speaking a reply."""

    NONE = "none"
    HANDOFF = "handoff"
    HANGUP = "hangup"


@dataclass(frozen=True)
class BotReply:
    """The bot's answer to one caller event, with how it was understood."""

    text: str
    domain: str | None = None
    intent: str | None = None
    confidence: float = 0.0
    slots: dict[str, Any] = field(default_factory=dict)
    action: BotAction = BotAction.NONE
    # True when the text is a fixed response (no slot values): its audio can come from the cache.
    fixed: bool = False
    audio: bytes | None = None


@dataclass(frozen=True)
class CallEnded:
    reason: str
