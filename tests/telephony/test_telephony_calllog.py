"""Call log storage, PII masking, the review export that `data build` reads back, the TTS cache."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import yaml

from callbot.config import Config
from callbot.events import TurnOutcome, Understanding
from data.readers import read_table, resolve_columns
from data.settings import CHAT_COLUMNS
from telephony import CallLogError
from telephony.calllog import CallLog, TurnRecord, understanding_fields
from telephony.tts_cache import AudioCache, CachedSpeech, build_cache, cache_key, fixed_responses


def _log(tmp_path: Path) -> CallLog:
    return CallLog(f"sqlite:///{tmp_path / 'var' / 'calls.db'}")


def test_turns_are_masked_and_calls_closed_once(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.start_call("CA1", "AC1", "+821012345678", "+8215885000", "v1")
    log.add_turn(
        TurnRecord(
            "CA1",
            1,
            "speech",
            1.0,
            caller_text="제 번호는 010-9876-5432 입니다",
            stt_confidence=0.8,
            intent="ask",
            intent_confidence=0.9,
            reply="확인했습니다",
        )
    )
    log.end_call("CA1", "ended", "stop", {"frames_in": 10, "frames_dropped": 0, "frames_out": 5})
    log.end_call("CA1", "completed", "twilio: completed")
    call = log.get_call("CA1")
    assert call["caller"] != "+821012345678" and "5678" not in call["caller"]
    assert call["status"] == "completed" and call["end_reason"] == "stop" and call["frames_in"] == 10
    (turn,) = call["turns"]
    assert "9876" not in turn["caller_text"] and turn["pii"] == "PHONE:1"
    assert [c["turns"] for c in log.list_calls()] == [1]
    with pytest.raises(CallLogError, match="no call 'CA404'"):
        log.get_call("CA404")
    log.close()


def test_how_the_bot_read_a_turn_is_stored_with_it_and_a_confirmation_labels_the_asked_turn(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path)
    log.start_call("CA2", bot_version="v1")
    read = Understanding(
        TurnOutcome.CONFIRM_ASKED,
        router_domain="menu",
        router_confidence=0.41,
        ranking=(("menu_discount", 0.52), ("common_out_of_scope", 0.3)),
        text="학생 할인 되나요 010-1111-2222",
        version="20261207-1",
    )
    log.add_turn(
        TurnRecord("CA2", 1, "speech", 1.0, caller_text="학생 활인 되나요", **understanding_fields(read))
    )
    log.update_turn("CA2", 1, {"confirm": "yes"})
    (turn,) = log.get_call("CA2")["turns"]
    assert (turn["outcome"], turn["router_domain"], turn["bot_version"]) == (
        "confirm_asked",
        "menu",
        "20261207-1",
    )
    assert json.loads(turn["ranking"]) == [["menu_discount", 0.52], ["common_out_of_scope", 0.3]]
    assert turn["confirm"] == "yes"
    assert "1111" not in turn["parsed_text"] and turn["parsed_text"].startswith("학생 할인 되나요")
    assert understanding_fields(None) == {}
    log.close()


def test_low_confidence_export_reads_back_as_a_chat_log(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.start_call("CA2")
    rows = [
        TurnRecord("CA2", 0, "greeting", 1.0, reply="안녕하세요"),
        TurnRecord(
            "CA2",
            1,
            "speech",
            2.0,
            caller_text="영업시간",
            stt_confidence=0.9,
            intent="store_hours",
            intent_confidence=0.95,
            reply="11시부터입니다",
        ),
        TurnRecord(
            "CA2",
            2,
            "speech",
            3.0,
            caller_text="주차 돼요",
            stt_confidence=0.9,
            intent="store_location",
            intent_confidence=0.3,
            reply="다시 말씀해 주세요",
        ),
        TurnRecord(
            "CA2", 3, "speech", 4.0, caller_text="흠 그게", stt_confidence=0.2, intent=None, reply="네?"
        ),
        TurnRecord("CA2", 4, "dtmf", 5.0, caller_text="1", reply="메뉴 1번"),
    ]
    for r in rows:
        log.add_turn(r)
    out = tmp_path / "review.csv"
    assert log.export_low_confidence(out, 0.5) == 2
    frame = read_table(out)
    cols = resolve_columns(frame, out, dict(CHAT_COLUMNS), required=["conversation", "speaker", "text"])
    assert cols["order"] == "turn" and cols["intent"] == "intent"
    got = list(zip(frame["turn"].astype(int), frame["speaker"], frame["text"], strict=True))
    assert got == [
        (3, "customer", "주차 돼요"),
        (4, "agent", "다시 말씀해 주세요"),
        (5, "customer", "흠 그게"),
        (6, "agent", "네?"),
    ]
    log.close()


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="unusable"):
        CallLog("nosuchdialect://x")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_tts_cache_hook_renders_fixed_responses_only(tmp_path: Path) -> None:
    domain = {
        "responses": {
            "utter_hours": [{"text": "영업시간은 열한 시부터입니다."}],
            "utter_confirm": [{"text": "{party_size}명으로 예약할까요?"}],
        }
    }
    folder = tmp_path / "build" / "rasa" / "store"
    folder.mkdir(parents=True)
    (folder / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    assert fixed_responses(tmp_path / "build") == ["영업시간은 열한 시부터입니다."]
    config = Config(path=tmp_path / "callbot.yml", raw={"paths": {"state_dir": "var"}})
    report = build_cache(config, tmp_path / "build", tmp_path / "models" / "v1")
    assert report["rendered"] == report["texts"] == 4  # the response + busy/handoff/goodbye lines
    cache = AudioCache(tmp_path / "var" / "tts_cache")
    audio = cache.get("영업시간은 열한 시부터입니다.", "ko", "espeak")
    assert audio is not None and len(audio) > 8000  # over a second of 8 kHz mu-law
    manifest = json.loads((tmp_path / "models" / "v1" / "tts_cache.json").read_text(encoding="utf-8"))
    assert manifest["entries"][cache_key("영업시간은 열한 시부터입니다.", "ko", "espeak")]
    assert not any("{" in t for t in manifest["entries"].values())
    assert build_cache(config, tmp_path / "build", tmp_path / "models" / "v1")["rendered"] == 0  # reused


def test_cached_speech_serves_fixed_text_from_cache(tmp_path: Path) -> None:
    class Counting:
        name, voice, speaks_via_call = "fake", "v", False

        def __init__(self) -> None:
            self.calls = 0

        async def synthesize(self, text: str) -> bytes:
            self.calls += 1
            return b"\x01" * 160

    tts = Counting()
    speech = CachedSpeech(tts, AudioCache(tmp_path / "cache"), recent=2)  # type: ignore[arg-type]
    for _ in range(3):
        assert asyncio.run(speech.speech("고정 안내", fixed=True)) == b"\x01" * 160
        asyncio.run(speech.speech("3명으로 예약했습니다", fixed=False))
    assert tts.calls == 1 + 1  # fixed: once, then the disk cache; a recurring slot-filled text: from memory
    assert len(list((tmp_path / "cache").iterdir())) == 1  # slot-filled text never goes to disk
    for text in ("4명으로 예약했습니다", "5명으로 예약했습니다", "3명으로 예약했습니다"):
        asyncio.run(speech.speech(text, fixed=False))
    assert tts.calls == 2 + 3  # only the 2 most recent stay: 3명 was pushed out and synthesized again


def test_the_second_pass_n_best_is_kept_masked_and_an_older_log_gains_its_column(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from telephony.calllog import alternatives_json

    path = tmp_path / "var" / "calls.db"
    path.parent.mkdir(parents=True)
    old = sa.create_engine(f"sqlite:///{path}")
    with old.begin() as db:  # a call log written before the column existed
        db.execute(
            sa.text(
                "CREATE TABLE calls (call_sid VARCHAR(64) PRIMARY KEY, started_at FLOAT, status VARCHAR(32))"
            )
        )
        db.execute(
            sa.text(
                "CREATE TABLE turns (id INTEGER PRIMARY KEY, call_sid VARCHAR(64), turn INTEGER, kind VARCHAR(16), at FLOAT)"
            )
        )
    old.dispose()
    log = _log(tmp_path)
    heard = (("제 번호는 010-9876-5432", 0.7), ("제 번호는 010-9876-5431", 0.2), ("재 번호는", 0.1))
    log.start_call("CA3")
    log.add_turn(
        TurnRecord(
            "CA3", 1, "speech", 1.0, caller_text=heard[0][0], text_source="whisper",
            second_text=heard[0][0], second_alternatives=alternatives_json(heard),
        )
    )  # fmt: skip
    log.add_turn(
        TurnRecord("CA3", 2, "speech", 2.0, caller_text="네", second_alternatives=alternatives_json(()))
    )
    first, second = log.get_call("CA3")["turns"]
    stored = json.loads(first["second_alternatives"])
    assert [p for _, p in stored] == [0.7, 0.2, 0.1] and stored[2][0] == "재 번호는"
    assert all("9876" not in text for text, _ in stored)  # masked like the caller's text they repeat
    assert stored[0][0] == first["second_text"] and second["second_alternatives"] is None
    log.update_turn("CA3", 2, {"second_alternatives": alternatives_json((("010-1234-5678 이요", 1.0),))})
    ((text, p),) = json.loads(log.get_call("CA3")["turns"][1]["second_alternatives"])
    assert "5678" not in text and p == 1.0
    log.close()
