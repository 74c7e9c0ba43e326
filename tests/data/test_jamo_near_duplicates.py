"""Jamo spelling and distances, and near-duplicate clusters of what callers said."""

from __future__ import annotations

from data.jamo import compose, decompose, edit_distance, jamo_distance, parts
from data.near_duplicates import NearDuplicates, normalize


def test_a_syllable_spells_as_initial_vowel_and_final_jamo_and_back():
    assert decompose("할인") == "\u1112\u1161\u11af\u110b\u1175\u11ab"
    assert decompose("할인 OK!").endswith(" OK!")  # other characters stay
    assert compose(*parts("활")) == "활"
    # NFD input (macOS exports) is read as the same syllables
    assert decompose("\u1112\u1161\u11af") == decompose("할")


def test_misheard_by_one_jamo_is_close_another_word_is_far():
    assert jamo_distance("할인", "활인") == 1  # a vowel
    assert jamo_distance("배달", "대달") == 1  # an initial
    assert jamo_distance("샐러드", "셀러드") == 1
    assert jamo_distance("할인", "배달") >= 4
    assert jamo_distance("할인", "배달", limit=2) == 3  # cut short past the limit
    assert edit_distance("", "abc") == 3 and edit_distance("kitten", "sitting") == 3


def test_clusters_group_what_was_said_or_heard_alike_largest_first():
    texts = [
        "학생 할인 되나요?",
        "배달 되나요",
        "학생 활인 되나요",
        "학생 할인 되나요",
        "주차 돼요?",
        "학생할인 되나요",
        "배달 돼요?",
    ]
    index = NearDuplicates(texts)
    clusters = index.clusters()
    first = clusters[0]
    assert first.leader == "학생 할인 되나요?" and sorted(first.members) == [0, 2, 3, 5]
    assert sorted(i for c in clusters for i in c.members) == list(range(len(texts)))  # each text once
    delivery = next(c for c in clusters if 1 in c.members)
    assert 0 not in delivery.members and 4 not in delivery.members
    assert [c.count for c in index.clusters(min_count=2)][0] == 4
    assert index.clusters() == NearDuplicates(texts).clusters()  # deterministic


def test_similar_lists_near_duplicates_of_a_text_most_similar_first():
    texts = ["학생 할인 되나요", "학생 활인 되나요", "주차 돼요", "학생 할인 되나요!"]
    found = NearDuplicates(texts).similar("학생 할인 되나요")
    assert [i for i, _ in found][:2] == [0, 3] and found[0][1] == 1.0
    assert 1 in [i for i, _ in found] and 2 not in [i for i, _ in found]
    assert NearDuplicates([]).similar("뭐") == [] and NearDuplicates(["", ""]).clusters()[0].count == 2
    assert normalize("  학생,  할인?? ") == "학생 할인"
