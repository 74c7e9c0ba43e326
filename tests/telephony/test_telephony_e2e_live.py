"""Live calls end to end with every real part: a reservation, barge-in, a hot reload mid-call.

The real server on loopback (ServerThread + build_services) with the tiny trained Rasa bot, Vosk and
espeak-ng, driven by the simulator. The bundled Vosk model hears espeak-ng's Korean poorly over 8 kHz
mu-law, so speech is used where it is reliable: "네", and "테이블 예약" decoded with a domain LM built
from the tiny bot's own training sentences (what `callbot train` does with `bot.post_train: [stt_lm]`),
which Vosk hears as "내일 예약". Numbers and yes go over the keypad. Decoding is deterministic (stt.dither
defaults to 0).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.models import current_model_set, switch_current, write_manifest
from bot.reservations import ReservationStore
from callbot.config import Config
from stt.audio import PHONE_RATE, read_audio, to_telephone
from stt.lm.build import build_domain_model
from stt.models import bundled_model_path
from telephony.server import Secrets, ServerThread, build_services
from telephony.simulator import AudioTurn, DtmfTurn, HoldTurn, simulate_call
from tests.bot.runtime_models import (
    COMMON,
    RESERVATION,
    RESPONSES,
    STORE,
    link_models,
    shared_bot,
    train_tiny_models,
)
from tests.bot.test_runtime import model_cache
from tests.telephony.telephony_fakes import RecordingHttpClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed"),
]
AUTH, ADMIN = "live-auth", "live-admin"
BOOK = "테이블 예약"  # heard as "내일 예약" through the domain LM, as garbage through the bundled model
MENU = "번호로 선택하실 수도 있어요. 예약은 1번, 매장 안내는 2번, 상담원 연결은 0번을 눌러 주세요."
GAP = b"\xff" * int(PHONE_RATE * 1.2)  # mu-law silence, longer than the VAD hangover: ends an utterance


def _tiny_sentences() -> list[str]:
    """The tiny bot's training examples without entity markup: the text of its domain LM."""
    intents = {**COMMON, **RESERVATION, **STORE}
    return [re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t) for texts in intents.values() for t in texts]


def _add_domain_lm(version_dir: Path) -> Path:
    report = build_domain_model(bundled_model_path(), _tiny_sentences(), version_dir / "stt" / "domain")
    return Path(report.out_dir)


def _speak(text: str, folder: Path) -> bytes:
    """espeak-ng Korean as the 8 kHz mu-law a phone line carries."""
    path = folder / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True, capture_output=True)
    return to_telephone(read_audio(path, PHONE_RATE), PHONE_RATE)


@pytest.fixture(scope="module")
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    return shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))


@contextmanager
def _serve(root: Path, bot: Any, models_dir: Path, **telephony: Any) -> Iterator[ServerThread]:
    """A real server over `bot`; its recognizer follows `models_dir` (domain LM of `current`)."""
    raw = {
        "paths": {"state_dir": str(root / "var"), "models_dir": str(models_dir)},
        # espeak-ng audio tests the plumbing with Vosk; the second pass has its own tests
        "stt": {
            "work_dir": str(root / "stt"),
            "max_streams": 8,
            "threads": 2,
            "second_pass": {"engine": "none"},
        },
        "telephony": {"agent_number": "+8215880000", **telephony},
    }
    config = Config(path=root / "callbot.yml", raw=raw)

    async def factory():  # noqa: ANN202
        return await build_services(
            config, Secrets("AC" + "3" * 32, AUTH, ADMIN), bot=bot, http_client=RecordingHttpClient()
        )

    with ServerThread(factory) as server:
        yield server


