"""The sample's reservation forms, turn by turn, with the sample's store table (issue 13, section 2):
bare answers, several slots at once, corrections, what is no answer, leaving and restarting, the store
table's checks, misses, and change / cancel / look-up by phone with a read-back."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.reservations import ReservationStore
from bot.stores import StoreDirectory
from tests.bot.test_actions import NOW, SAMPLE, Context, domain, load_sample_actions, make_tracker, run

DOMAIN = domain("reservation")
FULL = {"store": "명동점", "date": "2026-11-28", "time": "19:00", "party_size": 5, "name": "김철수",
        "phone": "01012345678"}  # fmt: skip


@pytest.fixture
def sample(tmp_path: Path) -> Context:
    db = ReservationStore(f"sqlite:///{tmp_path / 'callbot.db'}")
    yield Context(config=None, reservations=db, stores=StoreDirectory.from_csv(SAMPLE / "stores.csv"))
    db.close()


@pytest.fixture
def acts(sample: Context) -> dict[str, Any]:
    return {a.name(): a for a in load_sample_actions().create_actions(sample, clock=lambda: NOW)}


def turn(
    acts: dict[str, Any],
    text: str,
    requested: str | None = None,
    slots: dict[str, Any] | None = None,
    intent: str = "reservation_make",
    form: str = "reservation_form",
) -> tuple[dict[str, Any], list[str], list[dict]]:
    """One caller turn judged by the form's validation action (at activation when nothing is asked)."""
    candidates = {requested: text} if requested else None  # what Rasa's mappings may have put there
    t = make_tracker(text, intent=intent, slots=slots, candidates=candidates, requested=requested,
                     loop=form if requested else None)  # fmt: skip
    return run(acts[f"validate_{form}"], t, DOMAIN)


# -- 2.1 bare answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slot", "said", "value"),
    [
        ("name", "김철수", "김철수"),
        ("name", "철수요", "철수"),
        ("name", "김철수입니다", "김철수"),
        ("phone", "공일공 일이삼사 오육칠팔", "01012345678"),
        ("phone", "공일공에 일이삼사에 오육칠팔이요", "01012345678"),
        ("date", "낼", "2026-11-28"),
        ("date", "담주 토욜", "2026-12-05"),
        ("date", "다음 달 3일이요", "2026-12-03"),
        ("date", "크리스마스", "2026-12-25"),
        ("date", "1224", "2026-12-24"),  # keyed as MMDD
        ("time", "일곱시반", "19:30"),
        ("time", "19시요", "19:00"),
        ("time", "오후 2시", "14:00"),
        ("time", "1930", "19:30"),  # keyed as HHMM
        ("party_size", "둘이요", 2),
        ("party_size", "어른 둘 애 하나", 3),
        ("party_size", "4", 4),
        ("store", "강남이요", "강남점"),
    ],
)
def test_a_bare_answer_fills_the_slot_asked_whatever_the_intent(
    acts: dict[str, Any], slot: str, said: str, value: Any
) -> None:
    before = {k: v for k, v in FULL.items() if k in ("store",)} | {"date": "2026-11-28"}
    before.pop(slot, None)
    # the intent models read names and digits as out of scope: the form decides, not the intent
    slots, messages, events = turn(acts, said, slot, before, intent="common_out_of_scope")
    assert slots[slot] == value, messages
    assert not any(e["event"] == "action_execution_rejected" for e in events)


def test_a_meal_without_an_hour_is_kept_and_the_hour_asked(acts: dict[str, Any]) -> None:
    slots, messages, _ = turn(acts, "점심 때", "time", {"store": "명동점", "date": "2026-11-28"})
    assert slots["period"] == "lunch" and slots["time"] is None and messages == []
    ask = make_tracker("", slots={"period": "lunch"})
    assert run(acts["action_ask_time"], ask, {})[1] == ["점심 몇 시로 예약해 드릴까요?"]


# -- 2.2 several slots at once ------------------------------------------------------------------------


def test_the_request_fills_every_detail_it_names(acts: dict[str, Any]) -> None:
    slots, messages, _ = turn(acts, "모레 저녁 7시에 강남점 두 명 창가 자리로 예약해 줘")
    assert slots == {"store": "강남점", "date": "2026-11-29", "time": "19:00", "party_size": 2,
                     "seating": "창가"}  # fmt: skip
    assert messages == []


