"""Speech-recognizer-style variants of a sentence.

What a Korean recognizer (Vosk) makes of a caller: numbers written as digits or as words in either
system (두 명 / 2명, and the plausible mis-reading 이 명), word spacing lost or shifted, a filler
word in front (어, 음, 저기, 그) and no question mark. All randomness comes from the `random.Random`
passed in, so a seeded caller gets the same variants every time.
"""

from __future__ import annotations

import random
import re

from data.augment.analysis import AugmentError
from data.augment.numbers import native_korean, parse_korean_number, sino_korean

FILLERS = ("어", "음", "저기", "그")
# Counters read with native numbers (두 명, 일곱 시) and with Sino-Korean ones (삼만 원, 삼십 분).
NATIVE_COUNTERS = ("명", "시", "개", "잔", "병", "살", "마리", "그릇", "시간", "대", "권", "장")
SINO_COUNTERS = ("원", "층", "번", "일", "월", "분", "인분", "년", "호", "동")
_COUNTERS = sorted(NATIVE_COUNTERS + SINO_COUNTERS, key=len, reverse=True)
_COUNTER_RE = "|".join(_COUNTERS)
_NUMBER_WORD = (
    "(?:열|스물|스무|서른|마흔|쉰|예순|일흔|여든|아흔)?(?:하나|한|둘|두|셋|세|넷|네|다섯|여섯|일곱|여덟|아홉)"
    "|(?:열|스물|스무|서른|마흔|쉰|예순|일흔|여든|아흔)"
    "|[영일이삼사오육칠팔구십백천만억]+"
)
# A number (digits, 3만, 삼만오천, 두, 열두) and its counter, the number not inside a longer word.
_NUMBER_RE = re.compile(
    rf"(?<![0-9가-힣])(?P<num>\d+만\d*천?|\d[\d,]*|{_NUMBER_WORD})(?P<space>\s?)(?P<counter>{_COUNTER_RE})"
)
# Month names drop a final consonant or take no space: 유월 (6), 시월 (10), 오월.
_MONTHS = {6: "유월", 10: "시월"}
# 이 and 일 are also "this" and "work/day": 이 층 is "this floor", so they are never turned into digits.
_AMBIGUOUS_WORDS = {"이", "일"}
_HANGUL = re.compile("[가-힣]")


def numbers_as_words(text: str, *, misread: bool = False) -> str | None:
    """Digits before a counter spelled out: 2명 -> 두 명, 7시 -> 일곱 시, 3만 원 -> 삼만 원.

    With misread=True native counters get the Sino-Korean reading instead (2명 -> 이 명), a common
    recognizer slip. None when the text has no digits before a counter.
    """
    changed = False

    def spell(m: re.Match[str]) -> str:
        nonlocal changed
        num, counter = m.group("num"), m.group("counter")
        if not any(ch.isdigit() for ch in num):
            return m.group(0)
        value = parse_korean_number(num)
        if value is None:
            return m.group(0)
        native = counter in NATIVE_COUNTERS and 1 <= value <= 99 and not misread
        if counter in NATIVE_COUNTERS and misread and value == 0:
            return m.group(0)
        changed = True
        if counter == "월" and 1 <= value <= 12:
            return _MONTHS.get(value, sino_korean(value) + "월")
        words = native_korean(value, counter=True) if native else sino_korean(value)
        return f"{words} {counter}"

    out = _NUMBER_RE.sub(spell, text)
    return out if changed else None


def numbers_as_digits(text: str) -> str | None:
    """Number words before a counter as digits: 두 명 -> 2명, 열두 시 -> 12시, 삼만 원 -> 30000원."""
    changed = False

    def digits(m: re.Match[str]) -> str:
        nonlocal changed
        num, counter = m.group("num"), m.group("counter")
        if any(ch.isdigit() for ch in num) or num in _AMBIGUOUS_WORDS:
            return m.group(0)
        value = parse_korean_number(num)
        if value is None:
            return m.group(0)
        changed = True
        return f"{value}{counter}"

    out = _NUMBER_RE.sub(digits, text)
    return out if changed else None


def respace(text: str, rng: random.Random) -> str | None:
    """Spacing as a recognizer might produce it: one space dropped, all dropped, or one moved."""
    words = text.split()
    if len(words) < 2:
        return None
    how = rng.choice(("merge_one", "merge_all", "shift"))
    if how == "merge_all":
        return "".join(words)
    i = rng.randrange(len(words) - 1)
    if how == "merge_one":
        return " ".join([*words[:i], words[i] + words[i + 1], *words[i + 2 :]])
    left, right = words[i], words[i + 1]
    if len(right) > 1 and _HANGUL.match(right[0]) and rng.random() < 0.5:
        left, right = left + right[0], right[1:]  # 주차 가능해 -> 주차가 능해
    elif len(left) > 1 and _HANGUL.match(left[-1]):
        left, right = left[:-1], left[-1] + right
    else:
        return " ".join([*words[:i], left + right, *words[i + 2 :]])
    return " ".join([*words[:i], left, right, *words[i + 2 :]])


def without_punctuation(text: str) -> str:
    """Drop the sentence-final ?, ! and . a recognizer never writes."""
    return text.rstrip().rstrip("?!.").rstrip()


def asr_variants(text: str, rng: random.Random, *, limit: int = 3) -> list[str]:
    """Up to `limit` distinct recognizer-style variants of `text` (never `text` itself)."""
    if not isinstance(text, str):
        raise AugmentError(f"asr_variants expects a str, got {type(text).__name__}")
    if limit < 0:
        raise AugmentError(f"limit must be >= 0, got {limit}")
    text = text.strip()
    if not text:
        return []
    bare = without_punctuation(text)
    spelled = numbers_as_words(bare)
    candidates = [
        spelled if spelled is not None else numbers_as_digits(bare),
        numbers_as_words(bare, misread=True) if rng.random() < 0.5 else None,
        respace(bare, rng),
        f"{rng.choice(FILLERS)} {bare}",
        bare,
    ]
    out: list[str] = []
    for c in candidates:
        if c and c != text and c not in out:
            out.append(c)
    return out[:limit]
