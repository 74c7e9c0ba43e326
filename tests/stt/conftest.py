"""Shared stt fixtures: espeak-ng Korean clips and one loaded Vosk model for the whole session."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from stt.config import SttSettings

PHRASES = {
    "hello": "안녕하세요 예약하고 싶어요",
    "hours": "영업시간이 어떻게 되나요",
    "cancel": "주문 취소하고 싶어요",
}


def _espeak_wav(text: str, path: Path) -> Path:
    """Korean speech from espeak-ng (22.05 kHz mono WAV); the test is skipped when espeak-ng is absent."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run([exe, "-v", "ko", "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return path


@pytest.fixture(scope="session")
def speak() -> Callable[[str, Path], Path]:
    """`speak(text, wav_path)` writes a Korean espeak-ng clip (skips the test without espeak-ng)."""
    return _espeak_wav


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("espeak")
    return {name: _espeak_wav(text, folder / f"{name}.wav") for name, text in PHRASES.items()}


@pytest.fixture(scope="session")
def stt_settings(tmp_path_factory: pytest.TempPathFactory) -> SttSettings:
    return SttSettings(work_dir=tmp_path_factory.mktemp("stt-work"), max_streams=4, threads=2)


@pytest.fixture(scope="session")
def recognizer(stt_settings: SttSettings):
    """The bundled Korean model, loaded once (~2 s) and shared by every stt test."""
    from stt.engine import SpeechRecognizer

    rec = SpeechRecognizer.from_settings(stt_settings)
    yield rec
    rec.close()