def test_other_details_with_the_answer_fill_empty_slots_only(acts: dict[str, Any]) -> None:
    slots, _, _ = turn(acts, "토요일 저녁 6시 반에 네 명", "date", {"store": "명동점", "name": "김철수"})
    assert slots == {"date": "2026-11-28", "time": "18:30", "party_size": 4}
    slots, _, _ = turn(acts, "이름은 김민수고 번호는 010-2345-6789예요", "name", {"store": "명동점"})
    assert slots["name"] == "김민수" and slots["phone"] == "01023456789"


# -- 2.3 corrections ------------------------------------------------------------------------------------


def test_a_correction_while_another_question_is_open(acts: dict[str, Any]) -> None:
    before = {k: FULL[k] for k in ("store", "date", "time", "party_size")}
    slots, messages, _ = turn(acts, "아 잠깐 8시로 해줘", "name", before, intent="reservation_change")
    assert slots == {"time": "20:00", "name": None}
    assert messages == ["네, 저녁 8시로 바꿨어요."]
    slots, messages, _ = turn(acts, "아니 두 명 말고 세 명", "name", before, intent="common_deny")
    assert slots["party_size"] == 3 and messages == ["네, 3명으로 바꿨어요."]
    slots, _, _ = turn(acts, "강남 말고 잠실", "date", {"store": "강남점"})
    assert slots["store"] == "잠실점"


@pytest.mark.parametrize(
    ("said", "changed"),
    [("아니 8시로", {"time": "20:00"}), ("두 명 말고 세 명", {"party_size": 3}),
     ("명동 말고 잠실", {"store": "잠실점"}), ("아니요 이름이 김철호예요", {"name": "김철호"})],
)  # fmt: skip
def test_a_correction_at_the_read_back(acts: dict[str, Any], said: str, changed: dict[str, Any]) -> None:
    slots, _, _ = turn(acts, said, "confirmed", dict(FULL), intent="common_deny")
    assert {k: slots[k] for k in changed} == changed and slots.get("confirmed") is None
    readback = make_tracker("", slots=FULL | changed)
    assert "예약해 드릴까요?" in run(acts["action_ask_confirmed"], readback, {})[1][0]


def test_yes_and_no_at_the_read_back(acts: dict[str, Any]) -> None:
    assert turn(acts, "네 맞아요", "confirmed", dict(FULL), "common_affirm")[0]["confirmed"] is True
    assert turn(acts, "", "confirmed", dict(FULL), "common_affirm")[0]["confirmed"] is True  # keypad 1
    slots, _, _ = turn(acts, "아니요", "confirmed", dict(FULL), "common_deny")
    assert slots["correcting"] is True and slots["confirmed"] is None
    ask = run(acts["action_ask_confirmed"], make_tracker("", slots=FULL | {"correcting": True}), {})[1]
    assert ask == ["어느 부분을 바꿔 드릴까요? 예를 들어 8시로, 세 명으로처럼 말씀해 주세요."]
    slots, _, _ = turn(acts, "시간이요", "confirmed", dict(FULL) | {"correcting": True}, "common_affirm")
    assert slots["time"] is None  # the form asks the time again, then reads everything back


# -- 2.4 / 2.5 what is no answer, leaving, restarting -----------------------------------------------------


@pytest.mark.parametrize(
    ("said", "intent"),
    [("다시 말해 주세요", "common_repeat"), ("예약 취소하고 싶어", "reservation_cancel"),
     ("끊을게요", "common_goodbye"), ("아기 의자도 있나요?", "reservation_seating")],
)  # fmt: skip
def test_requests_the_rules_answer_reject_the_form(acts: dict[str, Any], said: str, intent: str) -> None:
    slots, messages, events = turn(acts, said, "date", {"store": "강남점"}, intent=intent)
    assert events[-1] == ActionExecutionRejected("reservation_form") and messages == []
    assert slots == {"date": None}  # the raw words never stay in the slot


