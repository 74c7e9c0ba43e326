"""The conversation test runner itself: the YAML format and its errors, the checks (a failing check is
reported as failing, with the bot's reply and slots), the outcome checks against the reservation
store, and the reports. The bot here is a scripted stand-in driver; the real bot runs in
tests/bot/test_conversations_sample.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.conversations.checks import Heard, same_value
from bot.conversations.report import markdown, write_report
from bot.conversations.runner import RunResult, TextDriver, run_suites
from bot.conversations.services import ConversationClock, ConversationReservations
from bot.conversations.spec import ConversationSpecError, Step, load_suite, load_suites
from callbot.events import BotAction, BotReply

GOOD = """
today: 2026-12-02
reservations:
  - {store: 강남점, date: 2026-12-05, time: "18:30", party_size: 3, name: 이영희, phone: "01055556666"}
conversations:
  - name: books
    tags: [fast]
    steps:
      - user: 모레 저녁 7시에 강남점 두 명 예약해 줘
        intent: reservation_make
        slots: {store: 강남점, party_size: 2}
      - dtmf: "01098765432#"
      - user: 네
        bot_says: [예약이 완료, 예약되었습니다]
      - silence: true
    expect:
      reservation: {store: 강남점, date: 2026-12-04, time: "19:00", party_size: 2}
      handoff: false
"""


def write(tmp_path: Path, text: str, name: str = "c.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class Scripted:
    """A driver that answers each step with the next scripted reply and acts on the store like a bot."""

    def __init__(self, replies: list[Heard], act=None) -> None:  # noqa: ANN001
        self.replies = replies
        self.act = act
        self.started: list[str] = []

    async def start(self, call_id: str) -> Heard:
        self.started.append(call_id)
        self.queue = list(self.replies)
        return Heard("안녕하세요")

    async def step(self, step: Step) -> Heard:
        heard = self.queue.pop(0)
        if self.act is not None:
            self.act(step, heard)
        return heard

    async def finish(self) -> None:
        pass


def play(suite_path: Path, driver: Any) -> RunResult:
    store, clock = ConversationReservations(), ConversationClock()
    try:
        return asyncio.run(run_suites(driver, load_suites([suite_path]), store, clock))
    finally:
        store.close()


def test_a_file_is_read_into_steps_checks_and_an_outcome(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, GOOD))
    assert suite.now == dt.datetime(2026, 12, 2, 10, 0)
    assert suite.reservations[0] == {"store": "강남점", "date": "2026-12-05", "time": "18:30",
                                     "party_size": 3, "name": "이영희", "phone": "01055556666"}  # fmt: skip
    conv = suite.conversations[0]
    assert [s.kind for s in conv.steps] == ["user", "dtmf", "user", "silence"]
    assert conv.steps[0].slots == {"store": "강남점", "party_size": 2}
    assert conv.steps[2].bot_says == ("예약이 완료", "예약되었습니다")
    assert conv.expect.reservation == {
        "store": "강남점",
        "date": "2026-12-04",
        "time": "19:00",
        "party_size": 2,
    }
    assert conv.tags == ("fast",) and conv.source == "c.yml#1"


def test_every_problem_of_a_file_is_reported_at_once_with_where(tmp_path: Path) -> None:
    bad = """
today: next friday
conversations:
  - name: bad
    steps:
      - user: 안녕
        bot_say: [x]
      - dtmf: 12ab
      - user: 네
        silence: true
    expect: {reservation: {time: "25:99", phone: 1012345678}, handof: true}
  - steps: []
