"""Numbers <-> Korean number words (data.augment.numbers)."""

from __future__ import annotations

import pytest

from data.augment.analysis import AugmentError
from data.augment.numbers import native_korean, parse_korean_number, sino_korean


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "영"),
        (1, "일"),
        (2, "이"),
        (10, "십"),
        (11, "십일"),
        (12, "십이"),
        (20, "이십"),
        (25, "이십오"),
        (30, "삼십"),
        (100, "백"),
        (101, "백일"),
        (110, "백십"),
        (365, "삼백육십오"),
        (1000, "천"),
        (1234, "천이백삼십사"),
        (2026, "이천이십육"),
        (10000, "만"),
        (12000, "만이천"),
        (12345, "만이천삼백사십오"),
        (30000, "삼만"),
        (35000, "삼만오천"),
        (100000, "십만"),
        (1000000, "백만"),
        (100000000, "일억"),
        (100010000, "일억만"),
    ],
)
def test_sino_korean(n: int, words: str) -> None:
    assert sino_korean(n) == words
    assert parse_korean_number(words) == n


@pytest.mark.parametrize(
    ("n", "plain", "counter"),
    [
        (1, "하나", "한"),
        (2, "둘", "두"),
        (3, "셋", "세"),
        (4, "넷", "네"),
        (5, "다섯", "다섯"),
        (7, "일곱", "일곱"),
        (10, "열", "열"),
        (11, "열하나", "열한"),
        (12, "열둘", "열두"),
        (20, "스물", "스무"),
        (21, "스물하나", "스물한"),
        (25, "스물다섯", "스물다섯"),
        (34, "서른넷", "서른네"),
        (40, "마흔", "마흔"),
        (50, "쉰", "쉰"),
        (99, "아흔아홉", "아흔아홉"),
    ],
)
def test_native_korean(n: int, plain: str, counter: str) -> None:
    assert native_korean(n) == plain
    assert native_korean(n, counter=True) == counter
    assert parse_korean_number(plain) == n
    assert parse_korean_number(counter) == n


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("열두", 12),
        ("이십오", 25),
        ("스물다섯", 25),
        ("스무", 20),
        ("한", 1),
        ("두", 2),
        ("세", 3),
        ("네", 4),
        ("사", 4),
        ("삼만", 30000),
        ("만이천", 12000),
        ("만 이천", 12000),
        ("3만", 30000),
        ("3만5천", 35000),
        ("이십삼만사천", 234000),
        ("천백십일", 1111),
        ("12", 12),
        ("1,000", 1000),
        ("공", 0),
        ("영", 0),
    ],
)
def test_parse_korean_number(text: str, n: int) -> None:
    assert parse_korean_number(text) == n


@pytest.mark.parametrize("text", ["", "  ", "아무거나", "십십", "만만", "열열", "두셋", "오천 원", "3a"])
def test_parse_rejects_non_numbers(text: str) -> None:
    assert parse_korean_number(text) is None


def test_round_trips_every_small_number() -> None:
    assert all(parse_korean_number(sino_korean(n)) == n for n in range(0, 20001))
    assert all(
        parse_korean_number(native_korean(n, counter=c)) == n for n in range(1, 100) for c in (False, True)
    )


@pytest.mark.parametrize("bad", [-1, 10**16, 1.5, "3", True])
def test_sino_rejects_out_of_range(bad: object) -> None:
    with pytest.raises(AugmentError, match="sino_korean"):
        sino_korean(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 100, -3, 2.0])
def test_native_rejects_out_of_range(bad: object) -> None:
    with pytest.raises(AugmentError, match="1 to 99"):
        native_korean(bad)  # type: ignore[arg-type]
