"""The restaurant overlays inside a real Rasa project: Rasa's validator, then a trained bot taking a
reservation and cancelling it over several turns with the sample's actions run in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import BotSettings
from bot.pipeline import pipeline_config
from data.output import merge_domain

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "restaurant"
SEOUL = ZoneInfo("Asia/Seoul")

COMMON = {
    "common_greet": ["안녕하세요", "여보세요", "안녕", "네 여보세요 안녕하세요"],
    "common_goodbye": ["안녕히 계세요", "끊을게요", "수고하세요", "이만 끊겠습니다"],
    "common_affirm": ["네", "예", "맞아요", "네 맞습니다", "좋아요", "네 그렇게 해주세요"],
    "common_deny": ["아니요", "아뇨", "아니에요", "틀렸어요", "그건 아니에요"],
    "common_agent": ["상담원 연결해 주세요", "사람이랑 통화할래요", "상담사 바꿔 주세요", "직원 연결"],
    "common_repeat": ["다시 말해 주세요", "뭐라고요", "한 번 더 말해 주세요"],
    "common_out_of_scope": ["오늘 주식 어때요", "축구 경기 결과 알려줘", "날씨 어때"],
}
DOMAINS = {
    "reservation": {
        "reservation_make": ["예약하고 싶어요", "예약할게요", "자리 예약 부탁해요", "테이블 예약하려고요",
                             "내일 저녁 예약 가능한가요", "명동점 예약할게요", "다섯 명 예약하려고요"],
        "reservation_change": ["예약 변경하고 싶어요", "예약 시간 바꿀게요", "예약 인원 바꿔 주세요",
                               "예약 날짜 변경이요"],
        "reservation_cancel": ["예약 취소할게요", "예약 취소해 주세요", "예약한 거 취소하려고요", "취소요"],
        "reservation_takeout": ["포장 되나요", "포장 주문할게요", "테이크아웃 돼요"],
        "reservation_check": ["예약 확인하고 싶어요", "제 예약 언제였죠", "예약 내역 알려 주세요"],
        "reservation_group": ["단체 예약 돼요", "스무 명 모임 가능해요", "회식 자리 돼요"],
        "reservation_seating": ["창가 자리 있어요", "룸 있나요", "아기 의자 있어요"],
    },
    "store": {
        "store_hours": ["몇 시까지 해요", "영업시간 알려주세요", "언제 문 열어요", "명동점 몇 시에 닫아요"],
        "store_location": ["어디에 있어요", "위치 알려주세요", "주소가 어떻게 돼요", "강남점 어디예요"],
        "store_parking": ["주차 돼요", "주차장 있어요", "명동점 주차 돼?", "차 가져가도 돼요"],
        "store_holiday_hours": ["명절에도 해요", "설날에 문 열어요", "공휴일 영업해요"],
        "store_family": ["아기 의자 있어요", "아이 데려가도 돼요", "유아 의자 있나요"],
    },
}  # fmt: skip


def assemble_project(root: Path, domain: str, epochs: int = 40) -> Path:
    """Lay out build/rasa/<domain>/ the way the data build does, with the sample's overlay merged in."""
    project = root / domain
    (project / "data").mkdir(parents=True)
    intents = DOMAINS[domain] | COMMON
    overlay = SAMPLE / "rasa" / domain
    covered: set[str] = set()
    for path in sorted(overlay.glob("*.yml")):
        if path.stem == "domain":
            continue
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        covered |= {s["intent"] for rule in content["rules"] for s in rule["steps"] if "intent" in s}
        (project / "data" / f"overlay_{path.name}").write_text(
            path.read_text(encoding="utf-8"), encoding="utf-8"
        )
    generated = {
        "version": "3.1",
        "intents": sorted(intents),
        "responses": {f"utter_{i}": [{"text": f"{i} 답변입니다."}] for i in sorted(intents)},
    }
    overlay_domain = yaml.safe_load((overlay / "domain.yml").read_text(encoding="utf-8"))
    _dump(project / "domain.yml", merge_domain(generated, overlay_domain))
    nlu = [{"intent": i, "examples": "".join(f"- {t}\n" for t in texts)} for i, texts in intents.items()]
    _dump(project / "data" / "nlu.yml", {"version": "3.1", "nlu": nlu})
    rules = [
        {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": f"utter_{i}"}]}
        for i in sorted(intents)
        if i not in covered
    ]
    _dump(project / "data" / "rules.yml", {"version": "3.1", "rules": rules})
    config = pipeline_config(BotSettings(tokenizer="whitespace", epochs=epochs), router=False)
    _dump(project / "config.yml", config)
    return project


def _dump(path: Path, content: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("domain", ["reservation", "store"])
def test_overlay_passes_rasa_validation(
    tmp_path: Path, domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    project = assemble_project(tmp_path, domain)
    importer = TrainingDataImporter.load_from_config(
        str(project / "config.yml"), str(project / "domain.yml"), [str(project / "data")]
    )
    validator = Validator.from_importer(importer)
    with caplog.at_level(logging.WARNING):
        assert validator.verify_domain_validity()
        assert validator.verify_actions_in_stories_rules()
        assert validator.verify_forms_in_stories_rules()
        assert validator.verify_form_slots()
        assert validator.verify_slot_mappings()
        assert validator.verify_story_structure(ignore_warnings=False)
    # Every rule the overlay declares is learnable by RulePolicy without contradictions: checked by
    # training below; here, no action is used in rules without being declared.
    assert not [r for r in caplog.records if "not defined in the domain" in r.getMessage()]


def trained_model(domain: str, root: Path, pytestconfig: pytest.Config) -> Path:
    """The domain's project trained once; reused across runs while its files are unchanged."""
    from rasa.model_training import train

    project = assemble_project(root, domain, epochs=25)
    digest = hashlib.sha256()
    for f in sorted(p for p in project.rglob("*") if p.is_file()):
        digest.update(f.relative_to(project).as_posix().encode() + f.read_bytes())
    cache = pytestconfig.cache.mkdir("restaurant_overlay_models") / digest.hexdigest()[:16]
    model = cache / f"{domain}.tar.gz"
    if model.exists():
        return model
    result = train(
        str(project / "domain.yml"),
        str(project / "config.yml"),
        [str(project / "data")],
        output=str(cache),
        fixed_model_name=domain,
    )
    assert result.code == 0, f"training {domain} failed with code {result.code}"
    return Path(result.model)


@pytest.fixture(scope="session")
def reservation_model(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    return trained_model("reservation", tmp_path_factory.mktemp("rasa_reservation"), pytestconfig)


@pytest.fixture(scope="session")
def store_model(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    return trained_model("store", tmp_path_factory.mktemp("rasa_store"), pytestconfig)


STORES_CSV = (
    "store_id,name,aliases,address,station,exit,directions,phone,hours_weekday,hours_weekend,break_time,"
    "last_order,holiday_policy,parking,kids,delivery_area\n"
    "S01,명동점,명동,서울 중구 명동길 14,명동역,6,,02-111-2222,11:00-22:00,11:00-22:00,,21:00,,,,\n"
    "S02,강남역점,강남,서울 강남구 테헤란로 5,강남역,11,,,11:30-23:00,,,,,,,\n"
)


async def _talk(agent: Any, lines: list[str], call: str = "call-e2e") -> list[str]:
    """Say each line in turn as caller `call`; returns the bot's replies joined per turn."""
    replies = []
    for line in lines:
        messages = await agent.handle_text(line, sender_id=call)
        replies.append(" ".join(m.get("text", "") for m in messages))
    return replies


def load_agent(model: Path, folder: Path) -> tuple[Any, Any]:
    """A Rasa Agent running the sample's actions in-process (bot.actions), and its reservation store."""
    from rasa.core.agent import Agent

    from bot.actions import ActionContext, InProcessActionEndpoint, build_executor, load_actions
    from bot.reservations import ReservationStore
    from bot.stores import StoreDirectory
    from callbot.config import Config

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stores.csv").write_text(STORES_CSV, encoding="utf-8")
    reservations = ReservationStore(f"sqlite:///{folder / 'callbot.db'}")
    context = ActionContext(
        config=Config(path=folder / "callbot.yml"),
        reservations=reservations,
        stores=StoreDirectory.from_csv(folder / "stores.csv"),
    )
    endpoint = InProcessActionEndpoint(build_executor(load_actions(SAMPLE / "actions", context)))
    return Agent.load(str(model), action_endpoint=endpoint), reservations


@pytest.mark.slow
def test_reservation_over_several_turns_then_cancel(reservation_model: Path, tmp_path: Path) -> None:
    agent, reservations = load_agent(reservation_model, tmp_path)

    replies = asyncio.run(
        _talk(
            agent,
            [
                "예약하고 싶어요",
                "명동점이요",
                "내일 저녁 일곱 시",
                "다섯 명이요",
                "김철수요",
                "공일공 일이삼사 오육칠팔",
                "네",
            ],
        )
    )
    tomorrow = dt.datetime.now(SEOUL).date() + dt.timedelta(days=1)
    assert replies[0].startswith("어느 매장을 말씀하시는 건가요? 명동점, 강남역점")
    assert replies[1].startswith("예약 날짜를 말씀해 주세요")
    assert (
        replies[2] == "몇 분이 오시나요? 번호를 누르고 우물 정자를 누르셔도 됩니다."
    )  # date AND time filled
    assert replies[3] == "예약하시는 분 성함을 말씀해 주세요."
    assert replies[4].startswith("연락 가능한 휴대폰 번호")
    assert replies[5].startswith(f"명동점에 내일, {tomorrow.month}월 {tomorrow.day}일")
    assert "저녁 7시에 5명, 김철수님 이름으로 예약해 드릴까요?" in replies[5]
    made = reservations.find_by_phone("01012345678")
    assert made is not None and f"예약 번호는 {made.id}번입니다" in replies[6]
    assert (made.store, made.date, made.time, made.party_size, made.name) == (
        "명동점", tomorrow, dt.time(19, 0), 5, "김철수",
    )  # fmt: skip

    replies = asyncio.run(_talk(agent, ["예약 취소해 주세요", "010 1234 5678", "네"]))
    assert replies[0].startswith("예약하실 때 남기신 휴대폰 번호")
    assert replies[1].startswith("김철수님의 명동점, 내일,") and replies[1].endswith(
        "취소할까요? 맞으면 네라고 말씀해 주세요."
    )
    assert f"예약 번호 {made.id}번 예약이 취소되었습니다" in replies[2]
    assert reservations.get(made.id).status == "cancelled"
    reservations.close()


@pytest.mark.slow
def test_store_questions_with_and_without_the_store_named(store_model: Path, tmp_path: Path) -> None:
    agent, reservations = load_agent(store_model, tmp_path)
    reservations.close()
    replies = asyncio.run(
        _talk(agent, ["명동점 주차 돼?", "몇 시까지 해요", "위치 알려주세요"], call="call-1")
    )
    assert (
        replies[0]
        == "죄송합니다. 명동점 주차 정보는 아직 준비되어 있지 않습니다. 매장 전화 02-111-2222번으로 문의해 주세요."
    )
    # The store talked about earlier is kept for the next questions.
    assert replies[1].startswith("명동점은 평일 오전 11시부터 저녁 10시까지 영업합니다.")
    assert replies[2].startswith("명동점은 서울 중구 명동길 14에 있습니다. 명동역 6번 출구에서 가까워요.")

    # Another call starts without a store: it is asked for, and the first question is answered.
    replies = asyncio.run(_talk(agent, ["영업시간 알려주세요", "강남이요"], call="call-2"))
    assert replies[0] == "어느 매장을 말씀하시는 건가요? 명동점, 강남역점 중에서 말씀해 주세요."
    assert replies[1] == "강남역점은 평일 오전 11시 반부터 저녁 11시까지 영업합니다."
