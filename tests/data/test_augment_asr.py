"""Recognizer-style variants (data.augment.asr): numbers, spacing, fillers, punctuation."""

from __future__ import annotations

import random

import pytest

from data.augment.analysis import AugmentError
from data.augment.asr import (
    FILLERS,
    asr_variants,
    numbers_as_digits,
    numbers_as_words,
    respace,
    without_punctuation,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2명 예약할게", "두 명 예약할게"),
        ("7시에 갈게", "일곱 시에 갈게"),
        ("12시 반에 갈게", "열두 시 반에 갈게"),
        ("1명이요", "한 명이요"),
        ("20명 단체 돼?", "스무 명 단체 돼?"),
        ("21명", "스물한 명"),
        ("맥주 3병이랑 소주 2잔", "맥주 세 병이랑 소주 두 잔"),
        ("김밥 4개", "김밥 네 개"),
        ("3만 원 이하 메뉴", "삼만 원 이하 메뉴"),
        ("35000원", "삼만오천 원"),
        ("1,000원", "천 원"),
        ("3층이에요", "삼 층이에요"),
        ("7시 30분", "일곱 시 삼십 분"),
        ("5월 3일 저녁", "오월 삼 일 저녁"),
        ("6월 10일", "유월 십 일"),
        ("10월", "시월"),
        ("2인분 포장", "이 인분 포장"),
        ("150명", "백오십 명"),
        ("2시간 뒤", "두 시간 뒤"),
    ],
)
def test_numbers_as_words(text: str, words: str) -> None:
    assert numbers_as_words(text) == words


@pytest.mark.parametrize(
    ("text", "misread"),
    [
        ("2명", "이 명"),
        ("7시", "칠 시"),
        ("3병", "삼 병"),
        ("3만 원", "삼만 원"),
    ],
)
def test_sino_misreading_of_native_counters(text: str, misread: str) -> None:
    assert numbers_as_words(text, misread=True) == misread


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("두 명 예약할게", "2명 예약할게"),
        ("일곱 시에 갈게", "7시에 갈게"),
        ("열두 시 반", "12시 반"),
        ("스무 명", "20명"),
        ("스물한 명", "21명"),
        ("삼만 원", "30000원"),
        ("만 원", "10000원"),
        ("맥주 세 병이랑 소주 두 병", "맥주 3병이랑 소주 2병"),
        ("삼 층", "3층"),
        ("오월 오 일", "5월 5일"),
        ("세 시간 뒤", "3시간 뒤"),
    ],
)
def test_numbers_as_digits(text: str, digits: str) -> None:
    assert numbers_as_digits(text) == digits


@pytest.mark.parametrize(
    "text",
    [
        "이 층에 화장실 있어?",  # 이 is "this" here
        "일 있어서 못 가",
        "주차 돼?",
        "세트 메뉴",  # 세 inside a word
        "네 맞아",
    ],
)
def test_leaves_text_without_number_words(text: str) -> None:
    assert numbers_as_digits(text) is None
    assert numbers_as_words(text) is None


def test_respace_changes_only_spacing() -> None:
    text = "오늘 저녁 두 명 예약 가능해"
    outs = {respace(text, random.Random(seed)) for seed in range(40)}
    assert len(outs) > 5
    for out in outs:
        assert out is not None and out != text
        assert out.replace(" ", "") == text.replace(" ", "")
    assert "오늘저녁두명예약가능해" in outs
    assert respace("주차", random.Random(0)) is None


def test_without_punctuation() -> None:
    assert without_punctuation("주차 돼?") == "주차 돼"
    assert without_punctuation("정말요?!") == "정말요"
    assert without_punctuation("네.") == "네"
    assert without_punctuation("주차") == "주차"


def test_asr_variants_are_distinct_deterministic_and_plausible() -> None:
    text = "7시에 두 명 예약 가능해?"
    first = asr_variants(text, random.Random(3), limit=5)
    assert first == asr_variants(text, random.Random(3), limit=5)
    assert text not in first
    assert len(first) == len(set(first)) >= 3
    assert "일곱 시에 두 명 예약 가능해" in first
    for v in first:
        assert not v.endswith("?")
        bare = v.split(" ", 1)[1] if v.split(" ", 1)[0] in FILLERS else v
        assert bare.replace(" ", "") in {
            "7시에두명예약가능해",
            "일곱시에두명예약가능해",
            "칠시에두명예약가능해",
        }


def test_asr_variants_respects_limit_and_edge_cases() -> None:
    assert len(asr_variants("오늘 7시에 두 명", random.Random(0), limit=2)) == 2
    assert asr_variants("오늘 7시에 두 명", random.Random(0), limit=0) == []
    assert asr_variants("   ", random.Random(0)) == []
    with pytest.raises(AugmentError, match="str"):
        asr_variants(None, random.Random(0))  # type: ignore[arg-type]
    with pytest.raises(AugmentError, match="limit"):
        asr_variants("주차", random.Random(0), limit=-1)
