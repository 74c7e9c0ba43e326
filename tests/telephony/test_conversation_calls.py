"""`callbot test conversations --tts`: conversations as calls through a real server on loopback (the
sample's reduced models, the bundled Vosk model, espeak-ng), judged by the same checks as text.

Recognition of espeak-ng's Korean is poor, so these conversations rest on what survives it: keys and
silences, and that a spoken step reaches the bot as recognized words."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.conversations.spec import load_suites
from callbot.config import Config
from telephony.conversation_calls import run_phone
from tests.bot.sample_models import train_sample_models

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]

CALLS = """today: 2026-12-02
conversations:
  - name: a spoken request, then 0 for a person
    steps:
      - user: 강남점 예약할래
      - dtmf: "0"
    expect: {handoff: true, no_reservation: true}
  - name: a caller who says nothing is let go after the reprompts
    steps:
      - silence: true
      - silence: true
      - silence: true
    expect: {hangup: true}
  - name: expects a reservation that was never made, on purpose
    steps:
      - dtmf: "0"
    expect: {reservation: {store: 강남점}}
"""


def test_conversations_run_as_phone_calls(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir("callbot-sample-models")) if cache else Path(tempfile.mkdtemp())
    sample, _ = train_sample_models(folder, tmp_path / "sample")
    # espeak-ng audio tests the plumbing with Vosk; the second pass has its own tests
    stt = {
        "work_dir": str(tmp_path / "stt"),
        "max_streams": 4,
        "threads": 2,
        "second_pass": {"engine": "none"},
    }
    raw = {**sample.raw, "stt": stt}
    raw["telephony"] = {
        **(raw.get("telephony") or {}),
        "silence": {"reprompt_seconds": 1.0, "max_reprompts": 2},
    }
    config = Config(path=sample.path, raw=raw)
    (tmp_path / "calls.yml").write_text(CALLS, encoding="utf-8")
    run = asyncio.run(run_phone(config, load_suites([tmp_path / "calls.yml"])))
    spoken, silent, wrong = run.results
    assert run.mode == "phone" and (run.passed, len(run.results)) == (2, 3)
    assert spoken.passed and "(heard: " in spoken.transcript[1][1]  # the recognizer's words reached the bot
    assert spoken.transcript[2][1].endswith("[handoff]")
    assert silent.passed and "통화를 종료" in silent.transcript[-1][1]  # the call session gave up
    assert wrong.failure is not None and wrong.failure.check == "reservation"


def test_the_recording_bot_offers_everything_a_call_asks_of_a_bot() -> None:
    """The phone runner wraps the real bot; a call that leaves or moves calls every BotLike method."""
    from telephony.conversation_calls import RecordingBot
    from telephony.services import BotLike

    wanted = {name for name in vars(BotLike) if not name.startswith("_")} | set(BotLike.__annotations__)
    missing = sorted(name for name in wanted if not hasattr(RecordingBot, name))
    assert missing == []