@pytest.mark.parametrize(
    ("said", "intent"),
    [("주차는 돼?", "common_out_of_scope"), ("오늘 날씨 어때", "common_out_of_scope"),
     ("주말엔 몇 시에 열어?", "common_deny")],  # 주말 is a date, but the words ask a question
)  # fmt: skip
def test_other_domains_words_go_back_to_the_runtime(acts: dict[str, Any], said: str, intent: str) -> None:
    t = make_tracker(
        said, intent=intent, slots={"store": "강남점"}, requested="date", loop="reservation_form"
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(acts["validate_reservation_form"].run(dispatcher, t, DOMAIN))
    assert dispatcher.messages[0]["custom"] == {"callbot": "elsewhere"}
    assert events == [SlotSet("date", None)]  # the form goes on and asks for the date again


def test_an_unclear_answer_is_a_miss_said_politely(acts: dict[str, Any]) -> None:
    slots, messages, events = turn(acts, "잘 모르겠어", "date", {"store": "강남점"}, intent="common_goodbye")
    assert slots == {"date": None} and messages == ["죄송해요, 날짜를 정확히 듣지 못했어요."]
    assert not any(e["event"] == "action_execution_rejected" for e in events)


@pytest.mark.parametrize("said", ["아 그냥 됐어요", "그만할게요", "예약 안 할래", "아니요 예약 필요 없어요"])
def test_leaving_ends_the_form_politely(acts: dict[str, Any], said: str) -> None:
    slots, messages, _ = turn(acts, said, "name", dict(FULL), intent="common_deny")
    assert slots["requested_slot"] is None and all(slots[k] is None for k in FULL)
    assert messages == ["알겠습니다. 예약은 진행하지 않을게요. 더 도와드릴 일이 있으면 말씀해 주세요."]


def test_starting_over_clears_the_details(acts: dict[str, Any]) -> None:
    slots, messages, _ = turn(acts, "처음부터 다시 할게요", "name", dict(FULL), intent="common_repeat")
    assert all(slots[k] is None for k in FULL) and "requested_slot" not in slots
    assert messages == ["네, 처음부터 다시 여쭤볼게요."]


# -- 2.6 the store table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "slot", "reply"),
    [
        (
            "강남점 내일 밤 9시 반 두 명",
            "time",
            "강남점은 마지막 주문이 저녁 9시라서 저녁 9시까지 예약하실 수 있어요.",
        ),
        ("종로점 월요일 오전 10시 두 명", "time", "종로점은 평일에는 오전 11시 반에 문을 열어요."),
        (
            "강남점 월요일 오후 4시 두 명",
            "time",
            "강남점은 평일 오후 3시부터 오후 5시까지 브레이크 타임이에요.",
        ),
        (
            "강남점 2월 7일 저녁 7시 네 명",
            "date",
            "2월 7일은 설날이라 강남점은 쉬어요. 2월 8일에는 영업해요.",
        ),
        ("판교점 어제 예약", "date", "이미 지난 날짜예요."),
        ("홍대점 토요일 저녁 7시 열 명", "party_size", "홍대점은 한 번에 8명까지 예약하실 수 있어요."),
        (
            "잠실점 토요일 저녁 6시 스물다섯 명",
            "party_size",
            "20명이 넘는 단체 예약은 매장에서 직접 도와드려요.",
        ),
        ("내일 명동점 오전 9시 둘", "time", "명동점은 주말에는 오전 11시에 문을 열어요."),
        ("오늘 명동점 오전 9시 둘", "time", "오전 9시는 이미 지났어요."),
    ],
)
def test_the_store_table_says_why_and_what_is_possible(
    acts: dict[str, Any], said: str, slot: str, reply: str
) -> None:
    slots, messages, _ = turn(acts, said)
    assert slots[slot] is None and len(messages) == 1 and reply in messages[0], messages


def test_the_hours_are_checked_once_the_store_is_known(acts: dict[str, Any]) -> None:
    slots, messages, _ = turn(acts, "강남점", "store", {"date": "2026-11-30", "time": "21:30"})
    assert slots["store"] == "강남점" and slots["time"] is None and "마지막 주문" in messages[0]
    # the same hour on a weekend day is fine at 강남점 (11:00 opening on Saturday)
    assert turn(acts, "강남점 토요일 오전 11시 두 명")[0]["time"] == "11:00"


def test_a_party_too_large_for_one_store_moves_to_another(acts: dict[str, Any]) -> None:
    slots, _, _ = turn(acts, "홍대점 토요일 저녁 6시 열두 명")
    assert slots["party_size"] is None and slots["wanted_party_size"] == 12
    state = {"store": "홍대점", "date": "2026-11-28", "time": "18:00", "wanted_party_size": 12}
    slots, messages, _ = turn(acts, "그럼 잠실점으로 해 주세요", "party_size", state, "common_affirm")
    assert (
        slots["store"] == "잠실점" and slots["party_size"] == 12 and messages == ["네, 잠실점으로 바꿨어요."]
    )


