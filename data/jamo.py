"""Hangul syllables as jamo: how far apart two words sound to a recognizer that misheard one part.

A recognizer that mishears "할인" as "활인" changed one vowel; as syllables the two words share nothing
but "인", as jamo they differ in one of six letters. `decompose` spells text as conjoining jamo (initial,
vowel and final consonants are distinct code points, so ㄴ as an initial and ㄴ as a final differ), which
character n-grams, edit distances and the near-duplicate clusters (`data.near_duplicates`) work on.
"""

from __future__ import annotations

import unicodedata

_BASE, _LAST = 0xAC00, 0xD7A3
_MEDIALS, _FINALS = 21, 28
_INITIAL_JAMO, _MEDIAL_JAMO, _FINAL_JAMO = 0x1100, 0x1161, 0x11A7  # final index 0 = none


def is_syllable(ch: str) -> bool:
    """A precomposed Hangul syllable (가-힣)."""
    return len(ch) == 1 and _BASE <= ord(ch) <= _LAST


def parts(ch: str) -> tuple[int, int, int]:
    """A syllable's (initial, medial, final) indices; final 0 means none."""
    code = ord(ch) - _BASE
    return code // (_MEDIALS * _FINALS), code // _FINALS % _MEDIALS, code % _FINALS


def compose(initial: int, medial: int, final: int = 0) -> str:
    """The syllable of (initial, medial, final) indices."""
    return chr(_BASE + (initial * _MEDIALS + medial) * _FINALS + final)


def decompose(text: str) -> str:
    """`text` with every Hangul syllable spelled as conjoining jamo; everything else as it was (NFC)."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if is_syllable(ch):
            i, m, f = parts(ch)
            out.append(chr(_INITIAL_JAMO + i) + chr(_MEDIAL_JAMO + m) + (chr(_FINAL_JAMO + f) if f else ""))
        else:
            out.append(ch)
    return "".join(out)


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance between two strings; with `limit`, any distance above it is `limit + 1`."""
    if len(a) < len(b):
        a, b = b, a
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if limit is not None and min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def jamo_distance(a: str, b: str, limit: int | None = None) -> int:
    """How many jamo (letters) must change to turn `a` into `b`: 할인 -> 활인 is 1, 할인 -> 배달 is 4."""
    return edit_distance(decompose(a), decompose(b), limit)
