"""The static HCLG compiled at train time: same transcripts as the lookahead graph, fallbacks named."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from stt.config import SttSettings
from stt.engine import SpeechRecognizer, load_model
from stt.lm.build import build_domain_model
from stt.lm.errors import LmError
from stt.lm.model_path import find_bundled_model
from stt.lm.static_graph import StaticGraphUnavailable, compile_static_graph, find_tools
from stt.lm.vocab import read_fst_header
from tests.stt.conftest import STATIC_GRAPH_TEXT

TEXT = STATIC_GRAPH_TEXT
pytestmark = pytest.mark.slow  # compiles decoding graphs with OpenFst: `make test-slow`
SPOKEN = ["내일 저녁 일곱 시에 다섯 명 예약하고 싶어요", "영업시간이 어떻게 되나요", "배달 되나요"]


@pytest.fixture(scope="module")
def base() -> Path:
    return find_bundled_model()


@pytest.fixture(scope="module")
def built(base: Path, static_graph_model, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's static-graph model (tests/stt/conftest.py, built from TEXT) and a lookahead one."""
    root = tmp_path_factory.mktemp("graphs")
    lookahead = build_domain_model(base, TEXT, root / "lookahead", static_graph=False)
    assert lookahead.graph == "lookahead" and static_graph_model.static_graph
    return {"static": static_graph_model.source, "lookahead": root / "lookahead"}


def _phone_pcm(speak, text: str, tmp_path: Path) -> bytes:  # noqa: ANN001
    audio, rate = sf.read(speak(text, tmp_path / "clip.wav"), dtype="float32")
    return (np.clip(soxr.resample(audio, rate, 8000), -1, 1) * 32767).astype("<i2").tobytes()


def _decode(folder: Path, pcm: bytes) -> str:
    import vosk

    vosk.SetLogLevel(-1)
    rec = vosk.KaldiRecognizer(vosk.Model(str(folder)), 8000)
    for i in range(0, len(pcm), 3200):
        rec.AcceptWaveform(pcm[i : i + 3200])
    return json.loads(rec.FinalResult())["text"]


def test_static_folder_holds_one_const_graph_and_its_report(built: dict[str, Path]) -> None:
    graph = built["static"] / "graph"
    header = read_fst_header(graph / "HCLG.fst")
    assert header.fst_type == "const" and header.states > 1000 and header.arcs > header.states
    assert not (graph / "HCLr.fst").exists()  # Vosk must not find (and load) the lookahead pair
    report = json.loads((built["static"] / "lm_report.json").read_text())
    assert report["graph"] == "static" and report["graph_arcs"] == header.arcs and report["graph_note"] == ""
    assert (built["lookahead"] / "graph" / "HCLr.fst").is_file()
    assert not (built["lookahead"] / "graph" / "HCLG.fst").exists()
    assert (
        json.loads((built["lookahead"] / "lm_report.json").read_text())["graph_note"] == "static_graph is off"
    )


@pytest.mark.parametrize("text", SPOKEN)
def test_static_graph_decodes_what_the_lookahead_graph_decodes(
    built: dict[str, Path],
    speak,
    text: str,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    pcm = _phone_pcm(speak, text, tmp_path)
    static, lookahead = _decode(built["static"], pcm), _decode(built["lookahead"], pcm)
    assert static == lookahead and static  # the same graph, composed once instead of per recognizer


def test_static_model_needs_no_warming(built: dict[str, Path], tmp_path: Path) -> None:
    settings = SttSettings(work_dir=tmp_path / "work", max_streams=2, threads=1)
    static = SpeechRecognizer(settings, {8000: load_model(built["static"], settings)})
    lookahead = SpeechRecognizer(settings, {8000: load_model(built["lookahead"], settings)})
    speech = np.zeros(8000, dtype="<i2").tobytes()
    try:
        assert static.models[8000].static_graph and not lookahead.models[8000].static_graph
        assert static.warm(2, speech, 8000) == 0
        assert lookahead.warm(2, speech, 8000) == 2
    finally:
        static.close()
        lookahead.close()


def test_without_the_tools_the_lookahead_graph_is_kept(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(StaticGraphUnavailable, match="libfst-tools"):
        find_tools()
    report = build_domain_model(base, TEXT, tmp_path / "lm")
    assert report.graph == "lookahead" and "fstcompose" in report.graph_note
    graph = tmp_path / "lm" / "graph"
    assert (
        (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file() and not (graph / "HCLG.fst").exists()
    )
    monkeypatch.undo()
    assert _decode(tmp_path / "lm", np.zeros(8000, dtype="<i2").tobytes()) == ""  # loads and decodes


def test_tools_without_a_shared_libfst_are_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("fstcompose", "fstrelabel", "fstconvert"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(StaticGraphUnavailable, match="does not link a shared libfst"):
        find_tools()


def test_a_failed_composition_names_the_files_and_leaves_nothing(base: Path, tmp_path: Path) -> None:
    if shutil.which("fstcompose") is None:
        pytest.skip("libfst-tools is not installed (make installs it)")
    grammar = tmp_path / "Gr.fst"
    grammar.write_bytes(b"not an fst at all")
    out_dir = tmp_path / "graph"
    out_dir.mkdir()
    with pytest.raises(LmError, match=r"fstcompose failed on .*HCLr\.fst \+ .*Gr\.fst"):
        compile_static_graph(
            base / "graph" / "HCLr.fst", grammar, base / "graph" / "disambig_tid.int", out_dir / "HCLG.fst"
        )
    assert list(out_dir.iterdir()) == []  # no partial graph, no temporary folder


def test_bad_disambiguation_file_is_named(base: Path, tmp_path: Path) -> None:
    if shutil.which("fstcompose") is None:
        pytest.skip("libfst-tools is not installed (make installs it)")
    bad = tmp_path / "disambig_tid.int"
    bad.write_text("#0\n#1\n")
    with pytest.raises(LmError, match=r"disambig_tid\.int: expected transition ids"):
        compile_static_graph(
            base / "graph" / "HCLr.fst", base / "graph" / "Gr.fst", bad, tmp_path / "HCLG.fst"
        )
