"""Tiny real Rasa projects for the bot runtime tests: a router and three domains, trained once.

The trained model set is cached on disk keyed by a hash of the training files, so every test module
(and every later run) shares one training of ~20-40 s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import yaml

from bot.models import switch_current, write_manifest

logger = logging.getLogger(__name__)

VERSION = "v-tiny"
COMMON = {
    "common_greet": ["안녕하세요", "여보세요", "안녕", "저기요 안녕하세요", "네 여보세요"],
    "common_goodbye": ["안녕히 계세요", "끊을게요", "수고하세요", "감사합니다 끊을게요", "이만 끊겠습니다"],
    "common_affirm": ["네", "예", "맞아요", "네 맞습니다", "좋아요", "그렇게 해주세요"],
    "common_deny": ["아니요", "아뇨", "아니에요", "틀렸어요", "싫어요", "그건 아니에요"],
    "common_agent": [
        "상담원 연결해 주세요",
        "사람이랑 통화할래요",
        "상담사 바꿔 주세요",
        "직원 연결",
        "상담원",
    ],
    "common_repeat": ["다시 말해 주세요", "뭐라고요", "잘 못 들었어요", "한 번 더 말해 주세요", "다시요"],
    "common_out_of_scope": [
        "오늘 주식 어때요",
        "축구 경기 결과 알려줘",
        "비행기표 예매",
        "날씨 어때",
        "노래 불러줘",
    ],
}
RESERVATION = {
    "reservation_book": [
        "예약하고 싶어요",
        "예약할게요",
        "자리 예약 부탁해요",
        "테이블 예약",
        "예약 가능한가요",
        "내일 예약하려고요",
    ],
    "reservation_inform": [
        "[4](party_size)명이요",
        "[두](party_size) 명",
        "[다섯](party_size) 명이요",
        "[3](party_size)명",
        "[열](party_size) 명이요",
        "[6](party_size)명이에요",
    ],
}
STORE = {
    "store_hours": [
        "몇 시까지 해요",
        "영업시간 알려주세요",
        "언제 문 열어요",
        "영업 시간이 어떻게 돼요",
        "몇 시에 닫아요",
    ],
    "store_location": [
        "어디에 있어요",
        "위치 알려주세요",
        "주소가 어떻게 돼요",
        "가게 어디예요",
        "찾아가는 길",
    ],
}
RESPONSES = {
    "utter_common_greet": "안녕하세요, 맛있는 식당입니다. 무엇을 도와드릴까요?",
    "utter_common_goodbye": "감사합니다. 좋은 하루 보내세요.",
    "utter_common_affirm": "네, 더 궁금하신 점을 말씀해 주세요.",
    "utter_common_deny": "알겠습니다. 다른 도움이 필요하시면 말씀해 주세요.",
    "utter_common_agent": "상담원에게 연결해 드리겠습니다.",
    "utter_common_repeat": "다시 말씀드리겠습니다.",
    "utter_common_out_of_scope": "죄송하지만 그 문의는 도와드리기 어렵습니다.",
    "utter_store_hours": "영업시간은 오전 11시부터 오후 10시까지입니다.",
    "utter_store_location": "저희 가게는 강남역 2번 출구 앞에 있습니다.",
    "utter_ask_party_size": "몇 분이 오시나요?",
    "utter_ask_confirm": "{party_size}명으로 예약할까요?",
    "utter_reserved": "{party_size}명으로 예약했습니다.",
    "utter_reservation_cancelled": "예약을 취소했습니다.",
}
RESERVATION_UTTERS = (
    "utter_ask_party_size",
    "utter_ask_confirm",
    "utter_reserved",
    "utter_reservation_cancelled",
)
PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
    {"name": "RegexEntityExtractor", "use_regexes": True},
    {
        "name": "DIETClassifier",
        "epochs": 30,
        "entity_recognition": False,
        "constrain_similarities": True,
        "random_seed": 1,
    },
]
POLICIES = [{"name": "RulePolicy", "core_fallback_threshold": 0.3, "enable_fallback_prediction": False}]


def _nlu(intents: dict[str, list[str]], label=None) -> dict:
    items: list[dict] = [{"regex": "party_size", "examples": "- \\d+\n"}]
    for intent, texts in intents.items():
        name = label(intent) if label else intent
        items.append({"intent": name, "examples": "".join(f"- {t}\n" for t in texts)})
    return {"version": "3.1", "nlu": items}


def _rules(intents: list[str]) -> list[dict]:
    return [
        {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": f"utter_{i}"}]}
        for i in intents
        if f"utter_{i}" in RESPONSES
    ]


def projects() -> dict[str, dict[str, dict]]:
    """name -> {file name -> YAML content}: the router and the reservation/store/common domains."""
    all_intents = {**COMMON, **RESERVATION, **STORE}
    router = {"nlu.yml": _nlu(all_intents, label=lambda i: i.split("_")[0])}
    out: dict[str, dict[str, dict]] = {"router": router}
    for name, own in (("common", {}), ("store", STORE), ("reservation", RESERVATION)):
        intents = {**COMMON, **own}
        domain: dict = {
            "version": "3.1",
            "intents": list(intents),
            "responses": {
                k: [{"text": v}]
                for k, v in RESPONSES.items()
                if any(k == f"utter_{i}" for i in intents)
                or name == "reservation"
                and k in RESERVATION_UTTERS
            },
            "session_config": {"session_expiration_time": 0, "carry_over_slots_to_new_session": True},
        }
        rules = _rules(
            [i for i in intents if i not in ("common_affirm", "common_deny")]
            if name != "common"
            else list(intents)
        )
        if name == "reservation":
            domain["entities"] = ["party_size"]
            domain["slots"] = {
                "party_size": {
                    "type": "text",
                    "influence_conversation": False,
                    "mappings": [{"type": "from_entity", "entity": "party_size"}],
                },
                "confirm": {
                    "type": "bool",
                    "influence_conversation": False,
                    "mappings": [
                        {
                            "type": "from_intent",
                            "intent": "common_affirm",
                            "value": True,
                            "conditions": [{"active_loop": "reservation_form", "requested_slot": "confirm"}],
                        },
                        {
                            "type": "from_intent",
                            "intent": "common_deny",
                            "value": False,
                            "conditions": [{"active_loop": "reservation_form", "requested_slot": "confirm"}],
                        },
                    ],
                },
            }
            domain["forms"] = {"reservation_form": {"required_slots": ["party_size", "confirm"]}}
            domain["actions"] = ["action_submit_reservation"]
            rules = [r for r in rules if r["steps"][0]["intent"] != "reservation_inform"] + [
                {
                    "rule": "start form",
                    "steps": [
                        {"intent": "reservation_book"},
                        {"action": "reservation_form"},
                        {"active_loop": "reservation_form"},
                    ],
                },
                {
                    "rule": "submit form",
                    "condition": [{"active_loop": "reservation_form"}],
                    "steps": [
                        {"action": "reservation_form"},
                        {"active_loop": None},
                        {"action": "action_submit_reservation"},
                    ],
                },
            ]
        out[name] = {
            "domain.yml": domain,
            "nlu.yml": _nlu(intents),
            "rules.yml": {"version": "3.1", "rules": rules},
        }
    return out


ACTIONS_INIT = """
import datetime as dt

