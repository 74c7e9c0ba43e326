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
class KeypadPause:
    """The caller stopped keying: digits keyed without `#` are complete (the inter-digit pause)."""


@dataclass(frozen=True)
class Silence:
    """The caller said nothing for the configured time after the bot finished speaking."""


class TurnOutcome(StrEnum):
    """What the bot did with a caller's text turn: the call log's `outcome` (review inbox, drift)."""

    ACCEPTED = "accepted"  # understood as a business or common intent and answered
    FORM = "form"  # a form in progress judged the words (an answer, a correction, a digression)
    REFUSED = "refused"  # taken as out of scope: the polite refusal
    NOT_UNDERSTOOD = "not_understood"  # rejected as unsure: re-ask, clarify, keypad menu, handoff
    CONFIRM_ASKED = "confirm_asked"  # unsure but business-like: the bot asked "... 문의 맞으세요?"
    CONFIRM_YES = "confirm_yes"  # the caller said yes to that question (the asked turn is a trusted label)
    CONFIRM_NO = "confirm_no"  # ... no
    ENDING_ASKED = "ending_asked"  # an unsure goodbye or request for a person, asked about first


@dataclass(frozen=True)
class Understanding:
    """How the bot read one text turn, kept with the turn in the call log for operators and drift.

    `ranking` is the parsing domain's top intents with their confidences (at most three);
    `text` is what the models parsed when it differs from what the recognizer heard (a greeting
    dropped, a misheard word corrected), else "".
    """

    outcome: TurnOutcome
    router_domain: str | None = None
    router_confidence: float = 0.0
    ranking: tuple[tuple[str, float], ...] = ()
    text: str = ""
    version: str = ""
    confirm: tuple[str, ...] = ()  # CONFIRM_ASKED: the intents the bot asked about, best first


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
    understanding: Understanding | None = None  # text turns only


@dataclass(frozen=True)
class CallEnded:
    reason: str
