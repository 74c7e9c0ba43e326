"""Korean text -> vocabulary words of the bundled model, and digits -> spoken number words."""

from __future__ import annotations

import logging

import pytest

from stt.lm.model_path import find_bundled_model
from stt.lm.numbers import spell_numbers, spoken_number
from stt.lm.segment import Segmenter, normalize
from stt.lm.vocab import read_vocabulary


@pytest.fixture(scope="module")
def vocab():
    return read_vocabulary(find_bundled_model() / "graph" / "Gr.fst")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("주차는 돼요?", ["주차", "는", "돼요"]),
        ("환불하고 싶어요", ["환불", "하고", "싶어요"]),
        ("내일 저녁 7시에 5명", ["내일", "저녁", "일곱", "시", "에", "다섯", "명"]),
        ("010-1234-5678", ["공", "일", "공", "일", "이", "삼", "사", "오", "육", "칠", "팔"]),
        ("ok, 감사합니다!!", ["OK", "감사합니다"]),
    ],
)
def test_segments_into_vocabulary_words(vocab, text, words):
    seg = Segmenter(vocab)
    assert seg.words(text) == words
    assert all(w in vocab for w in words)


def test_unsplittable_eojeol_uses_fewest_pieces(vocab):
    seg = Segmenter(vocab)
    pieces = seg.split("예약하려고요")
    assert "".join(pieces) == "예약하려고요"
    assert all(p in vocab for p in pieces)
    assert pieces[0] == "예약"
    # no split into more pieces exists with fewer: "예약하려고요" is not a word, so at least 2
    assert "예약하려고요" not in vocab and len(pieces) >= 2


def test_characters_outside_the_vocabulary_are_dropped_and_counted(vocab, caplog):
    seg = Segmenter(vocab)
    odd = "\U0001d400"  # a mathematical bold letter: a letter category, in no vocabulary word
    assert odd not in vocab
    words = seg.words(f"주차{odd} 돼요")
    assert words == ["주차", "돼요"]
    assert seg.stats.oov == 1
    assert seg.stats.oov_strings[odd] == 1
    with caplog.at_level(logging.WARNING, logger="stt.lm.segment"):
        seg.log_summary()
    assert "outside the vocabulary" in caplog.text


def test_stats_count_sentences_and_tokens(vocab):
    seg = Segmenter(vocab)
    seg.words("주차는 돼요")
    seg.words("배달 되나요")
    assert (seg.stats.sentences, seg.stats.tokens, seg.stats.split_eojeols) == (2, 5, 1)


def test_normalize():
    assert normalize("ｏｋ？ 10% 할인!") == "OK 십 퍼센트 할인"
    assert normalize("  주차는\t돼요… ") == "주차는 돼요"


def test_spoken_number():
    assert [spoken_number(n, True) for n in (1, 2, 5, 20, 21, 99, 120)] == [
        "한", "두", "다섯", "스무", "스물한", "아흔아홉", "백이십",
    ]  # fmt: skip
    assert spoken_number(15000, False) == "만오천"
    assert spoken_number(10**17, False).split()[:2] == ["일", "공"]


def test_spell_numbers_picks_the_spoken_reading():
    assert spell_numbers("7시 30분").split() == ["일곱", "시", "삼십", "분"]
    assert spell_numbers("3월 5일").split() == ["삼", "월", "오", "일"]
    assert spell_numbers("15,000원").split() == ["만오천", "원"]
    assert spell_numbers("2인분").split() == ["이", "인분"]
    assert spell_numbers("01012345678").split()[:3] == ["공", "일", "공"]
