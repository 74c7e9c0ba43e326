"""The bot's own words: what a misheard word was meant to be, business evidence, topic names."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bot.nlu.vocabulary import Vocabulary, VocabularyError, build_for_version, confusions_from_errors
from data.augment.asr_errors import ErrorModel

EXAMPLES = [
    ("할인 되나요", "menu_discount"),
    ("학생 할인 있어요", "menu_discount"),
    ("쿠폰 할인 받을 수 있나요", "menu_discount"),
    ("배달 되나요", "delivery_availability"),
    ("배달 가능한 지역 알려 주세요", "delivery_availability"),
    ("주차 되나요", "store_parking"),
    ("주차장 있어요", "store_parking"),
    ("강남점 주차 몇 시간 무료예요", "store_parking"),
    ("확인 좀 해 주세요 예약 확인", "reservation_check"),
    ("예약 확인하고 싶어요", "reservation_check"),
    ("분실물 찾으려고요", "service_lost_item"),
    ("영업시간 알려 주세요", "store_hours"),
    ("오늘 날씨 어때", "common_out_of_scope"),
    ("오늘 기분 어때", "common_out_of_scope"),
    ("주식 시세 알려 줘", "common_out_of_scope"),
    ("아파트 주차 문의", "common_out_of_scope"),
]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.build(EXAMPLES, lambda i: i.endswith("out_of_scope"), ["샐러드 파스타"])


def readings(vocabulary: Vocabulary, text: str) -> list[str]:
    return [reading for reading, _ in vocabulary.corrected(text)]


def test_an_unknown_word_one_jamo_from_a_business_word_is_read_as_it(vocabulary):
    assert readings(vocabulary, "학생 활인 되나요")[0] == "학생 할인 되나요"  # a vowel
    assert readings(vocabulary, "그거 대달 돼요")[0] == "그거 배달 돼요"  # an initial
    assert readings(vocabulary, "셀러드 있어요")[0] == "샐러드 있어요"  # a word of the company's files
    # a longer word may be one syllable off
    assert readings(vocabulary, "분샘물 찾으려면요")[0] == "분실물 찾으려면요"
    ((fix,),) = [fixes for _, fixes in vocabulary.corrected("학생 활인 되나요")][:1]
    assert (fix.heard, fix.word, fix.start, fix.end) == ("활인", "할인", 3, 5)


def test_a_particle_said_with_the_word_is_allowed_for(vocabulary):
    # 주차는 -> "주찬": the ㄴ of the particle rides on the last syllable
    assert readings(vocabulary, "강남점 주찬 몇 시간")[0] == "강남점 주차 몇 시간"


def test_known_words_and_far_words_are_never_changed(vocabulary):
    assert vocabulary.corrected("오늘 기분 어때") == []  # every word is known
    assert vocabulary.corrected("주식 시세 알려 줘") == []
    assert vocabulary.corrected("고양이 사진") == []  # unknown, but near no business word
    assert readings(vocabulary, "할머니 댁") == []
    # a reading is only a candidate: "배탈" one jamo from 배달 is offered, the models judge it
    assert readings(vocabulary, "배탈 났어요")[0] == "배달 났어요"


def test_the_learned_confusions_make_a_common_mishearing_cheaper(vocabulary):
    model = ErrorModel()
    model.jamo["medial"][0] = Counter({9: 8, 4: 1})  # ㅏ heard as ㅘ 8 times, as ㅓ once
    pairs = confusions_from_errors(model, share=0.5)
    assert pairs == [("\u1161", "\u116a")]  # (ㅏ said, ㅘ heard); the rare ㅓ is not a confusion
    weighed = Vocabulary.build(EXAMPLES, lambda i: i.endswith("out_of_scope"), confusions=pairs)
    assert [f.cost for _, (f,) in weighed.corrected("학생 활인")] < [
        f.cost for _, (f,) in vocabulary.corrected("학생 활인")
    ]
    # final 0 means "no final consonant": not a jamo confusion
    model.jamo["final"][0] = Counter({4: 10})
    assert all(a != "\u11a7" for a, _ in confusions_from_errors(model, share=0.5))


def test_business_evidence_is_a_telling_business_word_not_an_everyday_one(vocabulary):
    said = vocabulary.evidence("학생 할인 되나요")
    assert [(e.word, e.intents, e.corrected_from) for e in said] == [("할인", ("menu_discount",), "")]
    misheard = vocabulary.evidence("학생 활인 되나요")
    assert [(e.word, e.corrected_from) for e in misheard] == [("할인", "활인")]
    assert vocabulary.evidence("오늘 날씨 어때") == []  # 오늘 and 날씨 are chit-chat words here
    assert not vocabulary.is_business("오늘") and vocabulary.is_business("배달")
    assert not vocabulary.is_business("분실물")  # one example is no evidence
    assert vocabulary.is_business("샐러드")  # the company's files: its own words


def test_each_intent_is_named_by_its_most_telling_word(vocabulary):
    assert vocabulary.topic("menu_discount") == "할인"
    assert vocabulary.topic("delivery_availability") == "배달"
    assert vocabulary.topic("service_lost_item") is None  # one example says nothing telling
    assert vocabulary.topic("common_out_of_scope") is None
    assert "주차" in vocabulary.telling["store_parking"] and len(vocabulary.telling["store_parking"]) <= 5


def test_a_vocabulary_is_saved_and_read_back(vocabulary, tmp_path):
    path = tmp_path / "vocabulary.json"
    vocabulary.save(path)
    again = Vocabulary.load(path)
    assert again.to_json() == vocabulary.to_json()
    assert readings(again, "그거 대달 돼요") == readings(vocabulary, "그거 대달 돼요")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(VocabularyError, match="vocabulary.json: not a readable vocabulary"):
        Vocabulary.load(path)


def test_the_training_run_builds_it_once_per_input(tmp_path):
    examples = tmp_path / "examples.csv"
    rows = ["text,intent,domain,kind,source,split"]
    rows += [f"{t},{i},x,real,qna,train" for t, i in EXAMPLES]
    rows += [
        "배달 되나요,delivery_availability,x,casual,qna,train",
        "쿠폰 있나,menu_discount,x,real,qna,test",
    ]
    examples.write_text("\n".join(rows) + "\n", encoding="utf-8")
    menu = tmp_path / "menu.csv"
    menu.write_text("name,price\n리조또,15000\n", encoding="utf-8")
    cache = tmp_path / "cache"
    built = build_for_version(examples, [menu], None, lambda i: i.endswith("out_of_scope"), cache)
    assert "리조또" in built.business and "쿠폰" in built.business  # menu words; train examples
    assert "쿠폰있나" not in built.known  # the test split is not read
    (cached,) = cache.glob("vocabulary-*.json")
    assert json.loads(cached.read_text(encoding="utf-8")) == built.to_json()
    cached.write_text(json.dumps({**built.to_json(), "telling": {"marker": ["x"]}}), encoding="utf-8")
    again = build_for_version(examples, [menu], None, lambda i: i.endswith("out_of_scope"), cache)
    assert again.telling == {"marker": ("x",)}  # read from the cache, not built again
    menu.write_text("name,price\n뇨끼,15000\n", encoding="utf-8")
    rebuilt = build_for_version(examples, [menu], None, lambda i: i.endswith("out_of_scope"), cache)
    assert "뇨끼" in rebuilt.business and len(list(cache.glob("vocabulary-*.json"))) == 1


def test_the_vocabulary_knows_how_long_business_questions_are_whatever_their_spacing():
    from bot.nlu.vocabulary import letters

    assert letters("학생 할인 되나요?") == letters("학생할인되나요") == 7
    assert letters("PT 3회") == 4
    lengths = [letters(text) for text, intent in EXAMPLES if not intent.endswith("out_of_scope")]
    built = Vocabulary.build(EXAMPLES, lambda i: i.endswith("out_of_scope"))
    assert built.longest == max(lengths)  # 99% of 12 examples: all of them; chit-chat is not counted
    many = [(f"할인 {'되나요 ' * (i % 5)}", "menu_discount") for i in range(1000)]
    long_one = [("할인 " + "정말 " * 40, "menu_discount")]  # one story among a thousand questions
    assert Vocabulary.build(many + long_one, lambda i: False).longest == letters("할인 " + "되나요 " * 4)
    assert Vocabulary.from_json(built.to_json()).longest == built.longest
    assert Vocabulary.from_json({}).longest == 0  # a vocabulary of an earlier version: no limit
