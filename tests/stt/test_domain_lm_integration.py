"""The `stt_lm` post-train hook and the engine choosing the trained domain LM for phone audio."""

from __future__ import annotations

import dataclasses
import json
import logging
from difflib import SequenceMatcher
from pathlib import Path

import pytest
import yaml

from bot.models import switch_current
from callbot.config import load_config
from stt.audio import from_telephone, read_audio, to_telephone
from stt.config import read_stt_settings
from stt.lm.build import post_train
from stt.lm.errors import LmError
from stt.models import model_sources

SPOKEN = "내일 저녁 일곱 시에 다섯 명 예약하고 싶어요"
ROWS = [
    ("주차는 돼요", "train"),
    ("영업시간이 어떻게 되나요", "train"),
    ("예약을 취소하고 싶어요", "train"),
    (SPOKEN, "train"),
    (SPOKEN, "train"),
    ("배달 되나", "test"),
]


def _config(root: Path, stt: dict) -> Path:
    path = root / "callbot.yml"
    path.write_text(yaml.safe_dump({"paths": {"models_dir": "models"}, "stt": stt}), encoding="utf-8")
    return path


def _version(models_dir: Path, name: str) -> Path:
    """A minimal complete model version (what `bot.models.load_model_set` checks) made current."""
    folder = models_dir / name
    folder.mkdir(parents=True)
    (folder / "router.tar.gz").write_bytes(b"")
    (folder / "manifest.json").write_text(json.dumps({"models": {"router": {}}}), encoding="utf-8")
    switch_current(models_dir, name)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose current model version got its domain LM from the post-train hook."""
    root = tmp_path_factory.mktemp("project")
    config = load_config(_config(root, {}))  # the shipped domain_lm defaults
    build = root / "build"
    build.mkdir()
    lines = ["text,intent,domain,kind,source,split"] + [f"{t},x,d,real,qna,{s}" for t, s in ROWS]
    (build / "examples.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    version = _version(root / "models", "20261127-000000-000000")
    reports = post_train(config, build, version)
    assert set(reports) == {"domain"}
    assert reports["domain"].sentences == 5  # the test split is not LM text
    assert reports["domain"].out_dir == str(version / "stt" / "domain")
    return root


def test_post_train_builds_the_domain_folder(trained: Path) -> None:
    domain = next((trained / "models").glob("2026*")) / "stt" / "domain"
    assert (domain / "graph" / "Gr.fst").is_file() and not (domain / "graph" / "Gr.fst").is_symlink()
    assert (domain / "am" / "final.mdl").is_file()
    assert json.loads((domain / "lm_report.json").read_text())["sentences"] == 5


def test_post_train_without_examples_names_the_file(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, {}))
    with pytest.raises(LmError, match=r"examples\.csv"):
        post_train(config, tmp_path / "build", tmp_path / "models" / "v1")


def test_phone_rate_gets_the_trained_domain_model(trained: Path) -> None:
    s = read_stt_settings(load_config(trained / "callbot.yml"))
    assert s.domain_lm and s.models_dir == trained / "models"
    sources = model_sources(s)
    assert sources[8000] is not None and sources[8000].parts[-2:] == ("stt", "domain")
    assert sources[16000] is None  # wideband keeps the bundled general model


def test_domain_lm_disabled_or_absent_keeps_the_bundled_model(
    trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stt.models")
    off = read_stt_settings(load_config(_config(tmp_path, {"domain_lm": {"enabled": False}})))
    assert not off.domain_lm and model_sources(off)[8000] is None
    untrained = dataclasses.replace(off, domain_lm=True)  # tmp_path/models has no current version
    assert model_sources(untrained)[8000] is None
    assert "no trained domain LM" in caplog.text and "using the general bundled model" in caplog.text
    explicit = dataclasses.replace(untrained, models={8000: trained}, models_dir=trained / "models")
    assert model_sources(explicit)[8000] == trained  # a configured folder always wins


@pytest.mark.slow
def test_engine_decodes_phone_audio_with_the_domain_model(trained: Path, speak, tmp_path: Path) -> None:
    from stt.engine import SpeechRecognizer

    base = read_stt_settings(load_config(trained / "callbot.yml"))
    settings = dataclasses.replace(base, models={8000: None}, work_dir=tmp_path / "work", max_streams=1)
    rec = SpeechRecognizer.from_settings(settings)
    try:
        assert rec.models[8000].source.parts[-2:] == ("stt", "domain")
        pcm = from_telephone(to_telephone(read_audio(speak(SPOKEN, tmp_path / "x.wav"), 8000), 8000), 8000)
        with rec.stream(8000) as stream:
            stream.accept(pcm.tobytes())
            final = stream.flush()
    finally:
        rec.close()
    assert final is not None
    # espeak-ng through the phone path is hard for this model; the domain words still come through
    # (the general graph hears "내일 저녁" as unrelated words)
    got, want = final.text.replace(" ", ""), SPOKEN.replace(" ", "")
    assert final.text.startswith("내일 저녁") and "다섯 명 예약" in final.text, final.text
    assert SequenceMatcher(None, got, want).ratio() >= 0.5, final.text