@pytest.fixture(scope="module")
def lm_server(tiny, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # noqa: ANN001
    """A server whose recognizer uses the tiny bot's domain LM from the start."""
    bot, _ = tiny
    root = tmp_path_factory.mktemp("live")
    models = link_models(train_tiny_models(model_cache(request)), root / "models")
    _add_domain_lm(current_model_set(models).directory)
    with _serve(root, bot, models) as server:
        yield server


def _call(server: ServerThread, turns: list, **kwargs: Any) -> Any:
    kwargs.setdefault("fast", True)
    return asyncio.run(simulate_call(server.url, turns, auth_token=AUTH, admin_token=ADMIN, **kwargs))


def test_a_reservation_completed_by_voice_and_keypad(lm_server, tiny, tmp_path: Path) -> None:  # noqa: ANN001
    _, folder = tiny
    (folder / "reserved.txt").unlink(missing_ok=True)
    turns = [AudioTurn(ulaw=_speak(BOOK, tmp_path)), DtmfTurn("4#"), DtmfTurn("1")]
    result = _call(lm_server, turns)
    greeting, book, four, hash_key, yes = result.log["turns"]
    assert greeting["reply"] == RESPONSES["utter_common_greet"]
    assert book["kind"] == "speech" and "예약" in book["caller_text"]
    assert (book["domain"], book["intent"]) == ("reservation", "reservation_book")
    assert book["reply"] == RESPONSES["utter_ask_party_size"]
    assert (four["caller_text"], four["reply"]) == ("4", "")  # a digit is buffered until '#'
    assert hash_key["reply"] == "4명으로 예약할까요?"
    assert (yes["caller_text"], yes["intent"], yes["reply"]) == (
        "1",
        "common_affirm",
        "4명으로 예약했습니다.",
    )
    # The tiny sample's in-process custom action stored the party size.
    assert (folder / "reserved.txt").read_text(encoding="utf-8") == "4"
    stored = ReservationStore(f"sqlite:///{folder / 'var' / 'callbot.db'}").find_by_phone(
        result.call_sid[-20:]
    )
    assert stored is not None and stored.party_size == 4  # the row the custom action wrote to SQLite
    assert result.log["status"] == "ended" and not result.closed_by_server
    assert result.replies == 4 and result.clears == 0


def test_speech_over_the_bot_clears_its_audio_but_a_backchannel_does_not(
    lm_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG, logger="telephony.session")
    menu_seconds = len(asyncio.run(lm_server.services.speech.tts.synthesize(MENU))) / PHONE_RATE
    # While the keypad menu plays, the caller says "네" (a backchannel), pauses, then asks for a table.
    words = _speak("네", tmp_path) + GAP + _speak(BOOK, tmp_path)
    turns = [DtmfTurn("5"), AudioTurn(ulaw=words, barge_in=True)]
    result = _call(lm_server, turns, fast=False, reply_timeout=10.0)  # real time: the menu "plays"
    _, menu, spoken = result.log["turns"]
    assert menu["reply"] == MENU and menu_seconds > 5
    assert result.clears == 1  # the request for a table cut the menu; "네" did not
    assert spoken["barged_in"] and spoken["caller_text"] not in ("", "네") and spoken["reply"]
    # The bot answered before the menu would have finished playing: its playback had stopped.
    assert spoken["at"] < menu["at"] + menu["first_audio_ms"] / 1000 + menu_seconds
    said = [r.getMessage() for r in caplog.records if r.name == "telephony.session"]
    assert [m for m in said if ".backchannel " in m] == [
        f"telephony.session.backchannel call={result.call_sid} text=네"
    ]
    (barge,) = [m for m in said if ".barge_in " in m]
    assert not barge.endswith("text=네")  # the partial that interrupted was the request, not "네"


def _new_version(models_dir: Path, name: str) -> Path:
    """The current version's archives (hard links) under a new name, with a domain LM; not yet current."""
    source = current_model_set(models_dir).directory
    target = models_dir / name
    target.mkdir()
    for f in source.iterdir():
        if f.is_file() and f.name != "manifest.json":
            os.link(f, target / f.name)
    manifest = current_model_set(models_dir).manifest
    write_manifest(target, {**manifest, "version": name})
    _add_domain_lm(target)
    return target


def test_hot_reload_during_a_live_call(tiny, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    bot, folder = tiny
    models = folder / "models"
    old_version, new_version = bot.version, f"v-live-{secrets.token_hex(3)}"
    version_dir = _new_version(models, new_version)
    book = _speak(BOOK, tmp_path)
    caplog.set_level(logging.DEBUG, logger="rasa.core.processor")
    after_reload: dict[str, Any] = {}

    # The recognizer starts on the bundled model (no domain LM in the current version).
    with _serve(tmp_path, bot, models, silence={"reprompt_seconds": 120.0}) as server:
        services = server.services
        old_recognizer = services.recognizer

        async def reload() -> None:
            switch_current(models, new_version)  # what `callbot train` does at its end
            async with httpx.AsyncClient(timeout=600) as http:
                response = await http.post(
                    server.url + "/admin/reload", headers={"Authorization": f"Bearer {ADMIN}"}
                )
            after_reload.update(response.json(), records=len(caplog.records))

        yes_audio = _speak("네", tmp_path)
        live = _call(
            server, [DtmfTurn("5"), HoldTurn(reload), AudioTurn(ulaw=yes_audio), AudioTurn(ulaw=book)]
        )
        new = _call(server, [AudioTurn(ulaw=book)])
        recognizer = services.recognizer
        again = httpx.post(server.url + "/admin/reload", headers={"Authorization": f"Bearer {ADMIN}"})
        assert again.json()["version"] == new_version and services.recognizer is recognizer  # unchanged

    assert after_reload["version"] == new_version and bot.version == new_version
    assert after_reload["live_calls"] == 1  # the call was in progress during the reload
    # The live call carried on: its turn after the reload was answered by the new version's models.
    menu, yes, live_book = live.log["turns"][1:4]
    assert menu["reply"] == MENU and yes["intent"] == "common_affirm"
    assert yes["reply"] == RESPONSES["utter_common_affirm"]
    assert live.log["end_reason"] == "stop" and not live.closed_by_server  # the caller hung up, not us
    threads = {
        r.threadName
        for r in caplog.records[after_reload["records"] :]
        if r.name == "rasa.core.processor" and r.getMessage().startswith("Predicted next action")
    }
    assert threads == {f"callbot-rasa-{new_version}"}
    assert live.log["bot_version"] == old_version and new.log["bot_version"] == new_version
    # New calls decode with the new version's domain LM ...
    assert services.recognizer is not old_recognizer
    assert services.recognizer.models[PHONE_RATE].source == version_dir / "stt" / "domain"
    heard = new.log["turns"][1]
    assert "예약" in heard["caller_text"] and heard["reply"] == RESPONSES["utter_ask_party_size"]
    # ... while the call in progress kept the recognizer it started with (the general model).
    assert "예약" not in live_book["caller_text"]
