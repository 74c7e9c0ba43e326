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
    "price": "메뉴 가격이 얼마인가요",
}
# The sentences of the static-graph domain model (`static_graph_model`): the clips' words and a few more.
STATIC_GRAPH_TEXT = [
    "내일 저녁 일곱 시에 다섯 명 예약하고 싶어요",
    "내일 저녁 일곱 시에 다섯 명 예약하고 싶어요",
    "영업시간이 어떻게 되나요",
    "주차 가능한가요",
    "배달 되나요",
    "예약을 취소하고 싶어요",
]


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


@pytest.fixture(scope="session")
def static_graph_model(tmp_path_factory: pytest.TempPathFactory, stt_settings: SttSettings):
    """A domain model with a static graph (graph/HCLG.fst, as `callbot train` builds it), loaded once.

    Built from a few restaurant sentences on the bundled model (~15 s); skipped without OpenFst's tools.
    """
    from stt.engine import load_model
    from stt.lm.build import build_domain_model
    from stt.lm.model_path import find_bundled_model

    if shutil.which("fstcompose") is None:
        pytest.skip("libfst-tools is not installed (make installs it)")
    folder = tmp_path_factory.mktemp("static-graph") / "static"
    build_domain_model(find_bundled_model(), STATIC_GRAPH_TEXT, folder)
    return load_model(folder, stt_settings)