"""
    with pytest.raises(ConversationSpecError) as info:
        load_suite(write(tmp_path, bad))
    message = str(info.value)
    for part in [
        "today: expected a date YYYY-MM-DD",
        "conversation 1 ('bad'), step 1: unknown key 'bot_say'",
        "step 2: `dtmf` must be keys 0-9",
        "step 3: needs exactly one of user, dtmf, silence, audio",
        "expect.reservation.time: expected a time HH:MM",
        "expect.reservation.phone: expected the digits in quotes",
        "expect: unknown key 'handof'",
        "conversation 2: `name` is missing",
        "`steps` must be a non-empty list",
    ]:
        assert part in message, part
    with pytest.raises(ConversationSpecError, match="invalid YAML: month must be in 1..12"):
        load_suite(write(tmp_path, "today: 2026-13-40\nconversations: []", "d.yml"))
    with pytest.raises(ConversationSpecError, match="no such file or folder"):
        load_suites([tmp_path / "missing"])


def test_a_conversation_that_does_what_it_should_passes(tmp_path: Path) -> None:
    def book(step: Step, heard: Heard) -> None:
        if step.value == "네":
            store.make(date=dt.date(2026, 12, 4), time=dt.time(19), party_size=2, name="김철수",
                       phone="01098765432", store="강남점")  # fmt: skip

    replies = [
        Heard(
            "성함을 말씀해 주세요.", "reservation_make", "reservation", {"store": "강남점", "party_size": 2.0}
        ),
        Heard("예약해 드릴까요?"),
        Heard("예약이 완료되었습니다."),
        Heard("여보세요?"),
    ]
    store, clock = ConversationReservations(), ConversationClock()
    driver = Scripted(replies, book)
    run = asyncio.run(run_suites(driver, load_suites([write(tmp_path, GOOD)]), store, clock))
    assert run.passed == 1 and run.pass_rate == 1.0 and run.results[0].failure is None
    assert clock().date() == dt.date(2026, 12, 2)  # the file's day is the actions' clock
    assert driver.started == ["conv-c-1"]
    store.close()


@pytest.mark.parametrize(
    ("replies", "check", "step", "message"),
    [
        ([Heard("네?", "common_repeat", slots={})], "intent", 1, "expected intent reservation_make, got common_repeat"),
        ([Heard("네", "reservation_make", slots={"store": "잠실점", "party_size": 2})], "slots", 1,
         "expected slot store='강남점', got '잠실점'"),
        ([Heard("ok", "reservation_make", slots={"store": "강남점", "party_size": 2}), Heard("a"),
          Heard("다시 말씀해 주세요")], "bot_says", 3, "expected the reply to contain one of: 예약이 완료 | 예약되었습니다"),
        ([Heard("ok", "reservation_make", slots={"store": "강남점", "party_size": 2}),
          Heard("상담원에게 연결해 드리겠습니다.", actions=("handoff",))], "call_ended", 3, "the call ended (handoff)"),
        ([Heard("ok", "reservation_make", slots={"store": "강남점", "party_size": 2}), Heard("a"),
          Heard("예약이 완료"), Heard("b")], "reservation", None, "expected an active reservation"),
    ],
)  # fmt: skip
def test_a_failing_check_is_reported_as_failing_with_the_reply_and_slots(
    tmp_path: Path, replies: list[Heard], check: str, step: int | None, message: str
) -> None:
    replies = replies + [Heard("-")] * (4 - len(replies))
    run = play(write(tmp_path, GOOD), Scripted(replies))
    assert run.passed == 0 and run.pass_rate == 0.0
    failure = run.results[0].failure
    assert (failure.check, failure.step) == (check, step) and message in failure.message
    data = run.to_dict()
    assert data["conversations"] == 1 and data["passed"] == 0 and data["pass_rate"] == 0.0
    (reported,) = data["failures"]
    assert reported["check"] == check and reported["source"] == "c.yml#1"
    if step == 1 and check == "slots":
        assert reported["reply"] == "네" and reported["slots"] == {"store": "잠실점", "party_size": 2}
    json.dumps(data, ensure_ascii=False)  # scripts can read it


def test_the_same_reply_three_times_in_a_row_fails_unless_the_caller_asked_again(tmp_path: Path) -> None:
    text = """
conversations:
  - name: loop
    steps: [{user: a}, {user: b}, {user: c}]
  - name: asked again
    steps: [{user: a}, {user: 다시요}, {dtmf: "*"}]
