import unicodedata

from data.clean import dedupe_key, for_training, normalize


def test_nfd_jamo_become_nfc_syllables():
    nfd = unicodedata.normalize("NFD", "예약하고 싶어요")
    assert nfd != "예약하고 싶어요"
    assert normalize(nfd) == "예약하고 싶어요"


def test_whitespace_and_invisible_characters():
    assert normalize("  예약\u200b 하고\t\n싶어요  ") == "예약 하고 싶어요"
    assert normalize("\ufeff주차 돼요?") == "주차 돼요?"


def test_training_text_has_no_entity_markup():
    assert for_training("[강남점] 주차 {무료}?") == "(강남점) 주차 (무료)?"


def test_dedupe_key_ignores_spacing_and_final_punctuation():
    assert dedupe_key("주차 돼요?") == dedupe_key("주차돼요") == dedupe_key("주차 돼요 ?!")
    assert dedupe_key("주차 돼요") != dedupe_key("주차 안 돼요")
