"""Misheard turns with the real tiny models: read again, asked about instead of refused, and answered."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path

import pytest

from callbot.events import Dtmf, KeypadPause, TurnOutcome, UserText
from tests.bot.runtime_models import shared_bot

pytestmark = pytest.mark.slow


def model_cache(request: pytest.FixtureRequest) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("callbot-bot-runtime"))
    return Path(tempfile.gettempdir()) / "callbot-bot-runtime"


@pytest.fixture(scope="module")
def tiny(request, tmp_path_factory):
    return shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))


def talk(bot, session, *events):
    async def go():
        return [await bot.handle(session, e if not isinstance(e, str) else UserText(e)) for e in events]

    return asyncio.run(go())


def always_ask(bot, monkeypatch):
    """No other reading is sure enough to be answered at once: every rescue becomes a question."""
    monkeypatch.setattr(bot, "confirm", dataclasses.replace(bot.confirm, accept_rescued=1.01))


def test_a_misheard_business_word_is_read_as_the_word_and_answered(tiny):
    bot, _ = tiny
    (hours,) = talk(bot, bot.new_session("mis-hours"), "여업시감 궁금해")
    assert hours.text == "영업시간은 오전 11시부터 오후 10시까지입니다."
    read = hours.understanding
    assert read.outcome is TurnOutcome.ACCEPTED and read.text == "영업시간 궁금해"  # beside what was heard


def test_words_the_recognizer_split_or_joined_are_read_as_the_caller_spaced_them(tiny):
    bot, _ = tiny
    heard = "영 업시간궁 금해"  # the recognizer's spacing, not the caller's
    (hours,) = talk(bot, bot.new_session("mis-spaced"), heard)
    assert hours.text == "영업시간은 오전 11시부터 오후 10시까지입니다."
    assert hours.understanding.outcome is TurnOutcome.ACCEPTED
    assert (
        hours.understanding.text == "영업시간 궁금해"
    )  # only the spaces moved; the heard text is logged too
    readings = bot._other_texts(bot.loaded, "배 달얼마나 걸려", ())
    assert readings[0] == "배달 얼마나 걸려"


def test_a_respacing_that_changes_a_letter_is_not_another_reading(tiny, monkeypatch):
    bot, _ = tiny
    monkeypatch.setattr("bot.misheard.respaced", lambda text: "영업시간 궁금해")
    assert "영업시간 궁금해" not in bot._other_texts(bot.loaded, "오늘 날씨 좋네", ())
    monkeypatch.setattr("bot.misheard.respaced", lambda text: text.replace(" ", ""))
    assert "오늘날씨좋네" in bot._other_texts(bot.loaded, "오늘 날씨 좋네", ())


def test_the_recognizers_other_hypotheses_are_read_again_past_its_own_text(tiny):
    bot, _ = tiny
    assert bot.confirm.alternatives == 2
    heard = (
        ("오늘 날씨 좋네요", 0.5),
        ("오늘 날씨 좋네", 0.3),
        ("영업시간 궁금해", 0.2),
    )  # its own text first
    (refused,) = talk(bot, bot.new_session("mis-nbest-1"), UserText(heard[0][0], 0.5, heard[:2]))
    assert refused.understanding.outcome is TurnOutcome.REFUSED
    (hours,) = talk(bot, bot.new_session("mis-nbest-3"), UserText(heard[0][0], 0.5, heard))
    assert hours.text == "영업시간은 오전 11시부터 오후 10시까지입니다."
    assert hours.understanding.text == "영업시간 궁금해"


def test_unsure_turns_are_asked_about_and_yes_answers_them(tiny, monkeypatch):
    bot, _ = tiny
    always_ask(bot, monkeypatch)
    session = bot.new_session("mis-yes")
    asked, answer = talk(bot, session, "여업시감 궁금해", "네")
    assert asked.text.endswith("문의 맞으세요?") and asked.intent == "store_hours"
    assert asked.understanding.outcome is TurnOutcome.CONFIRM_ASKED
    assert asked.understanding.confirm == ("store_hours",)
    assert answer.text == "영업시간은 오전 11시부터 오후 10시까지입니다."
    assert answer.understanding.outcome is TurnOutcome.CONFIRM_YES and session.pending_confirm is None


def test_no_to_the_question_asks_to_say_it_again_and_counts_as_not_understood(tiny, monkeypatch):
    bot, _ = tiny
    always_ask(bot, monkeypatch)
    session = bot.new_session("mis-no")
    asked, declined = talk(bot, session, "여업시감 궁금해", "아니요")
    assert asked.understanding.outcome is TurnOutcome.CONFIRM_ASKED
    assert declined.text == bot.routing.texts.confirm_declined
    assert declined.understanding.outcome is TurnOutcome.CONFIRM_NO and session.failures == 1
    (again,) = talk(bot, session, "여업시감 궁금해")  # asked again, not refused
    assert again.understanding.outcome is TurnOutcome.CONFIRM_ASKED


def test_anything_else_after_the_question_is_an_ordinary_turn(tiny, monkeypatch):
    bot, _ = tiny
    always_ask(bot, monkeypatch)
    session = bot.new_session("mis-other")
    asked, where = talk(bot, session, "여업시감 궁금해", "위치 알려주세요")
    assert asked.understanding.outcome is TurnOutcome.CONFIRM_ASKED
    assert where.text == "저희 가게는 강남역 2번 출구 앞에 있습니다."
    assert where.understanding.outcome is TurnOutcome.ACCEPTED and session.pending_confirm is None


def test_chit_chat_without_business_evidence_is_still_refused(tiny, monkeypatch):
    bot, _ = tiny
    always_ask(bot, monkeypatch)
    for text in ("오늘 주식 어때요", "노래 불러줘"):
        (reply,) = talk(bot, bot.new_session("mis-chat"), text)
        assert reply.understanding.outcome is TurnOutcome.REFUSED, text
        assert reply.text == "죄송하지만 그 문의는 도와드리기 어렵습니다."


def test_a_story_longer_than_the_business_questions_is_not_asked_about(tiny, monkeypatch):
    bot, _ = tiny
    always_ask(bot, monkeypatch)
    story = "어제 친구랑 주식 이야기를 한참 하다가 노래를 불렀는데 영업시간 얘기가 나왔어요"
    assert bot.confirm.max_length is None  # auto: read from the version's business examples
    assert 0 < bot.limits(bot.loaded).max_length < len(story.replace(" ", ""))
    (reply,) = talk(bot, bot.new_session("mis-story"), story)
    assert reply.understanding.outcome in (TurnOutcome.REFUSED, TurnOutcome.NOT_UNDERSTOOD)
    monkeypatch.setattr(bot, "confirm", dataclasses.replace(bot.confirm, max_length=0))  # any length
    (asked,) = talk(bot, bot.new_session("mis-story-any"), story)
    assert asked.understanding.outcome is TurnOutcome.CONFIRM_ASKED and asked.intent == "store_hours"


def test_with_the_band_off_a_misheard_word_is_not_read_again(tiny, monkeypatch):
    bot, _ = tiny
    monkeypatch.setattr(bot, "confirm", dataclasses.replace(bot.confirm, enabled=False))
    (reply,) = talk(bot, bot.new_session("mis-off"), "여업시감 궁금해")
    assert reply.understanding.outcome in (TurnOutcome.REFUSED, TurnOutcome.NOT_UNDERSTOOD)
    assert reply.understanding.text == ""


def test_a_number_keyed_without_hash_is_taken_after_the_pause(tiny):
    bot, _ = tiny
    session = bot.new_session("mis-keys")
    ask, kept, confirm = talk(bot, session, "예약할게요", Dtmf("5"), KeypadPause())
    assert ask.text == "몇 분이 오시나요?" and kept.text == ""  # a digit is kept for the number
    assert confirm.text == "5명으로 예약할까요?"
    (nothing,) = talk(bot, session, KeypadPause())  # nothing keyed: the pause says nothing
    assert nothing.text == ""