"""
    path = write(tmp_path, text)
    run = play(path, Scripted([Heard("성함을 말씀해 주세요.")] * 3))
    first, second = run.results
    assert first.failure.check == "repeated" and first.failure.step == 3
    assert second.passed  # "*" asks for the same words again
    asked = Scripted([Heard("x"), Heard("x", "common_repeat"), Heard("x")])  # a repeat the caller asked for
    assert play(path, asked).results[0].passed


def test_outcome_checks_read_only_what_the_conversation_did(tmp_path: Path) -> None:
    text = """
reservations:
  - {store: 강남점, date: 2026-12-05, time: "18:30", party_size: 3, name: 이영희, phone: "01055556666"}
conversations:
  - name: cancels
    steps: [{user: 취소}]
    expect: {cancelled: "01055556666", no_reservation: true, hangup: false}
  - name: seeded rows are fresh for every conversation and not this conversation's work
    steps: [{user: 확인}]
    expect: {no_reservation: true}
"""
    store = ConversationReservations()

    def cancel(step: Step, heard: Heard) -> None:
        if step.value == "취소":
            store.cancel(store.find_by_phone("01055556666").id)

    run = asyncio.run(
        run_suites(Scripted([Heard("취소되었습니다")], cancel), load_suites([write(tmp_path, text)]),
                   store, ConversationClock())
    )  # fmt: skip
    assert [r.passed for r in run.results] == [True, True]
    assert store.find_by_phone("01055556666") is not None  # the second conversation got a fresh store
    store.close()


def test_reports_give_the_rate_per_file_and_tag_and_each_failure_with_the_exchange(tmp_path: Path) -> None:
    run = play(write(tmp_path, GOOD), Scripted([Heard("네?", "common_repeat")] + [Heard("-")] * 3))
    text = markdown(run)
    assert "**passed 0 of 1 (0.0%)**" in text and "| c.yml | 0 | 1 | 0% |" in text
    assert "### books (c.yml#1)" in text and "**intent** at step 1" in text
    assert "> **caller:** 모레 저녁 7시에 강남점 두 명 예약해 줘" in text and "> bot: 네?" in text
    path = write_report(run, tmp_path / "out" / "report.md")
    assert path.read_text(encoding="utf-8") == text.replace(
        text.splitlines()[2], path.read_text(encoding="utf-8").splitlines()[2]
    )


def test_slot_values_compare_as_a_caller_means_them() -> None:
    assert same_value(2, 2.0) and same_value("2", 2) and same_value(" 강남점", "강남점")
    assert not same_value("01012345678", 1012345678) and not same_value(None, "x") and same_value(None, None)


def test_the_text_driver_plays_keys_one_by_one_and_counts_silences_like_a_call() -> None:
    class Bot:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def new_session(self, call_id: str) -> Any:
            return call_id

        async def greet(self, session: Any) -> BotReply:
            return BotReply("안녕하세요")

        async def handle(self, session: Any, event: Any) -> BotReply:
            self.events.append(event)
            return BotReply("" if getattr(event, "digit", "#") != "#" else "확인", slots={"x": 1})

        async def end_session(self, session: Any) -> None:
            self.events.append("ended")

    bot = Bot()
    driver = TextDriver(bot)

    async def go() -> list[Heard]:
        await driver.start("c1")
        out = [await driver.step(Step("dtmf", "12#"))]
        out += [await driver.step(Step("silence")) for _ in range(3)]
        await driver.finish()
        return out

    keys, s1, s2, s3 = asyncio.run(go())
    assert [getattr(e, "digit", e) for e in bot.events[:3]] == ["1", "2", "#"] and keys.text == "확인"
    assert s3.actions == ("hangup",) and "통화를 종료" in s3.text  # the call gives up after 2 reprompts
    assert bot.events[-1] == "ended" and keys.slots == {"x": 1}
    assert BotAction.HANGUP.value in s3.actions
