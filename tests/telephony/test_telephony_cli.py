"""`callbot calls ...` and `callbot simulate-call` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from typer.testing import CliRunner

from callbot.cli.main import app
from stt.codec import ulaw_to_pcm16
from telephony.calllog import CallLog, TurnRecord
from tests.telephony.telephony_fakes import ADMIN_TOKEN, AUTH_TOKEN, tone


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "callbot.yml"
    path.write_text(yaml.safe_dump({"paths": {"state_dir": str(tmp_path / "var")}}), encoding="utf-8")
    return path


def test_calls_list_show_export(tmp_path: Path) -> None:
    config = _config(tmp_path)
    log = CallLog(f"sqlite:///{tmp_path / 'var' / 'calls.db'}")
    log.start_call("CAcli", "AC1", "+821011112222", "+8215885000", "v7")
    log.add_turn(
        TurnRecord(
            "CAcli",
            1,
            "speech",
            1.0,
            caller_text="주차 되나요",
            stt_confidence=0.4,
            intent="store_parking",
            intent_confidence=0.3,
            reply="다시 말씀해 주세요",
        )
    )
    log.end_call("CAcli", "ended", "stop")
    log.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["--config", str(config), "calls", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [c["call_sid"] for c in json.loads(listed.output)] == ["CAcli"]
    shown = runner.invoke(app, ["--config", str(config), "calls", "show", "CAcli"])
    assert shown.exit_code == 0 and "status=ended end=stop" in shown.output
    shown = runner.invoke(app, ["--config", str(config), "calls", "show", "CAcli", "--json"])
    (turn,) = json.loads(shown.output)["turns"]
    assert (turn["caller_text"], turn["intent"]) == ("주차 되나요", "store_parking")
    missing = runner.invoke(app, ["--config", str(config), "calls", "show", "CAnope"])
    assert missing.exit_code == 1 and "no call 'CAnope'" in missing.output
    out = tmp_path / "review.csv"
    exported = runner.invoke(
        app, ["--config", str(config), "calls", "export", "--low-confidence", "-o", str(out)]
    )
    assert exported.exit_code == 0 and "1 caller turns" in exported.output
    assert out.read_text(encoding="utf-8").splitlines()[1] == "CAcli,1,customer,주차 되나요,,"


def test_simulate_call_command_saves_the_bot_audio(fake_server, tmp_path: Path) -> None:  # noqa: ANN001
    clip = tmp_path / "caller.wav"

    sf.write(str(clip), np.frombuffer(ulaw_to_pcm16(tone(0.6)), dtype="<i2"), 8000)
    with fake_server(script=["영업시간 알려주세요"]) as srv:
        out = tmp_path / "bot.wav"
        args = [
            "--config",
            str(_config(tmp_path)),
            "simulate-call",
            str(clip),
            "--url",
            srv.url,
            "--fast",
            "--auth-token",
            AUTH_TOKEN,
            "--admin-token",
            ADMIN_TOKEN,
            "--out",
            str(out),
            "--json",
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["replies"] == 2 and report["log"]["turns"][1]["caller_text"] == "영업시간 알려주세요"
        info = sf.info(str(out))
        assert info.samplerate == 8000 and info.duration > 2.0


def test_calls_show_prints_what_each_pass_heard_and_which_was_used(tmp_path: Path) -> None:
    config = _config(tmp_path)
    log = CallLog(f"sqlite:///{tmp_path / 'var' / 'calls.db'}")
    log.start_call("CA2p", "AC1", "+821011112222", "+8215885000", "v7")
    log.add_turn(
        TurnRecord(
            "CA2p", 1, "speech", 1.0, caller_text="강남점 주차 돼요", vosk_text="강남 저 주차 대요",
            second_text="강남점 주차 돼요", text_source="whisper", second_outcome="used",
        )
    )  # fmt: skip
    log.add_turn(
        TurnRecord(
            "CA2p", 2, "speech", 2.0, caller_text="네", vosk_text="네",
            second_text="시청해 주셔서 감사합니다", text_source="vosk", second_outcome="rejected:known_phrase",
        )
    )  # fmt: skip
    log.update_turn("CA2p", 1, {"vosk_text": "강남 저 주차 대요 010-1234-5678"})  # filled in later, masked
    log.end_call("CA2p", "ended", "stop")
    log.close()
    from callbot.cli.calls_cmd import _heard

    shown = CliRunner().invoke(app, ["--config", str(config), "calls", "show", "CA2p", "--json"])
    first, second = json.loads(shown.output)["turns"]
    assert _heard(first).splitlines() == [
        "강남점 주차 돼요",
        "  vosk: 강남 저 주차 대요 <PHONE>",
        "* 2nd: 강남점 주차 돼요 (used)",
    ]
    assert _heard(second).splitlines() == [
        "네",
        "* vosk: 네",
        "  2nd: 시청해 주셔서 감사합니다 (rejected:known_phrase)",
    ]
    table = CliRunner().invoke(app, ["--config", str(config), "calls", "show", "CA2p"])
    assert table.exit_code == 0 and "vosk:" in table.output and "2nd:" in table.output
