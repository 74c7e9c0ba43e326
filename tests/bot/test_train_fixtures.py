"""Tiny build folders (router + 2 domains, the layout of `callbot data build`) and one shared training.

`trained_nlu` trains once per test session into the session's base temp folder; modules that import
the fixture reuse that folder instead of training again.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from bot.config import BotSettings
from bot.train import TrainReport, train
from callbot.config import Config

COMMON = {
    "common_greet": ["안녕하세요", "여보세요", "안녕", "네 여보세요 안녕하세요", "안녕하세요 반가워요"],
    "common_out_of_scope": [
        "오늘 주식 어때요", "축구 경기 결과 알려줘", "비행기표 예매해 줘", "날씨 어때", "노래 불러줘",
        "로또 번호 알려줘", "심심해", "너 몇 살이야", "환율 얼마야", "택시 불러줘",
    ],
}  # fmt: skip
DOMAINS = {
    "menu": {
        "menu_price": ["가격이 얼마예요", "짜장면 얼마예요", "메뉴 가격 알려주세요", "얼마에요", "가격 궁금해요"],
        "menu_recommend": ["뭐가 맛있어요", "추천 메뉴 있어요", "인기 메뉴 알려주세요", "뭐 먹을까요", "추천해 주세요"],
    },
    "reservation": {
        "reservation_book": ["예약하고 싶어요", "예약할게요", "자리 예약 부탁해요", "테이블 예약", "내일 예약하려고요"],
        "reservation_cancel": ["예약 취소할게요", "예약 취소해 주세요", "취소하고 싶어요", "예약 취소", "예약 못 가요"],
    },
}  # fmt: skip
HELD_OUT = [
    ("짬뽕 얼마예요", "menu_price", "menu", "real"),
    ("추천 좀 해 줘", "menu_recommend", "menu", "casual"),
    ("예약하려고요", "reservation_book", "reservation", "real"),
    ("예약 취소요", "reservation_cancel", "reservation", "clipped"),
    ("안녕하세요 여보세요", "common_greet", "", "real"),
    ("주식 시세 알려줘", "common_out_of_scope", "", "casual"),
]
EPOCHS = 20


def nlu_yaml(intents: dict[str, list[str]]) -> str:
    items = [{"intent": i, "examples": "".join(f"- {t}\n" for t in texts)} for i, texts in intents.items()]
    return yaml.safe_dump({"version": "3.1", "nlu": items}, allow_unicode=True, sort_keys=False)


def write_project(rasa_dir: Path, name: str, intents: dict[str, list[str]]) -> None:
    project = rasa_dir / name
    (project / "data").mkdir(parents=True, exist_ok=True)
    all_intents = {**intents, **COMMON}
    responses = {f"utter_{i}": [{"text": f"{i} 답변입니다."}] for i in all_intents}
    domain = {"version": "3.1", "intents": list(all_intents), "responses": responses}
    (project / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    (project / "data" / "nlu.yml").write_text(nlu_yaml(all_intents), encoding="utf-8")
    rules = [{"rule": f"answer {i}", "steps": [{"intent": i}, {"action": f"utter_{i}"}]} for i in all_intents]
    text = yaml.safe_dump({"version": "3.1", "rules": rules}, allow_unicode=True, sort_keys=False)
    (project / "data" / "rules.yml").write_text(text, encoding="utf-8")


def write_tiny_build(build_dir: Path) -> Path:
    """`build/rasa/{router,menu,reservation}` and `build/test.csv` like `callbot data build`.

    Both domain projects carry the common intents (greet, out_of_scope), so the router has two labels.
    """
    rasa_dir = build_dir / "rasa"
    for name, intents in DOMAINS.items():
        write_project(rasa_dir, name, intents)
    router_items = {name: [t for ts in intents.values() for t in ts] for name, intents in DOMAINS.items()}
    (rasa_dir / "router" / "data").mkdir(parents=True)
    (rasa_dir / "router" / "data" / "nlu.yml").write_text(nlu_yaml(router_items), encoding="utf-8")
    with (build_dir / "test.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "intent", "domain", "kind"])
        w.writerows(HELD_OUT)
    return build_dir


def tiny_config(root: Path, **bot: object) -> Config:
    raw = {
        "paths": {"build_dir": "build", "models_dir": "models"},
        "bot": {"epochs": EPOCHS, "router_epochs": EPOCHS, **bot},
    }
    return Config(path=root / "callbot.yml", raw=raw)


def copy_trained(src: Path, dst: Path) -> Path:
    """A private copy of a trained root (build + models) that a test may change."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def trained_nlu(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainReport | None]:
    """A root folder with a tiny build and one trained model version (trained once per session)."""
    root = tmp_path_factory.getbasetemp() / "bot-nlu-trained"
    if (root / "models" / "current").is_file():
        return root, None
    work = tmp_path_factory.getbasetemp() / "bot-nlu-training"
    write_tiny_build(work / "build")
    config = tiny_config(work)
    report = train(config, BotSettings.from_config(config))
    work.rename(root)
    return root, report
