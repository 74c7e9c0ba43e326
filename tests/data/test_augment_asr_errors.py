"""Recognition errors learned from (said, heard) pairs, and training text that makes the same errors."""

from __future__ import annotations

import json
import random

import pytest

from data.augment import Augmenter
from data.augment.analysis import AugmentError
from data.augment.asr_errors import ErrorModel, align, join_syllable, learn, noisy, split_syllable
from data.settings import BUNDLED_ASR_ERRORS

PAIRS = [
    ("강남점 예약할게요", "강남놈 예약 할께요"),  # 점 -> 놈 (two parts), 게 -> 께, a space added
    ("두 명이요", "두명이요"),  # a space dropped
    ("주차 돼요", "주차 돼"),  # a syllable dropped
]


def test_alignment_and_jamo() -> None:
    assert align("abc", "abd") == [("a", "a"), ("b", "b"), ("c", "d")]
    assert align("ab", "b") == [("a", ""), ("b", "b")]
    assert split_syllable("점") == (12, 4, 16) and join_syllable(*split_syllable("놈")) == "놈"


def test_learning_counts_each_kind_of_error() -> None:
    model = learn(PAIRS, provenance={"recognizer": "test"})
    assert (model.substituted, model.deleted, model.inserted) == (2, 1, 0)
    assert (model.spaces_dropped, model.spaces_added) == (1, 1)
    assert model.jamo["initial"][12] == {2: 1} and model.jamo["medial"][4] == {8: 1}  # ㅈ->ㄴ, ㅓ->ㅗ
    assert model.jamo["initial"][0] == {1: 1}  # ㄱ -> ㄲ
    again = ErrorModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.to_json() == model.to_json() and again.provenance == {"recognizer": "test"}


def test_noisy_text_follows_the_learned_rates_and_is_reproducible() -> None:
    model = learn([("가나다라마바사아자차" * 10, "가나다라마바사아자차" * 9 + "가나다라마바사아잔차")])
    text = "저녁 일곱 시에 강남점으로 두 명 예약할게요 " * 20
    first = noisy(text, model, random.Random(4))
    assert first == noisy(text, model, random.Random(4)) and first != text
    assert noisy(text, ErrorModel(), random.Random(4)) == " ".join(
        text.split()
    )  # an empty model changes nothing
    # Whisper-like rates from the shipped model: about one syllable in ten differs.
    shipped = ErrorModel.load(BUNDLED_ASR_ERRORS)
    assert shipped.provenance["clips"] > 50 and shipped.syllables > 1000
    said = text.replace(" ", "")
    heard = noisy(text, shipped, random.Random(1)).replace(" ", "")
    errors = sum(a != b for a, b in align(said, heard))
    rate = shipped.rate(shipped.substituted + shipped.deleted, shipped.syllables)
    assert 0.5 * rate < errors / len(said) < 1.5 * rate


def test_a_bad_model_file_is_named(tmp_path) -> None:
    bad = tmp_path / "errors.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(AugmentError, match="errors.json: not a readable recognition error model"):
        ErrorModel.load(bad)


def test_the_augmenter_writes_one_learned_variant_per_sentence() -> None:
    augmenter = Augmenter(
        casual=False, clipped=False, asr=False, seed=3, errors=ErrorModel.load(BUNDLED_ASR_ERRORS)
    )
    variants = augmenter.variants("내일 저녁 일곱 시에 강남점으로 두 명 예약할게요?")
    assert [v.kind for v in variants] == ["asr_learned"]
    assert (
        variants[0].text != "내일 저녁 일곱 시에 강남점으로 두 명 예약할게요" and "?" not in variants[0].text
    )
    assert Augmenter(casual=False, clipped=False, asr=False, seed=3).variants("두 명 예약할게요") == []


def test_the_error_model_setting(company, tmp_path) -> None:
    from callbot.config import ConfigError

    assert company(augment={"asr_errors": "bundled"}).augment.asr_errors == BUNDLED_ASR_ERRORS
    assert company(augment={"asr_errors": None}).augment.asr_errors is None
    with pytest.raises(ConfigError) as err:
        company(augment={"asr_errors": str(tmp_path / "nowhere.json"), "asr_learned_per_real": -1})
    assert "data.augment.asr_errors: error model file not found" in str(err.value)
    assert "data.augment.asr_learned_per_real" in str(err.value)