from rasa_sdk import Action
from rasa_sdk.events import SlotSet


class SubmitReservation(Action):
    def __init__(self, context):
        self.context = context

    def name(self):
        return "action_submit_reservation"

    def run(self, dispatcher, tracker, domain):
        size = tracker.get_slot("party_size")
        if tracker.get_slot("confirm"):
            dispatcher.utter_message(response="utter_reserved", party_size=size)
            self.context.config.root.joinpath("reserved.txt").write_text(str(size), encoding="utf-8")
            self.context.reservations.make(
                date=dt.date.today(), time=dt.time(19, 0), party_size=int(float(size)),
                name="tiny", phone=tracker.sender_id[-20:],
            )
        else:
            dispatcher.utter_message(response="utter_reservation_cancelled")
        return [SlotSet("party_size", None), SlotSet("confirm", None)]


def create_actions(context):
    return [SubmitReservation(context)]
"""


def _digest() -> str:
    payload = json.dumps([projects(), PIPELINE, POLICIES], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def write_actions(folder: Path) -> Path:
    """The tiny sample's actions package (`create_actions(context)`), written to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(ACTIONS_INIT, encoding="utf-8")
    return folder


def train_tiny_models(cache_dir: Path) -> Path:
    """Train (or reuse) the tiny model set; returns a models dir with `<version>/` and `current`."""
    models_dir = cache_dir / f"models-{_digest()}"
    version_dir = models_dir / VERSION
    if (models_dir / "current").exists():
        return models_dir
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.model_training import train, train_nlu

    work = cache_dir / f"projects-{_digest()}"
    config = {
        "language": "ko",
        "pipeline": PIPELINE,
        "policies": POLICIES,
        "assistant_id": "callbot-tiny",
        "recipe": "default.v1",
    }
    for name, files in projects().items():
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in files.items():
            (folder / file_name).write_text(
                yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        (folder / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        if name == "router":
            train_nlu(
                str(folder / "config.yml"), str(folder / "nlu.yml"), str(version_dir), fixed_model_name=name
            )
        else:
            result = train(
                str(folder / "domain.yml"),
                str(folder / "config.yml"),
                [str(folder / "nlu.yml"), str(folder / "rules.yml")],
                str(version_dir),
                fixed_model_name=name,
            )
            if result.code != 0:
                raise RuntimeError(f"training {name} failed with code {result.code}")
    manifest = {
        "version": VERSION,
        "models": {n: f"{n}.tar.gz" for n in projects()},
        "thresholds": {"router": 0.4, "domain_default": 0.4, "domains": {}},
    }
    write_manifest(version_dir, manifest)
    switch_current(models_dir, VERSION)
    return models_dir


def copy_version(models_dir: Path, new_version: str) -> None:
    """A second version (same archives, hard-linked) made current: what `callbot train` does."""
    source = models_dir / VERSION
    target = models_dir / new_version
    target.mkdir()
    for f in source.iterdir():
        os.link(f, target / f.name)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(target, {**manifest, "version": new_version})
    switch_current(models_dir, new_version)


def link_models(cached: Path, target: Path) -> Path:
    """A private models dir (hard links to the cached archives) a test may add versions to, with the
    version's vocabulary (`callbot train` writes it from the training examples)."""
    (target / VERSION).mkdir(parents=True)
    for f in (cached / VERSION).iterdir():
        os.link(f, target / VERSION / f.name)
    tiny_vocabulary().save(target / VERSION / "vocabulary.json")
    switch_current(target, VERSION)
    return target


def tiny_vocabulary():
    """The tiny sample's vocabulary (bot.nlu.vocabulary), as `callbot train` builds it."""
    import re

    from bot.nlu.vocabulary import Vocabulary

    plain = re.compile(r"\[([^]]+)\]\([^)]+\)")  # "[4](party_size)명" -> "4명"
    examples = [
        (plain.sub(r"\1", text), intent)
        for intent, texts in {**COMMON, **RESERVATION, **STORE}.items()
        for text in texts
    ]
    return Vocabulary.build(examples, lambda intent: intent.endswith("out_of_scope"))


def write_config(folder: Path, models_dir: Path) -> Path:
    """A callbot.yml for the tiny bot: its models, its actions package, state under `folder`."""
    write_actions(folder / "actions")
    config = {
        "paths": {"models_dir": str(models_dir), "state_dir": str(folder / "var")},
        "data": {"domains": ["reservation", "store", "common"], "common_domain": "common"},
        "bot": {"actions_dir": "actions", "dtmf_number_slots": ["party_size"]},
    }
    path = folder / "callbot.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


_SHARED: dict[str, object] = {}


def shared_bot(cache_dir: Path, folder: Path):
    """One loaded `Bot` over the tiny models for the whole test session (loading takes ~10 s/model)."""
    if "bot" not in _SHARED:
        import asyncio

        from bot.runtime import Bot
        from callbot.config import load_config

        models = link_models(train_tiny_models(cache_dir), folder / "models")
        config_path = write_config(folder, models)
        _SHARED["bot"] = asyncio.run(Bot.load(load_config(config_path)))
        _SHARED["folder"] = folder
    return _SHARED["bot"], _SHARED["folder"]
