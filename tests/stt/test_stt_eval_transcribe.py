"""`stt eval` and `stt transcribe` end to end on espeak-ng clips, including bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from callbot.cli.main import app
from stt.evaluate import ManifestError, evaluate, normalize_text, read_manifest, same_decision, write_results
from stt.transcribe import transcribe_files

pytestmark = pytest.mark.slow

TEXTS = {"hello": "안녕하세요, 예약하고 싶어요!", "hours": "영업시간이 어떻게 되나요?"}
INTENTS = {"hello": "reservation_make", "hours": "store_hours"}


@pytest.fixture
def corpus(tmp_path: Path, clips: dict[str, Path]) -> Path:
    """A folder with two good clips (in a sub-folder), and a corrupt, an empty and a not-audio file."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in TEXTS:
        (audio / f"{name}.wav").write_bytes(clips[name].read_bytes())
    (audio / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    sf.write(str(audio / "empty.wav"), np.zeros(0, np.int16), 16000)
    (audio / "notes.ogg").write_text("not audio", encoding="utf-8")
    return tmp_path


def _manifest(corpus: Path, delimiter: str = "\t", intents: bool = True) -> Path:
    path = corpus / ("manifest.tsv" if delimiter == "\t" else "manifest.csv")
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(["path", "text", "intent"] if intents else ["audio", "text"])
        for name, text in TEXTS.items():
            w.writerow([f"audio/{name}.wav", text, INTENTS[name]] if intents else [f"audio/{name}.wav", text])
        w.writerow(
            ["audio/corrupt.wav", "망가진 파일", "store_hours"] if intents else ["audio/corrupt.wav", "x"]
        )
    return path


def test_normalize_text_for_cer() -> None:
    assert normalize_text("안녕하세요,  예약…하고   싶어요!") == "안녕하세요 예약 하고 싶어요"
    assert normalize_text("\u1100\u1161") == "가"  # NFC


def test_manifest_sniffing_and_errors(corpus: Path) -> None:
    rows = read_manifest(_manifest(corpus, ",", intents=False))
    assert [r.audio.name for r in rows] == ["hello.wav", "hours.wav", "corrupt.wav"]
    assert rows[0].text == TEXTS["hello"] and rows[0].intent is None
    assert len(read_manifest(_manifest(corpus), limit=2)) == 2
    bad = corpus / "bad.csv"
    bad.write_text("file_name,words\nx.wav,hi\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="needs an audio column"):
        read_manifest(bad)
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(corpus / "none.tsv")


def test_eval_scores_clips_and_keeps_going_past_bad_ones(recognizer, corpus: Path) -> None:
    rows = read_manifest(_manifest(corpus))
    heard: list[str] = []

    def intent_fn(text: str) -> str:
        heard.append(text)
        return "reservation_make"

    report = evaluate(rows, recognizer, intent_fn=intent_fn)
    assert report.failed == 1 and "corrupt.wav" in report.clips[2].error
    good = report.clips[:2]
    assert all(c.hypothesis and c.cer is not None and c.cer_nospace is not None for c in good)
    # the bot parser sees what each pass heard: Vosk's text, then the final text (no second pass here)
    assert heard == [t for c in good for t in (c.vosk_hypothesis, c.hypothesis)]
    assert set(report.passes) == {"vosk", "final"} and report.passes["final"].cer == report.cer
    assert report.intent_accuracy == 0.5 == report.passes["vosk"].intent_accuracy
    assert 0 < report.cer and 0 < report.wer and 0 < report.rtf < 5
    assert report.cer_nospace != report.cer
    out = corpus / "results.csv"
    write_results(report, out)
    with out.open(encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert [r["predicted_intent"] for r in written[:2]] == ["reservation_make"] * 2
    assert written[2]["error"] and written[2]["hypothesis"] == ""

    phone = evaluate(rows[:1], recognizer, telephone=True)
    assert phone.telephone and phone.clips[0].hypothesis
    assert phone.intent_accuracy is None and "no intent parser" in phone.intent_note


def test_a_question_about_the_right_intent_agrees_with_it() -> None:
    assert same_decision("menu_discount", "menu_discount")
    assert same_decision("menu_discount?", "menu_discount")  # asked, and the caller's yes gets it
    assert not same_decision("menu_price?", "menu_discount")
    assert not same_decision("menu_discount", "out_of_scope")


def test_transcribe_is_resumable_and_reports_bad_files(recognizer, corpus: Path) -> None:
    out = corpus / "drafts.csv"
    seen: list[str] = []
    summary = transcribe_files([corpus / "audio"], recognizer, out, progress=lambda p, s: seen.append(s))
    assert summary.written == 2 and summary.failed == 3 and summary.skipped == 0
    with out.open(encoding="utf-8") as fh:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    assert set(rows) == {"hello.wav", "hours.wav", "corrupt.wav", "empty.wav", "notes.ogg"}
    hello = rows["hello.wav"]
    words = json.loads(hello["words"])
    assert hello["text"] == " ".join(w["word"] for w in words) and not hello["error"]
    assert hello["low_confidence"] == ("true" if float(hello["confidence"]) < 0.6 else "false")
    assert all(0 <= w["start"] < w["end"] <= 3.0 for w in words)
    assert "empty audio" in rows["empty.wav"]["error"] and "notes.ogg" in rows["notes.ogg"]["error"]

    again = transcribe_files([corpus / "audio"], recognizer, out)
    assert again.skipped == 5 and again.written == again.failed == 0
    with out.open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 5  # nothing appended twice


def test_cli_eval_and_transcribe(corpus: Path, stt_settings) -> None:
    config = corpus / "callbot.yml"
    config.write_text(f"stt:\n  work_dir: {stt_settings.work_dir}\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(
        app, ["-c", str(config), "stt", "eval", str(_manifest(corpus)), "--json", "--limit", "1"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{") :])
    assert summary["clips"] == 1 and summary["cer"] is not None
    assert summary["intent_accuracy"] is None and "unavailable" in summary["intent_note"]

    drafts = corpus / "cli-drafts.csv"
    res = runner.invoke(app, ["-c", str(config), "stt", "transcribe", str(corpus / "audio" / "hours.wav"),
                              str(corpus / "audio" / "corrupt.wav"), "-o", str(drafts)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "failed" in res.output and drafts.is_file()

    res = runner.invoke(app, ["-c", str(config), "stt", "eval", str(corpus / "missing.tsv")])
    assert res.exit_code == 1 and "manifest not found" in res.output
