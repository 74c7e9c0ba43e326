"""The band's rule (`bot.misheard.settle`), pure: what is answered, asked about or refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.misheard import Candidate, ConfirmSettings, Reading, Rereading, settle
from bot.nlu.decision import Decision
from callbot.config import Config, ConfigError

REFUSED = Decision("common", "common_out_of_scope", 0.8, True, "out of scope")
SETTINGS = ConfirmSettings(max_length=20)


def keyword(intent: str, text: str) -> Candidate:
    return Candidate(intent, "menu", 0.95, text)


def test_a_short_turn_with_a_telling_word_is_asked_about():
    evidence = Rereading(keywords=(keyword("menu_discount", "학생 할인 되나요"),))
    reading, asking = settle(REFUSED, evidence, SETTINGS, length=7)
    assert reading is None and [c.intent for c in asking] == ["menu_discount"]


def test_a_turn_longer_than_business_questions_is_refused_unless_another_reading_is_sure():
    story = "어제 본 영화에서 주인공이 할인 매장에 가서 옷을 사는 장면이 제일 재미있었어요"
    evidence = Rereading(keywords=(keyword("menu_discount", story),))
    assert settle(REFUSED, evidence, SETTINGS, length=30) == (None, [])
    assert settle(REFUSED, evidence, replace(SETTINGS, max_length=0), length=30)[1]  # 0: any length
    sure = Reading(story, None, None, Decision("menu", "menu_discount", 0.97, False, ""))
    rescued = Rereading(rescued=((sure, Candidate("menu_discount", "menu", 0.97, story)),))
    assert settle(REFUSED, rescued, SETTINGS, length=30) == (sure, [])


def test_max_length_is_auto_a_number_of_letters_or_a_clear_error(tmp_path):
    def read(value):
        config = Config(tmp_path / "callbot.yml", {"bot": {"confirm": {"max_length": value}}})
        return ConfirmSettings.from_config(config).max_length

    assert read("auto") is None and read(25) == 25 and read(0) == 0
    with pytest.raises(ConfigError, match="bot.confirm.max_length"):
        read("long")
    with pytest.raises(ConfigError, match="bot.confirm.max_length"):
        read(-3)
    with pytest.raises(ConfigError, match="bot.confirm.max_length"):
        read(True)  # YAML's yes is not a length
