"""The build's entry point: Augmenter.variants (data.augment)."""

from __future__ import annotations

import dataclasses

import pytest

from data.augment import KINDS, Augmenter, AugmentError, Variant, casual_of
from data.augment.analysis import Analyzer


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def augmenter(analyzer: Analyzer) -> Augmenter:
    return Augmenter(casual=True, clipped=True, asr=True, seed=7, analyzer=analyzer)


def test_variants_of_a_polite_request(augmenter: Augmenter) -> None:
    variants = augmenter.variants("강남점 주차 되나요?")
    by_kind = {k: [v.text for v in variants if v.kind == k] for k in KINDS}
    assert by_kind["casual"] == ["강남점 주차 돼?"]
    assert by_kind["clipped"] == ["강남점 주차"]
    assert 1 <= len(by_kind["asr"]) <= 2
    # The recognizer hears the caller's casual form, without the question mark.
    for text in by_kind["asr"]:
        assert "되나요" not in text and not text.endswith("?")
    texts = [v.text for v in variants]
    assert len(texts) == len(set(texts)) and "강남점 주차 되나요?" not in texts


def test_numbers_in_asr_variants(augmenter: Augmenter) -> None:
    texts = [v.text for v in augmenter.variants("7시에 두 명 예약 가능할까요?") if v.kind == "asr"]
    assert "일곱 시에 두 명 예약 가능할까" in texts


def test_deterministic_for_a_seed_and_independent_of_order(analyzer: Analyzer) -> None:
    texts = ["예약하고 싶어요", "내일 저녁 7시에 4명 예약 가능할까요?", "배달 되나요?", "환불해 주세요"]
    a = Augmenter(seed=1, analyzer=analyzer)
    b = Augmenter(seed=1, analyzer=analyzer)
    forward = [a.variants(t) for t in texts]
    backward = [b.variants(t) for t in reversed(texts)][::-1]
    assert forward == backward
    assert forward == [a.variants(t) for t in texts]  # cached answers are the same
    other_seeds = [[Augmenter(seed=s, analyzer=analyzer).variants(t) for t in texts] for s in range(2, 8)]
    assert any(o != forward for o in other_seeds)


def test_only_enabled_kinds(analyzer: Analyzer) -> None:
    only_casual = Augmenter(casual=True, clipped=False, asr=False, seed=0, analyzer=analyzer)
    assert only_casual.variants("환불하고 싶어요") == [Variant("환불하고 싶어", "casual")]
    only_asr = Augmenter(casual=False, clipped=False, asr=True, seed=0)
    assert only_asr.analyzer is None  # no Kiwi needed
    assert {v.kind for v in only_asr.variants("환불하고 싶어요")} == {"asr"}
    with pytest.raises(AugmentError, match="casual=False"):
        only_asr.casual_of("환불하고 싶어요")


def test_casual_sentence_gets_no_casual_variant(augmenter: Augmenter) -> None:
    kinds = [v.kind for v in augmenter.variants("주차 돼?")]
    assert "casual" not in kinds
    assert augmenter.variants("") == [] and augmenter.variants("   ") == []


def test_variant_is_frozen() -> None:
    v = Variant("배달 돼?", "casual")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.text = "x"  # type: ignore[misc]


def test_casual_of() -> None:
    assert casual_of("배달 되나요?") == "배달 돼?"
    assert casual_of("배달 돼?") is None


def test_bad_arguments(augmenter: Augmenter) -> None:
    with pytest.raises(AugmentError, match="seed"):
        Augmenter(seed="1", casual=False, clipped=False)  # type: ignore[arg-type]
    with pytest.raises(AugmentError, match="asr_limit"):
        Augmenter(asr_limit=-1, casual=False, clipped=False)
    with pytest.raises(AugmentError, match="str"):
        augmenter.variants(b"bytes")  # type: ignore[arg-type]
