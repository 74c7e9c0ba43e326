"""Hallucination guards: is a Whisper hypothesis something the caller said, or something Whisper made up?

Whisper was trained on subtitled video. On silence, line noise, hold music or keypad tones it tends to
produce text anyway: broadcast sign-offs ("시청해 주셔서 감사합니다"), subscription pleas ("구독과 좋아요"),
or a phrase repeated until the token budget runs out. Each check looks at one symptom; `judge` returns
the first that fires (the reason is logged and counted), or None for a hypothesis to use.
"""

from __future__ import annotations

import re
import unicodedata

from stt.second_pass.settings import GuardSettings
from stt.whisper.decoder import Hypothesis

_NOT_TEXT = re.compile(r"[^\w]|_")
_SYLLABLES = re.compile(r"[가-힣]")
_LETTERS = re.compile(r"[^\W\d_]")


def _squash(text: str) -> str:
    return _NOT_TEXT.sub("", unicodedata.normalize("NFC", text)).lower()


def spoken_chars(text: str) -> int:
    """Hangul syllables, plus other letters counted at three per syllable (Latin text of a Korean caller)."""
    syllables = len(_SYLLABLES.findall(text))
    others = len(_LETTERS.findall(text)) - syllables
    return syllables + (others + 2) // 3


def longest_repeat(text: str, min_chars: int = 2) -> int:
    """The most times a phrase of at least `min_chars` characters (spaces ignored) repeats back to back.

    "시원한 시원한 시원한" -> 3; "네 네 네" and "네네네네" -> 1 (one syllable over and over is how callers
    say yes); "감사합니다" -> 1. Looks at the first 300 characters.
    """
    squashed = _squash(text)[:300]
    best = 1
    n = len(squashed)
    for size in range(min_chars, n // 2 + 1):
        for start in range(0, size):
            run = 1
            for pos in range(start + size, n - size + 1, size):
                unit = squashed[pos : pos + size]
                if unit == squashed[pos - size : pos] and len(set(unit)) > 1:
                    run += 1
                    best = max(best, run)
                else:
                    run = 1
    return best


def judge(hyp: Hypothesis, guards: GuardSettings, speech_seconds: float | None = None) -> str | None:
    """Why `hyp` must not be used (a short reason), or None when it passes every guard."""
    text = hyp.text.strip()
    if not _squash(text):
        return "empty"
    if hyp.no_speech_prob > guards.no_speech_prob and hyp.avg_logprob < guards.silence_logprob:
        return "no_speech"
    if hyp.avg_logprob < guards.min_avg_logprob:
        return "low_logprob"
    if hyp.compression_ratio > guards.max_compression_ratio:
        return "compression"
    if longest_repeat(text) >= guards.max_repeats:
        return "repeats"
    squashed = _squash(text)
    if any(_squash(p) and _squash(p) in squashed for p in guards.phrases):
        return "known_phrase"
    seconds = speech_seconds if speech_seconds is not None else hyp.audio_seconds
    if seconds > 0 and spoken_chars(text) / max(seconds, 0.5) > guards.max_chars_per_second:
        return "too_fast"
    return None
