"""A small company, its data build, and a call log with saved caller audio: what console tests and the
console benchmark work on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from callbot.config import load_config
from data.build import build
from data.settings import DataSettings
from telephony.calllog import CallLog, TurnRecord

QNA = [
    ("질문", "답변", "의도", "분야"),
    ("케이크 예약하고 싶어요", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("생일 케이크 주문 가능한가요?", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("홀케이크 미리 주문할 수 있나요", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("주문 취소하고 싶어요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("케이크 주문 취소할게요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("몇 시에 문 여세요?", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("영업시간이 어떻게 되나요", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("주차 되나요", "건물 지하에 주차하실 수 있습니다.", "store_parking", "store"),
    ("주차장 있어요?", "건물 지하에 주차하실 수 있습니다.", "store_parking", "store"),
    ("안녕하세요", "안녕하세요, 밀빛 베이커리입니다.", "common_greet", "common"),
    ("오늘 날씨 어때요", "베이커리 관련 문의만 도와드릴 수 있어요.", "common_out_of_scope", "common"),
    ("주식 추천해 주세요", "베이커리 관련 문의만 도와드릴 수 있어요.", "common_out_of_scope", "common"),
]
CHAT = [("conversation_id", "turn", "speaker", "text", "intent", "domain")]


def write_company(root: Path, database_url: str = "") -> Path:
    """callbot.yml + the company's files under `root` (the call log in `database_url`, default SQLite
    under the state folder); returns the config path."""
    for name, rows in (("qna.csv", QNA), ("chat.csv", CHAT)):
        with (root / name).open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
    config = {
        "paths": {
            "build_dir": str(root / "build"),
            "state_dir": str(root / "var"),
            "models_dir": str(root / "models"),
        },
        "data": {
            "qna": [str(root / "qna.csv")],
            "chat_logs": [str(root / "chat.csv")],
            "overlay_dir": str(root / "overlay"),
            "domains": ["order", "store", "common"],
            "test_share": 0.0,
            "augment": {"casual": False, "clipped": False, "asr": False, "asr_errors": None},
        },
    }
    if database_url:
        config["telephony"] = {"database_url": database_url}
    path = root / "callbot.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def build_company(config_path: Path, labels: list[dict] | None = None):
    settings = DataSettings.from_config(load_config(config_path))
    return build(settings, operator_labels=labels)


def tone_wav(path: Path, seconds: float = 0.6, rate: int = 8000) -> str:
    """A 16-bit mono WAV like the ones `telephony.session` saves per turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2"), rate, subtype="PCM_16")
    return str(path)


def ranking(*pairs: tuple[str, float]) -> str:
    return json.dumps([[n, c] for n, c in pairs], ensure_ascii=False)


# (text, vosk, second, intent, confidence, outcome, router confidence, ranking)
TURNS = [
    (
        "케이크 예약하고 싶어요",
        None,
        None,
        "cake_order",
        0.93,
        "accepted",
        0.95,
        ranking(("cake_order", 0.93), ("order_cancel", 0.04), ("store_hours", 0.01)),
    ),
    (
        "주차 돼요",
        "주차 돼요",
        "주차 되요",
        "store_parking",
        0.41,
        "refused",
        0.52,
        ranking(("store_parking", 0.41), ("store_hours", 0.3), ("cake_order", 0.1)),
    ),
    (
        "영업 시간 알려 주세요",
        None,
        None,
        "store_hours",
        0.88,
        "accepted",
        0.9,
        ranking(("store_hours", 0.88), ("store_parking", 0.05), ("cake_order", 0.02)),
    ),
    (
        "주차 되나요 거기",
        None,
        None,
        "store_parking",
        0.45,
        "refused",
        0.55,
        ranking(("store_parking", 0.45), ("store_hours", 0.2), ("cake_order", 0.1)),
    ),
]


def seed_calls(
    config_path: Path, calls: int = 2, save_audio: bool = True, at: float = 1_765_000_000.0
) -> list[str]:
    """`calls` calls of TURNS (after a greeting), audio saved for each caller turn; returns their SIDs."""
    from telephony.settings import read_telephony_settings

    settings = read_telephony_settings(load_config(config_path))
    log = CallLog(settings.sqlalchemy_url)
    sids = []
    try:
        for c in range(calls):
            sid = f"CA{c:032d}"
            sids.append(sid)
            start = at + c * 600
            log.start_call(sid, caller="+821012345678", bot_version="v1", at=start)
            log.add_turn(TurnRecord(sid, 0, "greeting", start, reply="안녕하세요, 밀빛 베이커리입니다."))
            for n, (text, vosk, second, intent, conf, outcome, rconf, rank) in enumerate(TURNS, start=1):
                audio = None
                if save_audio:
                    audio = tone_wav(settings.state_dir / "calls" / sid / f"turn-{n:03d}.wav")
                log.add_turn(
                    TurnRecord(
                        sid,
                        n,
                        "speech",
                        start + 10 * n,
                        caller_text=text,
                        vosk_text=vosk,
                        second_text=second,
                        text_source="second" if second else None,
                        second_outcome="used" if second else None,
                        domain=intent.split("_")[0] if intent else None,
                        intent=intent,
                        intent_confidence=conf,
                        reply="네.",
                        bot_version="v1",
                        outcome=outcome,
                        router_domain="store" if "store" in intent else "order",
                        router_confidence=rconf,
                        ranking=rank,
                        audio_path=audio,
                    )
                )
            log.end_call(sid, "completed", at=start + 60)
    finally:
        log.close()
    return sids
