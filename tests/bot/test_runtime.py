"""The dialogue runtime with real tiny Rasa models: router + reservation (with a form) + store + common."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from callbot.events import BotAction, Dtmf, Silence, TurnOutcome, UserText
from tests.bot.runtime_models import copy_version, shared_bot

pytestmark = pytest.mark.slow


def model_cache(request: pytest.FixtureRequest) -> Path:
    """Trained tiny models persist between runs (keyed by a hash of their training data)."""
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


def test_greeting_then_a_question_answered_by_its_domain(tiny):
    bot, _ = tiny
    assert bot.domains == ["reservation", "store", "common"]
    session = bot.new_session("call-greet")
    greeting = asyncio.run(bot.greet(session))
    assert greeting.text == "안녕하세요, 맛있는 식당입니다. 무엇을 도와드릴까요?"
    assert greeting.fixed and greeting.domain == "common"
    (hours,) = talk(bot, session, "영업시간 알려주세요")
    assert hours.text == "영업시간은 오전 11시부터 오후 10시까지입니다."
    assert (hours.domain, hours.intent, hours.fixed) == ("store", "store_hours", True)
    assert hours.confidence >= 0.4 and hours.action is BotAction.NONE
    assert session.answer_domain is None  # a fixed answer asks nothing: the next "네" is not its answer


def test_a_form_completes_over_several_turns_and_yes_stays_in_the_domain(tiny):
    bot, folder = tiny
    session = bot.new_session("call-form")
    ask, confirm, done = talk(bot, session, "예약하고 싶어요", "4명이요", "네")
    assert ask.text == "몇 분이 오시나요?" and ask.domain == "reservation"
    assert confirm.text == "4명으로 예약할까요?"
    assert confirm.slots == {"party_size": "4"} and not confirm.fixed  # filled from a slot: not cacheable
    # "네" is a common intent, but inside the form it goes to the reservation model and its action
    assert (done.domain, done.intent) == ("reservation", "common_affirm")
    assert done.text == "4명으로 예약했습니다."
    assert (folder / "reserved.txt").read_text(encoding="utf-8") == "4"  # the in-process custom action ran
    assert session.sticky_domain is None and session.failures == 0
    # The domain's own (non-fixed) reply may be a question: a following yes/no goes back to it.
    assert session.answer_domain == "reservation"


def test_a_number_keyed_then_hash_and_2_for_no_inside_the_form(tiny):
    bot, _ = tiny
    session = bot.new_session("call-keys")
    ask, refusal, again = talk(bot, session, "예약할게요", "오늘 주식 어때요", "오늘 주식 어때요")
    assert ask.text == "몇 분이 오시나요?"
    # out of scope inside the form: refused, and the open question is asked again
    assert refusal.text == "죄송하지만 그 문의는 도와드리기 어렵습니다. 몇 분이 오시나요?"
    assert again.text == refusal.text and session.sticky_domain == "reservation"
    buffered, confirm, cancelled = talk(bot, session, Dtmf("5"), Dtmf("#"), Dtmf("2"))
    assert buffered.text == ""  # a digit is buffered until #
    assert confirm.text == "5명으로 예약할까요?" and confirm.slots["party_size"] == 5
    assert cancelled.text == "예약을 취소했습니다." and cancelled.intent == "common_deny"


def test_repeat_out_of_scope_and_goodbye(tiny):
    bot, _ = tiny
    session = bot.new_session("call-misc")
    where, again, refusal, bye = talk(
        bot, session, "위치 알려주세요", "다시 말해 주세요", "오늘 주식 어때요", "끊을게요"
    )
    assert where.text == "저희 가게는 강남역 2번 출구 앞에 있습니다."
    assert again.text == where.text
    assert refusal.text == "죄송하지만 그 문의는 도와드리기 어렵습니다."  # the common domain's answer
    assert refusal.intent == "common_out_of_scope" and refusal.fixed
    assert bye.text == "감사합니다. 좋은 하루 보내세요." and bye.action is BotAction.HANGUP


def test_each_text_reply_says_how_it_was_read_for_the_call_log(tiny):
    bot, _ = tiny
    session = bot.new_session("call-understood")
    where, refusal, booking, party = talk(
        bot, session, "위치 알려주세요", "오늘 주식 어때요", "예약할게요", "4명이요"
    )
    read = where.understanding
    assert read.outcome is TurnOutcome.ACCEPTED and read.version == bot.version
    assert read.router_domain == "store" and read.router_confidence >= 0.5
    assert read.ranking[0][0] == "store_location" and len(read.ranking) <= 3
    assert read.ranking == tuple(sorted(read.ranking, key=lambda r: -r[1]))
    assert read.text == ""  # the models read what was heard
    assert refusal.understanding.outcome is TurnOutcome.REFUSED
    assert booking.understanding.outcome is TurnOutcome.ACCEPTED
    assert party.understanding.outcome is TurnOutcome.FORM  # the form judged the answer
    assert party.understanding.router_domain is None  # a sticky form: the router was not asked
    heard = "여보세요 안녕하세요 위치 알려주세요"
    greeted = talk(bot, bot.new_session("call-greeted"), heard)[0]
    # what the models read (a greeting dropped), beside what was heard
    assert greeted.understanding.text.endswith("위치 알려주세요") and greeted.understanding.text != heard
    (keyed,) = talk(bot, session, Dtmf("5"))
    assert keyed.understanding is None  # keys are not read by the models


def test_failures_escalate_to_the_keypad_menu_whose_digits_pick_a_domain(tiny):
    bot, _ = tiny
    session = bot.new_session("call-lost")
    clarify, menu = talk(bot, session, Silence(), Silence())
    assert clarify.text.endswith("예약, 매장 안내 중 어떤 걸 도와드릴까요?")
    assert "예약은 1번, 매장 안내는 2번" in menu.text and session.keypad_menu and session.failures == 2
    picked, answer = talk(bot, session, Dtmf("2"), "위치 알려주세요")
    assert picked.domain == "store" and session.failures == 0
    assert answer.text == "저희 가게는 강남역 2번 출구 앞에 있습니다."
    lost = talk(bot, session, Silence(), Silence(), Silence())
    assert lost[-1].action is BotAction.HANDOFF and session.failures == 3


def test_zero_hands_off_and_agent_request_hands_off(tiny):
    bot, _ = tiny
    session = bot.new_session("call-agent")
    keyed, spoken = talk(bot, session, Dtmf("0"), "상담원 연결해 주세요")
    assert keyed.action is BotAction.HANDOFF and spoken.action is BotAction.HANDOFF
    assert spoken.intent == "common_agent"


def test_end_session_forgets_the_dialogue(tiny):
    bot, _ = tiny
    session = bot.new_session("call-end")
    talk(bot, session, "예약하고 싶어요")
    assert session.sticky_domain == "reservation"
    asyncio.run(bot.end_session(session))
    fresh = bot.new_session("call-end")
    (reply,) = talk(bot, fresh, "4명이요")
    assert reply.text != "4명으로 예약할까요?"  # the form of the ended call is gone


def test_reload_during_a_session_keeps_its_state(tiny):
    bot, folder = tiny
    session = bot.new_session("call-reload")
    (ask,) = talk(bot, session, "예약하고 싶어요")
    assert ask.text == "몇 분이 오시나요?"
    copy_version(folder / "models", "v-tiny-2")
    assert asyncio.run(bot.reload()) == "v-tiny-2" and bot.version == "v-tiny-2"
    (confirm,) = talk(bot, session, "3명이요")
    assert confirm.text == "3명으로 예약할까요?"
    assert asyncio.run(bot.reload()) == "v-tiny-2"  # same version: nothing reloaded


def test_a_broken_turn_hands_the_call_over_instead_of_crashing(tiny, monkeypatch, caplog):
    bot, _ = tiny

    async def broken(text):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(bot._current.router, "parse_message", broken)
    session = bot.new_session("call-broken")
    (reply,) = talk(bot, session, "영업시간 알려주세요")
    assert reply.action is BotAction.HANDOFF and reply.text.startswith("죄송합니다")
    assert "bot.turn.failed call=call-broken" in caplog.text


def test_a_question_left_unanswered_three_times_goes_to_a_person(tiny):
    bot, _ = tiny
    session = bot.new_session("call-misses")
    ask, first, second, third = talk(
        bot, session, "예약할게요", "오늘 주식 어때요", "축구 경기 결과 알려줘", "날씨 어때"
    )
    assert ask.text == "몇 분이 오시나요?"
    assert first.text.endswith("몇 분이 오시나요?") and first.action is BotAction.NONE
    assert second.text.endswith("몇 분이 오시나요?") and second.action is BotAction.NONE
    assert session.slot_misses == 3 and session.missed_slot == "party_size"
    assert (
        third.action is BotAction.HANDOFF
        and third.text == "상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요."
    )


def test_silence_inside_a_form_asks_its_question_again(tiny):
    bot, _ = tiny
    session = bot.new_session("call-quiet")
    ask, quiet = talk(bot, session, "예약할게요", Silence())
    assert quiet.text == f"여보세요? {ask.text}" and session.failures == 0


def test_the_same_reply_is_never_said_three_times_in_a_row(tiny):
    bot, _ = tiny
    session = bot.new_session("call-same")
    replies = talk(bot, session, "영업시간 알려주세요", "영업시간 알려주세요", "영업시간 알려주세요")
    assert replies[0].text == replies[1].text and replies[1].action is BotAction.NONE
    assert replies[2].action is BotAction.HANDOFF  # a loop the caller cannot leave goes to a person
    again = talk(bot, session, "다시 말해 주세요")[0]  # asking for it again is not such a loop
    assert again.intent == "common_repeat"


def asking_before_ending(bot, monkeypatch, below: float = 1.0) -> None:
    """Every goodbye or request for a person counts as unsure (below 1.0): the bot asks first."""
    monkeypatch.setattr(bot, "routing", replace(bot.routing, confirm_end_below=below))


def test_an_unsure_goodbye_is_asked_about_and_yes_ends_the_call(tiny, monkeypatch):
    bot, _ = tiny
    asking_before_ending(bot, monkeypatch)
    session = bot.new_session("call-unsure-bye")
    asked, bye = talk(bot, session, "끊을게요", "네")
    assert asked.text == "통화를 종료할까요?" and asked.action is BotAction.NONE
    assert asked.intent == "common_goodbye" and session.pending_end is None  # consumed by the "네"
    assert bye.text == "감사합니다. 좋은 하루 보내세요." and bye.action is BotAction.HANGUP


def test_no_to_the_question_keeps_the_call_and_the_next_yes_ends_nothing(tiny, monkeypatch):
    bot, _ = tiny
    asking_before_ending(bot, monkeypatch)
    session = bot.new_session("call-unsure-no")
    asked, kept, where, yes = talk(bot, session, "끊을게요", "아니요", "위치 알려주세요", "네")
    assert asked.text == "통화를 종료할까요?"
    assert kept.text == "네, 계속 도와드릴게요. 무엇을 도와드릴까요?" and kept.action is BotAction.NONE
    assert where.text == "저희 가게는 강남역 2번 출구 앞에 있습니다."
    assert yes.action is BotAction.NONE  # the question was answered: a later yes ends nothing


def test_a_caller_who_goes_on_after_the_question_is_simply_answered(tiny, monkeypatch):
    bot, _ = tiny
    asking_before_ending(bot, monkeypatch)
    session = bot.new_session("call-unsure-agent")
    asked, where, yes = talk(bot, session, "상담원 연결해 주세요", "위치 알려주세요", "네")
    assert asked.text == "상담원에게 연결해 드릴까요?" and asked.action is BotAction.NONE
    assert where.text == "저희 가게는 강남역 2번 출구 앞에 있습니다." and where.action is BotAction.NONE
    assert yes.action is BotAction.NONE and session.pending_end is None


def test_silence_or_repeat_after_the_question_asks_it_again_then_yes_hands_off(tiny, monkeypatch):
    bot, _ = tiny
    asking_before_ending(bot, monkeypatch)
    session = bot.new_session("call-unsure-silence")
    asked, hello, hello_again, again, yes = talk(
        bot, session, "상담원 연결해 주세요", Silence(), Silence(), "다시 말해 주세요", "네"
    )
    assert asked.text == "상담원에게 연결해 드릴까요?"
    assert hello.text == "여보세요? 상담원에게 연결해 드릴까요?" and hello.action is BotAction.NONE
    assert hello_again.text == hello.text  # not "여보세요? 여보세요? ..."
    assert again.text == hello.text and again.action is BotAction.NONE
    assert yes.action is BotAction.HANDOFF and yes.intent == "common_agent"


def test_a_sure_ending_is_not_asked_about(tiny, monkeypatch):
    bot, _ = tiny
    asking_before_ending(bot, monkeypatch, below=0.0)  # 0: never ask
    session = bot.new_session("call-sure-bye")
    (bye,) = talk(bot, session, "끊을게요")
    assert bye.action is BotAction.HANGUP and session.pending_end is None


def test_a_greeting_before_the_request_does_not_hide_the_request(tiny):
    bot, _ = tiny
    session = bot.new_session("call-hello-first")
    where, stocks, hello = talk(
        bot,
        session,
        "여보세요 안녕하세요 위치 알려주세요",
        "안녕하세요 오늘 주식 어때요",
        "안녕하세요 안녕하세요",
    )
    # the whole turn is taken for a greeting (1.0); its rest, after two greetings, is the question
    assert where.text == "저희 가게는 강남역 2번 출구 앞에 있습니다." and where.domain == "store"
    assert stocks.domain in (None, "common")  # what follows the greeting is still out of scope
    assert hello.intent == "common_greet"  # only greetings: greeted back
