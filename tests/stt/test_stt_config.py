from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callbot.config import ConfigError, load_config
from stt.config import SttSettings, read_stt_settings
from stt.models import bundled_model_path, derived_model, model_rate
from stt.second_pass.settings import SecondPassSettings


def _config(tmp_path: Path, stt: dict) -> Path:
    path = tmp_path / "callbot.yml"
    path.write_text(yaml.safe_dump({"stt": stt}, allow_unicode=True), encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = read_stt_settings(load_config(_config(tmp_path, {})))
    assert s.models == {16000: None, 8000: None}
    assert s.resample == "vosk" and s.dither == 0.0 and s.vad.enabled
    assert s.work_dir == tmp_path / "var" / "stt"
    assert s.decode_nice == 10


def test_the_project_file_section_is_valid() -> None:
    s = read_stt_settings(load_config(Path(__file__).parents[2] / "callbot.yml"))
    assert set(s.models) == {16000, 8000}


def test_every_bad_key_is_reported_at_once(tmp_path: Path) -> None:
    bad = {
        "models": {"fast": None, 16000: str(tmp_path / "nowhere")},
        "resample": "magic",
        "max_streams": 0,
        "vad": {"hangover_ms": "long", "colour": "red"},
        "endpoint": {"trailing_silence": -1},
        "low_confidence": 2,
        "decode_nice": 40,
        "surprise": True,
    }
    with pytest.raises(ConfigError) as err:
        read_stt_settings(load_config(_config(tmp_path, bad)))
    message = str(err.value)
    for key in (
        "stt.models.fast", "stt.models.16000", "stt.resample", "stt.max_streams", "stt.vad.hangover_ms",
        "stt.vad.colour", "stt.endpoint.trailing_silence", "stt.low_confidence", "stt.surprise", "stt.decode_nice",
    ):  # fmt: skip
        assert key in message, key
    assert str(tmp_path / "callbot.yml") in message


def test_model_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "lm-model").mkdir()
    s = read_stt_settings(load_config(_config(tmp_path, {"models": {8000: "lm-model", 16000: None}})))
    assert s.models == {8000: tmp_path / "lm-model", 16000: None}


def test_derived_model_folder_carries_the_settings(tmp_path: Path) -> None:
    settings = SttSettings(work_dir=tmp_path, beam=8.0, lattice_beam=1.5, frames_per_chunk=30)
    folder = derived_model(bundled_model_path(), settings)
    mfcc = (folder / "conf" / "mfcc.conf").read_text()
    model = (folder / "conf" / "model.conf").read_text()
    assert "--dither=0" in mfcc and "--num-ceps=40" in mfcc
    assert "--beam=8" in model and "--beam=10.0" not in model
    assert "--lattice-beam=1.5" in model and "--lattice-beam=2.0" not in model
    assert "--frames-per-chunk=30" in model
    assert "--endpoint.rule2.min-trailing-silence=0.5" in model
    assert (folder / "am" / "final.mdl").is_file() and (folder / "graph").is_dir()
    assert derived_model(bundled_model_path(), settings) == folder  # reused, not rebuilt
    assert derived_model(bundled_model_path(), SttSettings(work_dir=tmp_path, beam=9.0)) != folder
    assert model_rate(folder) == 16000


def test_a_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    from stt import ModelError

    (tmp_path / "conf").mkdir()
    with pytest.raises(ModelError, match="missing am/final.mdl"):
        derived_model(tmp_path, SttSettings(work_dir=tmp_path / "work"))


def test_decoder_search_defaults_and_explicit_null(tmp_path: Path) -> None:
    tuned = read_stt_settings(load_config(_config(tmp_path, {})))
    assert (tuned.beam, tuned.max_active, tuned.lattice_beam) == (8.0, 1000, 1.0)
    own = read_stt_settings(load_config(_config(tmp_path, {"beam": None, "max_active": 2000})))
    assert own.beam is None and own.max_active == 2000 and own.lattice_beam == 1.0  # null: the model's own
    model = (
        derived_model(bundled_model_path(), SttSettings(work_dir=tmp_path, beam=None)) / "conf" / "model.conf"
    )
    assert "--beam=10.0" in model.read_text()


def test_second_pass_defaults_and_project_file(tmp_path: Path) -> None:
    s = read_stt_settings(load_config(_config(tmp_path, {}))).second_pass
    assert s.enabled and (s.engine, s.model, s.device, s.compute_type) == (
        "whisper",
        "bundled",
        "cpu",
        "int8",
    )
    assert s.cache_dir == tmp_path / "var" / "stt" / "whisper"
    assert "시청해 주셔서 감사합니다" in s.guards.phrases
    shipped = read_stt_settings(load_config(Path(__file__).parents[2] / "callbot.yml")).second_pass
    assert shipped.engine == "whisper" and shipped.deadline_ms == 150 and shipped.window_seconds == 10.0
    assert shipped.n_best == s.n_best == SecondPassSettings().n_best  # callbot.yml says what the code does
    one = read_stt_settings(load_config(_config(tmp_path, {"second_pass": {"n_best": 1}}))).second_pass
    assert one.n_best == 1
    off = read_stt_settings(load_config(_config(tmp_path, {"second_pass": {"engine": "none"}}))).second_pass
    assert not off.enabled
    (tmp_path / "my-whisper").mkdir()
    folder = read_stt_settings(load_config(_config(tmp_path, {"second_pass": {"model": "my-whisper"}})))
    assert folder.second_pass.model == str(tmp_path / "my-whisper")  # relative to callbot.yml
    assert SttSettings().second_pass.engine == "none"  # settings built in code load no second model


def test_readers_run_nicer_than_the_vosk_decoders(tmp_path: Path) -> None:
    from stt.engine import reader_nice

    assert reader_nice(read_stt_settings(load_config(_config(tmp_path, {})))) == 15  # decode_nice 10 + 5
    same = {"decode_nice": 4, "second_pass": {"nice_offset": 0}}
    assert reader_nice(read_stt_settings(load_config(_config(tmp_path, same)))) == 4
    capped = {"decode_nice": 17, "second_pass": {"nice_offset": 5}}
    assert reader_nice(read_stt_settings(load_config(_config(tmp_path, capped)))) == 19  # Linux's highest
    with pytest.raises(ConfigError, match="stt.second_pass.nice_offset"):
        read_stt_settings(load_config(_config(tmp_path, {"second_pass": {"nice_offset": 25}})))


def test_every_bad_second_pass_key_is_reported_at_once(tmp_path: Path) -> None:
    bad = {
        "second_pass": {
            "engine": "deepspeech",
            "device": "tpu",
            "beam_size": 0,
            "n_best": 0,
            "workers": 0,
            "window_seconds": 2,
            "deadline_ms": -5,
            "model": "",
            "colour": "red",
            "guards": {"no_speech_prob": 1.5, "max_repeats": 1, "phrases": "not a list", "mood": 1},
        }
    }
    with pytest.raises(ConfigError) as err:
        read_stt_settings(load_config(_config(tmp_path, bad)))
    message = str(err.value)
    for key in (
        "stt.second_pass.engine", "stt.second_pass.device", "stt.second_pass.beam_size",
        "stt.second_pass.n_best", "stt.second_pass.workers", "stt.second_pass.window_seconds", "stt.second_pass.deadline_ms",
        "stt.second_pass.model", "stt.second_pass.colour", "stt.second_pass.guards.no_speech_prob",
        "stt.second_pass.guards.max_repeats", "stt.second_pass.guards.mood",
    ):  # fmt: skip
        assert key in message, key
