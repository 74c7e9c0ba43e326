"""Numbers <-> Korean number words, both systems.

Sino-Korean (일, 이, 삼 ... 십, 백, 천, 만) reads money, floors, minutes, dates and phone digits;
native Korean (하나, 둘 ... 열, 스물 ... 아흔아홉) counts people, hours, items and glasses, with the
counter forms 한/두/세/네/스무 before a counter (두 명, 세 시, 스무 개). Shared by the ASR-style augmenter,
the bot's date/time parsing and the STT language model.
"""

from __future__ import annotations

from data.augment.analysis import AugmentError

_SINO_DIGITS = ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_SINO_SMALL_UNITS = ((1000, "천"), (100, "백"), (10, "십"))
_SINO_BIG_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))
_SINO_MAX = 10**16 - 1

_NATIVE_ONES = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_COUNTER_FORMS = {"하나": "한", "둘": "두", "셋": "세", "넷": "네"}

# Parsing: every word form, both systems, with its value.
_PARSE_ONES = {w: i for i, w in enumerate(_NATIVE_ONES) if w} | {
    "한": 1, "두": 2, "세": 3, "네": 4, "석": 3, "넉": 4, "서": 3, "너": 4,
}  # fmt: skip
_PARSE_TENS = {w: 10 * i for i, w in enumerate(_NATIVE_TENS) if w} | {"스무": 20}
_PARSE_SINO_DIGITS = {w: i for i, w in enumerate(_SINO_DIGITS)} | {"공": 0, "륙": 6, "령": 0}
_PARSE_SMALL_UNITS = {w: v for v, w in _SINO_SMALL_UNITS}
_PARSE_BIG_UNITS = {w: v for v, w in _SINO_BIG_UNITS}


def sino_korean(n: int) -> str:
    """12 -> 십이, 30000 -> 삼만, 12345 -> 만이천삼백사십오, 0 -> 영 (no 일 before 십/백/천/만)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > _SINO_MAX:
        raise AugmentError(f"sino_korean needs an int from 0 to {_SINO_MAX}, got {n!r}")
    if n == 0:
        return _SINO_DIGITS[0]
    out = []
    for unit, name in _SINO_BIG_UNITS:
        if n >= unit:
            group, n = divmod(n, unit)
            out.append(("" if group == 1 and unit == 10**4 else _sino_below_10000(group)) + name)
    if n:
        out.append(_sino_below_10000(n))
    return "".join(out)


def _sino_below_10000(n: int) -> str:
    out = []
    for unit, name in _SINO_SMALL_UNITS:
        if n >= unit:
            digit, n = divmod(n, unit)
            out.append(("" if digit == 1 else _SINO_DIGITS[digit]) + name)
    if n:
        out.append(_SINO_DIGITS[n])
    return "".join(out)


def native_korean(n: int, *, counter: bool = False) -> str:
    """1-99 in native Korean: 25 -> 스물다섯; with counter=True the forms used before a counter
    (1 -> 한, 2 -> 두, 3 -> 세, 4 -> 네, 20 -> 스무, 21 -> 스물한)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 99:
        raise AugmentError(f"native_korean needs an int from 1 to 99, got {n!r}")
    tens, ones = divmod(n, 10)
    if counter and n == 20:
        return "스무"
    one = _NATIVE_ONES[ones]
    if counter:
        one = _COUNTER_FORMS.get(one, one)
    return _NATIVE_TENS[tens] + one


def parse_korean_number(text: str) -> int | None:
    """Korean number words (either system, spaces ignored) or digits -> int; None if not a number.

    열두 -> 12, 이십오 -> 25, 스물다섯 -> 25, 스무 -> 20, 삼만 -> 30000, 만이천 -> 12000, 3만 -> 30000.
    """
    if not isinstance(text, str):
        raise AugmentError(f"parse_korean_number expects a str, got {type(text).__name__}")
    s = "".join(text.split()).replace(",", "")
    if not s:
        return None
    if s.isascii() and s.isdigit():
        return int(s)
    native = _parse_native(s)
    if native is not None:
        return native
    return _parse_sino(s)


def _parse_native(s: str) -> int | None:
    value = 0
    for word, v in sorted(_PARSE_TENS.items(), key=lambda kv: -len(kv[0])):
        if s.startswith(word):
            value, s = v, s[len(word) :]
            break
    if s:
        if s not in _PARSE_ONES:
            return None
        value += _PARSE_ONES[s]
    return value or None


def _parse_sino(s: str) -> int | None:
    total = 0
    group = 0  # value below 10000 being read
    digit: int | None = None
    smallest = 10**5  # units inside a group must fall: 천 > 백 > 십 (십십 is not a number)
    big = 10**17
    i = 0
    while i < len(s):
        ch = s[i]
        if ch.isascii() and ch.isdigit():
            j = i
            while j < len(s) and s[j].isascii() and s[j].isdigit():
                j += 1
            if digit is not None:
                return None
            digit, i = int(s[i:j]), j
            continue
        if ch in _PARSE_SINO_DIGITS:
            if digit is not None:
                return None
            digit = _PARSE_SINO_DIGITS[ch]
        elif ch in _PARSE_SMALL_UNITS:
            unit = _PARSE_SMALL_UNITS[ch]
            if unit >= smallest:
                return None
            group += (1 if digit is None else digit) * unit
            digit, smallest = None, unit
        elif ch in _PARSE_BIG_UNITS:
            unit = _PARSE_BIG_UNITS[ch]
            if unit >= big:
                return None
            part = group + (digit or 0)
            total += (1 if part == 0 else part) * unit
            group, digit, smallest, big = 0, None, 10**5, unit
        else:
            return None
        i += 1
    return total + group + (digit or 0)
