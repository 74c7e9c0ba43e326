"""The restaurant sample's custom actions, run directly with rasa_sdk Trackers and dispatchers."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from bot.reservations import ReservationStore
from bot.stores import COLUMNS, StoreDirectory

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "restaurant"
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))  # a Friday morning
STORE_ROWS = [
    ["S01", "명동점", "명동", "서울 중구 명동길 14", "명동역", "6", "", "02-111-2222", "11:00-22:00",
     "11:00-22:00", "", "21:00", "명절 당일 휴무", "지하 주차장 2시간 무료", "유아 의자가 있습니다", ""],
    ["S02", "강남역점", "강남", "서울 강남구 테헤란로 5", "강남역", "11", "", "", "11:30-23:00", "", "", "",
     "", "", "", ""],
]  # fmt: skip


def load_sample_actions(path: Path = SAMPLE / "actions") -> ModuleType:
    """Import the actions folder as a package, the way the runtime loads `bot.actions_dir`."""
    name = "restaurant_actions_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Context:
    """Same fields as bot.actions.ActionContext."""

    config: Any
    reservations: ReservationStore
    stores: StoreDirectory


def write_stores(path: Path, rows: list[list[str]] = STORE_ROWS) -> Path:
    lines = [",".join(COLUMNS)] + [",".join(f'"{v}"' for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def context(tmp_path: Path) -> Context:
    stores = StoreDirectory.from_csv(write_stores(tmp_path / "stores.csv"))
    db = ReservationStore(f"sqlite:///{tmp_path / 'callbot.db'}")
    yield Context(config=None, reservations=db, stores=stores)
    db.close()


@pytest.fixture
def actions(context: Context) -> dict[str, Any]:
    module = load_sample_actions()
    return {a.name(): a for a in module.create_actions(context, clock=lambda: NOW)}


def domain(name: str) -> dict[str, Any]:
    return yaml.safe_load((SAMPLE / "rasa" / name / "domain.yml").read_text(encoding="utf-8"))


SLOTS = (
    "store",
    "date",
    "time",
    "party_size",
    "name",
    "phone",
    "seating",
    "change_request",
    "reservation_id",
)


def make_tracker(
    text: str,
    intent: str = "common_affirm",
    slots: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    requested: str | None = None,
    loop: str | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Tracker:
    """A tracker after the caller said `text`; `candidates` are slot values the mappings extracted."""
    parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    events = [*(history or []), {"event": "user", "text": text, "parse_data": parse}]
    if loop:
        events.append({"event": "action", "name": loop})
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    values = dict.fromkeys(SLOTS) | (slots or {}) | (candidates or {}) | {"requested_slot": requested}
    active = {"name": loop} if loop else {}
    return Tracker("caller-1", values, parse, events, False, None, active, "action_listen")


def run(action: Any, tracker: Tracker, dom: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, dom)) or []
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, [m["text"] for m in dispatcher.messages], events


FULL = {"store": "명동점", "date": "2026-11-28", "time": "19:00", "party_size": 5, "name": "김철수",
        "phone": "01012345678"}  # fmt: skip


def test_one_utterance_fills_date_and_time(actions: dict[str, Any]) -> None:
    t = make_tracker("내일 저녁 일곱 시", candidates={"date": "내일 저녁 일곱 시"}, requested="date",
                     slots={"store": "명동점"}, loop="reservation_form")  # fmt: skip
    slots, messages, _ = run(actions["validate_reservation_form"], t, domain("reservation"))
    assert slots["date"] == "2026-11-28" and slots["time"] == "19:00"
    assert messages == []


def test_request_with_details_prefills_the_form(actions: dict[str, Any]) -> None:
    t = make_tracker("명동점에 모레 저녁 6시 반에 다섯 명 창가 자리로 예약할게요", intent="reservation_make")
    slots, _, _ = run(actions["validate_reservation_form"], t, domain("reservation"))
    assert slots == {
        "store": "명동점",
        "date": "2026-11-29",
        "time": "18:30",
        "party_size": 5,
        "seating": "창가",
    }


def test_name_and_phone_said_with_the_request_are_kept(actions: dict[str, Any]) -> None:
    t = make_tracker(
        "예약하려는데 제 번호는 010-2345-6789이고 이름은 김지훈입니다", intent="reservation_make"
    )
    slots, _, _ = run(actions["validate_reservation_form"], t, domain("reservation"))
    assert slots == {"phone": "01023456789", "name": "김지훈"}


@pytest.mark.parametrize(
    ("slot", "said", "value"),
    [
        ("party_size", "다섯 명이요", 5),
        ("party_size", "4", 4),  # keyed digits: /common_affirm{"digits": "4"} fills the slot with "4"
        ("party_size", 4, 4),
        ("name", "이름은 박민지입니다", "박민지"),
        ("phone", "공일공 일이삼사 오육칠팔", "01012345678"),
        ("store", "강남이요", "강남역점"),
        ("time", "7시요", "19:00"),
    ],
)
def test_requested_slot_is_normalized(actions: dict[str, Any], slot: str, said: Any, value: Any) -> None:
    t = make_tracker(str(said), candidates={slot: said}, requested=slot, loop="reservation_form",
                     slots={"date": "2026-11-28"})  # fmt: skip
    slots, messages, _ = run(actions["validate_reservation_form"], t, domain("reservation"))
    assert slots[slot] == value and messages == []


@pytest.mark.parametrize(
    ("slot", "said", "reply"),
    [
        ("date", "글쎄요", "날짜를 정확히 듣지 못했어요"),
        ("time", "저녁에요", "시간을 정확히 듣지 못했어요"),
        ("time", "오전 9시", "오전 9시는 이미 지났어요"),
        ("party_size", "서른 명", "단체 예약은 매장에서"),
        ("name", "아니요", "성함을 정확히 듣지 못했어요"),
        ("phone", "일이삼", "전화번호를 정확히 듣지 못했어요"),
        ("store", "부산점", "매장을 찾지 못했어요"),
    ],
)
def test_invalid_answer_is_reasked_politely(
    actions: dict[str, Any], slot: str, said: str, reply: str
) -> None:
    t = make_tracker(said, candidates={slot: said}, requested=slot, loop="reservation_form",
                     slots={"date": "2026-11-27"})  # fmt: skip
    slots, messages, _ = run(actions["validate_reservation_form"], t, domain("reservation"))
    assert slots[slot] is None
    assert any(reply in m for m in messages), messages


def test_single_store_company_is_not_asked_for_the_store(tmp_path: Path, context: Context) -> None:
    single = Context(
        None,
        context.reservations,
        StoreDirectory.from_csv(write_stores(tmp_path / "one.csv", STORE_ROWS[:1])),
    )
    validate = {a.name(): a for a in load_sample_actions().create_actions(single, clock=lambda: NOW)}
    t = make_tracker("내일이요", candidates={"date": "내일이요"}, requested="date", loop="reservation_form")
    slots, _, _ = run(validate["validate_reservation_form"], t, domain("reservation"))
    assert slots["date"] == "2026-11-28" and slots["requested_slot"] == "time"


def test_confirm_reads_back_and_submit_stores(actions: dict[str, Any], context: Context) -> None:
    _, messages, _ = run(actions["action_confirm_reservation"], make_tracker("", slots=FULL), {})
    assert messages == [
        "명동점에 내일, 11월 28일 토요일 저녁 7시에 5명, 김철수님 이름으로 예약해 드릴까요? "
        "연락처는 010-1234-5678입니다. 맞으면 네, 아니면 아니요라고 말씀해 주세요."
    ]
    slots, messages, _ = run(actions["action_submit_reservation"], make_tracker("네", slots=FULL), {})
    stored = context.reservations.find_by_phone("01012345678")
    assert stored is not None
    assert (stored.store, stored.date, stored.time, stored.party_size, stored.name) == (
        "명동점", dt.date(2026, 11, 28), dt.time(19, 0), 5, "김철수",
    )  # fmt: skip
    assert f"예약 번호는 {stored.id}번입니다" in messages[0]
    assert slots["reservation_id"] == stored.id and slots["date"] is None


def test_no_at_readback_with_a_correction_updates_and_reconfirms(actions: dict[str, Any]) -> None:
    slots, _, events = run(
        actions["action_correct_reservation"], make_tracker("아니요 여덟 시로요", slots=FULL), {}
    )
    assert slots == {"time": "20:00"}
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_confirm_reservation"}


def test_plain_no_at_readback_restarts_the_form(actions: dict[str, Any]) -> None:
    slots, messages, events = run(
        actions["action_correct_reservation"], make_tracker("아니요", slots=FULL), {}
    )
    assert all(slots[s] is None for s in ("date", "time", "party_size", "name", "phone"))
    assert events[-1]["name"] == "reservation_form" and "처음부터" in messages[0]


def _reserve(context: Context, phone: str = "01012345678") -> Any:
    return context.reservations.make(date=dt.date(2026, 11, 28), time=dt.time(19, 0), party_size=4,
                                     name="김철수", phone=phone, store="명동점")  # fmt: skip


def test_cancel_by_spoken_phone(actions: dict[str, Any], context: Context) -> None:
    made = _reserve(context)
    t = make_tracker("공일공 일이삼사 오육칠팔이요", candidates={"phone": "공일공 일이삼사 오육칠팔이요"},
                     requested="phone", loop="cancel_form")  # fmt: skip
    slots, _, _ = run(actions["validate_cancel_form"], t, domain("reservation"))
    assert slots == {"phone": "01012345678", "reservation_id": made.id}
    confirmed = {"phone": "01012345678", "reservation_id": made.id}
    _, messages, _ = run(actions["action_confirm_cancel"], make_tracker("", slots=confirmed), {})
    assert messages == [
        "김철수님의 내일, 11월 28일 토요일 저녁 7시에 4명 예약을 취소할까요? 맞으면 네라고 말씀해 주세요."
    ]
    slots, messages, _ = run(actions["action_cancel_reservation"], make_tracker("네", slots=confirmed), {})
    assert context.reservations.get(made.id).status == "cancelled"
    assert f"예약 번호 {made.id}번 예약이 취소되었습니다" in messages[0] and slots["reservation_id"] is None


def test_unknown_phone_is_asked_again(actions: dict[str, Any], context: Context) -> None:
    _reserve(context)
    t = make_tracker(
        "010 9999 8888", candidates={"phone": "010 9999 8888"}, requested="phone", loop="cancel_form"
    )
    slots, messages, _ = run(actions["validate_cancel_form"], t, domain("reservation"))
    assert slots["phone"] is None and "찾지 못했어요" in messages[0]


def test_change_time_by_phone(actions: dict[str, Any], context: Context) -> None:
    made = _reserve(context)
    t = make_tracker(
        "010-1234-5678", candidates={"phone": "010-1234-5678"}, requested="phone", loop="change_form"
    )
    slots, messages, _ = run(actions["validate_change_form"], t, domain("reservation"))
    assert (
        slots["reservation_id"] == made.id
        and "김철수님, 내일, 11월 28일 토요일 저녁 7시에 4명 예약을 찾았습니다." in messages
    )
    t = make_tracker("여덟 시 반으로 여섯 명이요", candidates={"change_request": "여덟 시 반으로 여섯 명이요"},
                     requested="change_request", loop="change_form", slots=slots)  # fmt: skip
    slots2, _, _ = run(actions["validate_change_form"], t, domain("reservation"))
    assert slots2["change_request"] == {"time": "20:30", "party_size": 6}
    state = slots | slots2
    _, messages, _ = run(actions["action_confirm_change"], make_tracker("", slots=state), {})
    assert "김철수님 예약을 내일, 11월 28일 토요일 저녁 8시 반에 6명으로 변경할까요?" in messages[0]
    _, messages, _ = run(actions["action_change_reservation"], make_tracker("네", slots=state), {})
    changed = context.reservations.get(made.id)
    assert (changed.time, changed.party_size, changed.date) == (dt.time(20, 30), 6, dt.date(2026, 11, 28))
    assert messages[0].startswith(f"변경되었습니다. 예약 번호 {made.id}번")


def test_store_question_names_the_store(actions: dict[str, Any]) -> None:
    t = make_tracker("명동점 주차 돼?", intent="store_parking")
    slots, _, _ = run(actions["validate_store_form"], t, domain("store"))
    assert slots == {"store": "명동점"}
    history = [
        {"event": "user", "text": "명동점 주차 돼?", "parse_data": {"intent": {"name": "store_parking"}}}
    ]
    t = make_tracker("명동점 주차 돼?", intent="store_parking", slots=slots, history=history)
    _, messages, _ = run(actions["action_store_answer"], t, {})
    assert messages == ["명동점 주차 안내입니다. 지하 주차장 2시간 무료."]


def test_store_question_without_store_asks_and_answers_next_turn(actions: dict[str, Any]) -> None:
    t = make_tracker("몇 시까지 해요?", intent="store_hours")
    slots, _, _ = run(actions["validate_store_form"], t, domain("store"))
    assert slots == {}
    _, messages, _ = run(actions["action_ask_store"], t, {})
    assert messages == ["어느 매장을 말씀하시는 건가요? 명동점, 강남역점 중에서 말씀해 주세요."]
    history = [
        {"event": "user", "text": "몇 시까지 해요?", "parse_data": {"intent": {"name": "store_hours"}}},
        {"event": "active_loop", "name": "store_form"},
    ]
    # The answer to "which store?" is classified as another store question; the first question counts.
    t = make_tracker("강남 매장이요", intent="store_location", candidates={"store": "강남 매장이요"},
                     requested="store", loop="store_form", history=history)  # fmt: skip
    slots, _, _ = run(actions["validate_store_form"], t, domain("store"))
    assert slots["store"] == "강남역점"
    t = make_tracker("강남 매장이요", intent="store_location", slots=slots, history=history)
    _, messages, _ = run(actions["action_store_answer"], t, {})
    assert messages == ["강남역점은 평일 오전 11시 반부터 저녁 11시까지 영업합니다."]


def test_answer_to_which_store_that_asks_something_else_gets_that_answer(actions: dict[str, Any]) -> None:
    history = [
        {"event": "user", "text": "몇 시까지 해요?", "parse_data": {"intent": {"name": "store_hours"}}},
        {"event": "active_loop", "name": "store_form"},
    ]
    # "명동점 주차 돼?" answers "which store?" and asks about parking: parking is what the caller wants now.
    t = make_tracker("명동점 주차 돼?", intent="store_parking", slots={"store": "명동점"}, history=history)
    _, messages, _ = run(actions["action_store_answer"], t, {})
    assert messages == ["명동점 주차 안내입니다. 지하 주차장 2시간 무료."]
    # Only the store (with its alias, a branch word or a station): the first question still counts.
    for text in ("명동점이요", "명동 지점이요", "명동역 거기요"):
        t = make_tracker(text, intent="store_parking", slots={"store": "명동점"}, history=history)
        _, messages, _ = run(actions["action_store_answer"], t, {})
        assert messages[0].startswith("명동점은 평일"), text


def test_create_actions_covers_every_overlay_action_and_runs_in_executor(context: Context) -> None:
    created = load_sample_actions().create_actions(context, clock=lambda: NOW)
    names = [a.name() for a in created]
    assert len(names) == len(set(names))
    declared = set(domain("reservation")["actions"]) | set(domain("store")["actions"])
    assert declared == set(names)
    executor = ActionExecutor()
    for action in created:
        executor.register_action(action)
    _reserve(context)
    call = {
        "next_action": "validate_cancel_form",
        "domain": domain("reservation"),
        "tracker": {
            "sender_id": "caller-2",
            "slots": dict.fromkeys(SLOTS) | {"requested_slot": "phone", "phone": "010 1234 5678"},
            "latest_message": {"text": "010 1234 5678", "intent": {"name": "common_affirm"}},
            "events": [{"event": "user", "text": "010 1234 5678"}, {"event": "slot", "name": "phone", "value": "010 1234 5678"}],
            "active_loop": {"name": "cancel_form"},
        },
    }  # fmt: skip
    response = asyncio.run(executor.run(call))
    slots = {e["name"]: e["value"] for e in response["events"] if e["event"] == "slot"}
    assert slots["phone"] == "01012345678" and slots["reservation_id"] is not None


def test_create_actions_names_missing_services(context: Context) -> None:
    module = load_sample_actions()
    with pytest.raises(ValueError, match="need stores in the action context"):
        module.create_actions(Context(None, context.reservations, None))
