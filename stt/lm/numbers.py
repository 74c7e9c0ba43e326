"""Digits -> Korean number words as a caller says them, for language-model text.

The recognizer's vocabulary has words ("일곱", "삼십", "공"), never digits, so every digit string in the
training text is rewritten the way it is spoken (number words from `data.augment.numbers`):

- phone-like strings (a leading 0, or digit groups joined by '-') digit by digit, 0 as "공";
- a number before a native counter (시, 명, 개, 잔, 마리, ...) up to 99 in native words ("일곱 시");
- anything else in Sino-Korean words ("이천오백", "삼 월 오 일").
"""

from __future__ import annotations

import re

from data.augment.numbers import native_korean, sino_korean

_PHONE_DIGITS = ["공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
_SINO_MAX = 10**16 - 1
# Counters read with native numbers (한 명, 두 시); 20 alone before a counter is "스무".
NATIVE_COUNTERS = (
    "시간",
    "시",
    "명",
    "개",
    "잔",
    "마리",
    "살",
    "병",
    "그릇",
    "장",
    "권",
    "대",
    "곳",
    "가지",
    "달",
    "벌",
    "판",
    "통",
    "접시",
    "박스",
    "봉지",
    "분이",  # "두 분이" (people), not minutes: minutes are written 분 after a Sino number
)

_PHONE = re.compile(r"(?<![\d,])(?:\d+(?:-\d+)+|0\d+)")
_NUMBER = re.compile(r"\d+(?:,\d{3})*")


def spoken_number(n: int, before_counter: bool) -> str:
    """Native words before a counter for 1-99 ("다섯"), else Sino-Korean; digit by digit when huge."""
    if before_counter and 1 <= n <= 99:
        return native_korean(n, counter=True)
    if n > _SINO_MAX:
        return digits(str(n))
    return sino_korean(n)


def digits(s: str) -> str:
    """Digit-by-digit reading of a phone-like string: "010-1234" -> "공 일 공 일 이 삼 사"."""
    return " ".join(_PHONE_DIGITS[int(c)] for c in s if c.isdigit())


def spell_numbers(text: str) -> str:
    """Rewrite every digit string in `text` as spoken Korean words, separated from what follows."""
    text = _PHONE.sub(lambda m: f" {digits(m.group())} ", text)

    def number(m: re.Match[str]) -> str:
        n = int(m.group().replace(",", ""))
        rest = text[m.end() :].lstrip()
        return f" {spoken_number(n, any(rest.startswith(c) for c in NATIVE_COUNTERS))} "

    return _NUMBER.sub(number, text)