# -- 2.8 change, cancel, look-up by phone ----------------------------------------------------------------


def test_cancel_by_a_spoken_number_reads_back_first(acts: dict[str, Any], sample: Context) -> None:
    made = sample.reservations.make(date=dt.date(2026, 11, 28), time=dt.time(19, 0), party_size=4,
                                    name="김철수", phone="01012345678", store="명동점")  # fmt: skip
    slots, _, _ = turn(
        acts, "공일공 일이삼사 오육칠팔이요", "phone", form="cancel_form", intent="common_out_of_scope"
    )
    assert slots["phone"] == "01012345678" and slots["reservation_id"] == made.id
    found = {"phone": "01012345678", "reservation_id": made.id}
    ask = run(acts["action_ask_cancel_confirmed"], make_tracker("", slots=found), {})[1]
    assert ask == [
        "김철수님의 명동점, 내일, 11월 28일 토요일 저녁 7시에 4명 예약을 취소할까요? 맞으면 네라고 말씀해 주세요."
    ]
    slots, _, _ = turn(acts, "아니 그냥 둘래", "cancel_confirmed", found, "common_deny", form="cancel_form")
    assert slots["cancel_confirmed"] is False
    slots, _, _ = turn(acts, "네", "cancel_confirmed", found, "common_affirm", form="cancel_form")
    cancel = run(acts["action_cancel_reservation"], make_tracker("", slots=found | slots), {})[1]
    assert sample.reservations.get(made.id).status == "cancelled" and "취소되었습니다" in cancel[0]


def test_an_unknown_number_is_said_and_asked_again(acts: dict[str, Any]) -> None:
    slots, messages, _ = turn(acts, "010 9999 8888", "phone", form="check_form")
    assert slots["phone"] is None and "찾지 못했어요" in messages[0]


def test_change_reads_back_then_changes_within_the_store_table(acts: dict[str, Any], sample: Context) -> None:
    made = sample.reservations.make(date=dt.date(2026, 11, 28), time=dt.time(18, 30), party_size=3,
                                    name="이영희", phone="01055556666", store="강남점")  # fmt: skip
    slots, messages, _ = turn(acts, "공일공 오오오오 육육육육으로 한 예약 밤 9시 반으로 바꿔 주세요",
                              form="change_form", intent="reservation_change")  # fmt: skip
    assert messages[0] == "이영희님, 강남점, 내일, 11월 28일 토요일 저녁 6시 반에 3명 예약을 찾았습니다."
    assert "마지막 주문" in messages[1] and slots.get("change_request") is None
    state = {"phone": "01055556666", "reservation_id": made.id}
    slots, _, _ = turn(acts, "그럼 9시", "change_request", state, form="change_form")
    assert slots["change_request"] == {"time": "21:00"}
    state |= slots
    ask = run(acts["action_ask_change_confirmed"], make_tracker("", slots=state), {})[1]
    assert ask == [
        "이영희님 예약을 강남점, 내일, 11월 28일 토요일 저녁 9시에 3명으로 변경할까요? 맞으면 네라고 말씀해 주세요."
    ]
    state |= turn(acts, "응", "change_confirmed", state, "common_affirm", form="change_form")[0]
    done = run(acts["action_change_reservation"], make_tracker("", slots=state), {})[1]
    assert sample.reservations.get(made.id).time == dt.time(21, 0) and done[0].startswith("변경되었습니다")


def test_look_up_tells_the_reservation_and_keeps_the_number(acts: dict[str, Any], sample: Context) -> None:
    made = sample.reservations.make(date=dt.date(2026, 12, 24), time=dt.time(12, 0), party_size=4,
                                    name="최지훈", phone="01077778888", store="잠실점")  # fmt: skip
    slots, _, _ = turn(acts, "01077778888", "phone", form="check_form", intent="common_out_of_scope")
    told = run(acts["action_tell_reservation"], make_tracker("", slots=slots), {})
    assert told[1] == [
        "최지훈님 예약은 잠실점, 12월 24일 목요일 낮 12시에 4명입니다. 변경이나 취소가 필요하시면 말씀해 주세요."
    ]
    assert told[0] == {} and slots["reservation_id"] == made.id  # kept: "그거 취소해 줘" needs no number
