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
    "confirmed",
    "seating",
    "period",
    "wanted_party_size",
    "correcting",
    "change_request",
    "change_confirmed",
    "cancel_confirmed",
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
    return slots, [m["text"] for m in dispatcher.messages if m.get("text")], events


def _reserve(context: Context, phone: str = "01012345678") -> Any:
    return context.reservations.make(date=dt.date(2026, 11, 28), time=dt.time(19, 0), party_size=4,
                                     name="김철수", phone=phone, store="명동점")  # fmt: skip


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
            "latest_action_name": "action_listen",
        },
    }  # fmt: skip
    response = asyncio.run(executor.run(call))
    slots = {e["name"]: e["value"] for e in response["events"] if e["event"] == "slot"}
    assert slots["phone"] == "01012345678" and slots["reservation_id"] is not None


def test_create_actions_names_missing_services(context: Context) -> None:
    module = load_sample_actions()
    with pytest.raises(ValueError, match="need stores in the action context"):
        module.create_actions(Context(None, context.reservations, None))
