"""The Kiwi tokenizer: morpheme tokens whose offsets map back onto the original Korean text."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.kiwi_tokenizer import KiwiTokenizer, get_analyzer, respaced, split_morphemes

SENTENCES = [
    "예약하고 싶어요",
    "내일 저녁 7시에 4명 예약 가능한가요?",
    "배달돼?",
    "어제 갔었는데 맛있었어요!!",
    "  음… ♡♡ 네  ㅋㅋ ",
    "환불",
    "abc 123 주차 돼요",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_tokens_cover_the_text_and_offsets_map_back(text: str) -> None:
    spans = split_morphemes(text)
    for surface, start, end, _ in spans:
        assert text[start:end] == surface
    ends = [0] + [end for _, _, end, _ in spans]
    starts = [start for _, start, _, _ in spans]
    assert all(s >= e for s, e in zip(starts, ends, strict=False)), "tokens overlap or go backwards"
    covered = "".join(surface for surface, *_ in spans)
    assert covered == "".join(text.split()), "every non-space character is in exactly one token"


def test_morphemes_split_particles_and_endings() -> None:
    surfaces = [s for s, *_ in split_morphemes("예약하고 싶어요")]
    assert surfaces == ["예약", "하", "고", "싶", "어요"]


def test_contractions_are_one_token_with_the_morphemes_as_lemma() -> None:
    spans = split_morphemes("배달돼?")
    assert [(s, a, b, lemma) for s, a, b, lemma in spans] == [
        ("배달", 0, 2, "배달"),
        ("돼", 2, 3, "되어"),
        ("?", 3, 4, "?"),
    ]


def test_rasa_tokenizer_sets_text_offsets_and_lemma() -> None:
    tokenizer = KiwiTokenizer(KiwiTokenizer.get_default_config())
    message = Message(data={"text": "짜장면 배달돼요?"})
    tokens = tokenizer.tokenize(message, "text")
    assert [t.text for t in tokens] == ["짜장면", "배달", "돼요", "?"]
    assert [(t.start, t.end) for t in tokens] == [(0, 3), (4, 6), (6, 8), (8, 9)]
    assert tokens[2].lemma == "되어요"


def test_whitespace_only_text_gives_one_token() -> None:
    tokens = KiwiTokenizer(KiwiTokenizer.get_default_config()).tokenize(Message(data={"text": "  "}), "text")
    assert len(tokens) == 1


def test_kiwi_is_loaded_once_per_process() -> None:
    assert get_analyzer() is get_analyzer()


def test_respacing_moves_spaces_and_nothing_else():
    assert respaced("배 달얼마나 걸려") == "배달 얼마나 걸려"
    assert respaced("취 소해 줘") == "취소해 줘"
    for text in ("홍대 어 떻게 가", "영업시간궁금해요", "7시 네 명 돼?"):
        assert respaced(text).replace(" ", "") == text.replace(" ", "")
