"""End to end with the real parts: tiny trained Rasa models, the bundled Vosk Korean model, espeak-ng.

The real server on loopback, driven by the simulator: espeak-ng speech -> mu-law frames -> Vosk ->
router + domain models -> reply -> espeak-ng -> frames back; the call log holds what happened.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.config import Config
from telephony.server import Secrets, ServerThread, build_services
from telephony.simulator import AudioTurn, DtmfTurn, simulate_call
from tests.bot.runtime_models import RESPONSES, shared_bot
from tests.bot.test_runtime import model_cache
from tests.telephony.telephony_fakes import RecordingHttpClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]
AUTH, ADMIN = "e2e-auth", "e2e-admin"


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator:
    # The tiny bot shared with the bot tests (trained and loaded once per test session).
    bot, _ = shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))
    root = tmp_path_factory.mktemp("e2e")
    raw = {
        "paths": {"state_dir": str(root / "var")},
        # espeak-ng audio tests the plumbing with Vosk; the second pass has its own tests
        "stt": {
            "work_dir": str(root / "stt"),
            "max_streams": 8,
            "threads": 2,
            "second_pass": {"engine": "none"},
        },
        "telephony": {"agent_number": "+8215880000", "save_audio": True},
    }
    config = Config(path=root / "callbot.yml", raw=raw)
    http = RecordingHttpClient()

    async def factory():  # noqa: ANN202
        return await build_services(config, Secrets("AC" + "2" * 32, AUTH, ADMIN), bot=bot, http_client=http)

    with ServerThread(factory) as server:
        yield server, http


def _speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True, capture_output=True)
    return path


def test_spoken_question_is_recognized_routed_and_answered(real_server, tmp_path: Path) -> None:  # noqa: ANN001
    server, _ = real_server
    clip = _speak("영업시간 알려주세요", tmp_path / "hours.wav")
    result = asyncio.run(
        simulate_call(server.url, [AudioTurn(path=clip)], auth_token=AUTH, admin_token=ADMIN, fast=True)
    )
    greeting, turn = result.log["turns"]
    assert greeting["reply"] == RESPONSES["utter_common_greet"]
    # The bundled small Vosk model hears espeak-ng's robotic Korean poorly over 8 kHz mu-law, so the
    # words (and hence the intent) are not asserted; that a transcript reached the real bot is.
    assert turn["kind"] == "speech" and turn["caller_text"] and 0 < turn["stt_confidence"] <= 1
    assert turn["reply"] and turn["action"] in ("none", "handoff")
    assert turn["first_audio_ms"] is not None and turn["nlu_ms"] is not None
    assert Path(turn["audio_path"]).is_file()  # save_audio: the caller's turn as WAV
    assert result.replies == 2 and len(result.reply_latencies_ms) == 1
    assert len(result.bot_audio) > 2 * 8000  # the greeting and the answer were spoken


def test_keypad_zero_hands_off_with_the_real_bot(real_server) -> None:  # noqa: ANN001
    server, http = real_server
    # The caller stays on the line up to 5 s after the reply for the server to end the call (the handoff
    # waits for the reply's mark, then the REST update): 1 s was not always enough on a loaded CI machine.
    result = asyncio.run(
        simulate_call(server.url, [DtmfTurn("0")], auth_token=AUTH, admin_token=ADMIN, fast=True, linger=5.0)
    )
    assert result.closed_by_server
    assert result.log["turns"][-1]["action"] == "handoff"
    request = next(r for r in http.requests if r["uri"].endswith(f"/Calls/{result.call_sid}.json"))
    assert request["data"]["Twiml"].endswith("<Response><Dial>+8215880000</Dial></Response>")
