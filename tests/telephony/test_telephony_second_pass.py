"""The second pass in a call, end to end: the real server, the tiny trained bot, Vosk and the real
bundled Whisper model. The caller's audio is paced in real time, so the early reading happens inside
the endpoint window as in a live call; the call log keeps both texts and which one the turn used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callbot.config import Config
from callbot.events import UserText
from telephony.server import Secrets, ServerThread, build_services
from telephony.simulator import AudioTurn, simulate_call
from tests.bot.runtime_models import RESPONSES, shared_bot
from tests.bot.test_runtime import model_cache
from tests.telephony.telephony_fakes import RecordingHttpClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]
AUTH, ADMIN = "e2e-auth", "e2e-admin"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, whisper_cache: Path
) -> Iterator:
    bot, _ = shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))
    root = tmp_path_factory.mktemp("second-pass")
    (root / "stt").mkdir()
    (root / "stt" / "whisper").symlink_to(whisper_cache)  # the session's assembled model
    raw = {
        "paths": {"state_dir": str(root / "var")},
        "stt": {"work_dir": str(root / "stt"), "max_streams": 4, "threads": 2},  # second_pass: the defaults
        "telephony": {"agent_number": "+8215880000"},
    }
    config = Config(path=root / "callbot.yml", raw=raw)

    async def factory():  # noqa: ANN202
        return await build_services(
            config, Secrets("AC" + "4" * 32, AUTH, ADMIN), bot=bot, http_client=RecordingHttpClient()
        )

    with ServerThread(factory) as srv:
        yield srv


def _call(server: ServerThread, *clips: Path, linger: float = 2.0) -> dict:
    turns = [AudioTurn(path=clip) for clip in clips]
    result = asyncio.run(simulate_call(server.url, turns, auth_token=AUTH, admin_token=ADMIN, linger=linger))
    return result.log


def _wait_for_vosk_text(server: ServerThread, call_sid: str, turn: int, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        row = next(t for t in server.services.calllog.get_call(call_sid)["turns"] if t["turn"] == turn)
        if row["vosk_text"] is not None or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


def test_the_turn_acts_on_the_early_reading_and_logs_both_texts(server, tmp_path: Path, monkeypatch) -> None:
    yes = tmp_path / "yes.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(yes), "네"], check=True, capture_output=True)
    second = server.services.recognizer.second_pass
    before = dict(second.stats)
    bot, heard = server.services.bot, []
    handle = bot.handle

    async def spy(dialogue, event):  # noqa: ANN001, ANN202 - what the real bot was given
        heard.append(event)
        return await handle(dialogue, event)

    monkeypatch.setattr(bot, "handle", spy)
    log = _call(server, yes, linger=6.0)  # on the line until Vosk's final is logged too
    turn = next(t for t in log["turns"] if t["kind"] == "speech")
    assert (turn["text_source"], turn["second_outcome"]) == ("whisper", "used")
    assert turn["caller_text"].strip(" .") == "네" == turn["second_text"].strip(" .")
    # Whisper's n-best (the shipped n_best) went to the bot with its text, and into the call log.
    (said,) = [e for e in heard if isinstance(e, UserText)]
    assert said.text == turn["caller_text"] and said.alternatives[0][0] == said.text
    assert second.settings.n_best > 1 and 1 <= len(said.alternatives) <= second.settings.n_best
    assert json.loads(turn["second_alternatives"]) == [[t, p] for t, p in said.alternatives]
    assert turn["second_ms"] > 0
    # Vosk's text is logged once its final is decoded; the reply did not wait for it.
    logged = _wait_for_vosk_text(server, log["call_sid"], turn["turn"])
    assert logged["vosk_text"] is not None and logged["stt_ms"] is not None
    assert (turn["intent"], turn["reply"]) == ("common_affirm", RESPONSES["utter_common_affirm"])
    # Read inside the endpoint window: started when the speech stopped (how long the turn then waited
    # depends on the machine's load; benchmarks/calls_concurrent.py measures it).
    assert second.stats["speculative"] > before.get("speculative", 0)
    assert second.stats["used"] == before.get("used", 0) + 1


def test_whispers_invention_on_noise_is_never_the_callers_words(server, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    white = np.cumsum(rng.standard_normal(16000 * 3))  # 3 s of loud brown-ish line noise
    white -= np.convolve(white, np.ones(400) / 400, mode="same")
    noise = tmp_path / "noise.wav"
    sf.write(noise, (white / np.abs(white).max() * 0.3).astype(np.float32), 16000)
    second = server.services.recognizer.second_pass
    shipped = second.settings
    second.settings = dataclasses.replace(shipped, deadline_ms=20000)  # the reading is always waited for
    try:
        before = dict(second.stats)
        log = _call(server, noise)
    finally:
        second.settings = shipped
    speech = [t for t in log["turns"] if t["kind"] == "speech"]
    assert second.stats["rejected"] > before.get("rejected", 0)
    assert all(t["text_source"] == "vosk" and t["second_outcome"].startswith("rejected") for t in speech)


class _Held:
    """The real engine, held back until `release` (a loaded machine, made deterministic)."""

    def __init__(self, engine, delay: float | None = None) -> None:  # noqa: ANN001
        self.engine, self.name, self.delay = engine, engine.name, delay
        self.gate = threading.Event()

    def read(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        if self.delay is not None:
            time.sleep(self.delay)
        else:
            self.gate.wait(30)
        return self.engine.read(*args, **kwargs)

    def close(self) -> None:
        self.gate.set()


@pytest.fixture
def yes_clip(tmp_path: Path) -> Path:
    yes = tmp_path / "yes.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(yes), "네"], check=True, capture_output=True)
    return yes


def test_a_reading_past_its_deadline_leaves_the_turn_to_vosk(server, yes_clip: Path) -> None:
    second = server.services.recognizer.second_pass
    real = second.engine
    second.engine = _Held(real, delay=3.0)  # every reading takes 3 s longer than usual
    try:
        before = dict(second.stats)
        log = _call(server, yes_clip)
    finally:
        second.engine = real
    turn = next(t for t in log["turns"] if t["kind"] == "speech")
    assert (turn["text_source"], turn["second_outcome"]) == ("vosk", "late")
    assert turn["caller_text"] == turn["vosk_text"] and turn["second_text"] is None
    assert second.stats["late"] == before.get("late", 0) + 1


def test_when_every_reader_is_busy_the_turn_goes_on_with_vosk_at_once(server, yes_clip: Path) -> None:
    second = server.services.recognizer.second_pass
    real = second.engine
    held = second.engine = _Held(real)
    blockers = [second.start(b"\0\0" * 8000, 8000) for _ in range(second.settings.workers)]
    try:
        before = dict(second.stats)
        log = _call(server, yes_clip)
    finally:
        held.gate.set()
        second.engine = real
    assert all(b.refused is None for b in blockers)
    turn = next(t for t in log["turns"] if t["kind"] == "speech")
    assert (turn["text_source"], turn["second_outcome"]) == ("vosk", "busy")
    assert turn["second_wait_ms"] < 1000  # Vosk's final, not a queue behind other calls
    assert second.stats["busy"] == before.get("busy", 0) + 1
