"""STT evaluation on a manifest of clips: CER (with and without spaces), WER, real-time factor, and,
when the manifest has intents, end-to-end intent accuracy through the bot's parser.

Manifest: CSV or TSV (delimiter sniffed) with an audio path column (relative to the manifest), a
text column, and an optional intent column.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jiwer

from stt import SttError
from stt.audio import from_telephone, read_audio, to_telephone
from stt.engine import SpeechRecognizer
from stt.transcribe import decode_pcm, file_rate

PATH_COLUMNS = ("path", "audio", "file", "wav", "filename")
TEXT_COLUMNS = ("text", "transcript", "sentence", "reference")
INTENT_COLUMN = "intent"
RESULT_COLUMNS = (
    "path", "reference", "hypothesis", "cer", "cer_nospace", "wer", "confidence",
    "audio_seconds", "decode_seconds", "intent", "predicted_intent", "error",
)  # fmt: skip


class ManifestError(SttError):
    """The evaluation manifest is missing, unreadable or lacks the needed columns."""


@dataclass(frozen=True)
class ManifestRow:
    audio: Path
    text: str
    intent: str | None = None


@dataclass
class ClipResult:
    path: str
    reference: str
    hypothesis: str = ""
    cer: float | None = None
    cer_nospace: float | None = None
    wer: float | None = None
    confidence: float | None = None
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0
    intent: str | None = None
    predicted_intent: str | None = None
    error: str = ""


@dataclass
class EvalReport:
    clips: list[ClipResult]
    telephone: bool
    cer: float | None = None
    cer_nospace: float | None = None
    wer: float | None = None
    rtf: float | None = None
    intent_accuracy: float | None = None
    intent_note: str = ""
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        keys = ("telephone", "cer", "cer_nospace", "wer", "rtf", "intent_accuracy", "intent_note", "failed")
        return {"clips": len(self.clips)} | {k: getattr(self, k) for k in keys}


_PUNCT = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFC, punctuation and symbols removed, whitespace collapsed: the form CER is computed on."""
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()


def read_manifest(path: Path, limit: int | None = None) -> list[ManifestRow]:
    """Read a CSV/TSV manifest; `ManifestError` naming the file (and line) when it is unusable."""
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc})") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel_tab if "\t" in text.split("\n", 1)[0] else csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    path_col = next((fields[c] for c in PATH_COLUMNS if c in fields), None)
    text_col = next((fields[c] for c in TEXT_COLUMNS if c in fields), None)
    if path_col is None or text_col is None:
        raise ManifestError(
            f"{path}: needs an audio column ({'/'.join(PATH_COLUMNS)}) and a text column "
            f"({'/'.join(TEXT_COLUMNS)}); found {', '.join(fields) or 'no header'}"
        )
    intent_col = fields.get(INTENT_COLUMN)
    rows: list[ManifestRow] = []
    for line_no, row in enumerate(reader, start=2):
        audio, ref = (row.get(path_col) or "").strip(), (row.get(text_col) or "").strip()
        if not audio:
            raise ManifestError(f"{path}:{line_no}: empty audio path")
        intent = ((row.get(intent_col) or "").strip() or None) if intent_col else None
        rows.append(ManifestRow(audio=(path.parent / audio), text=ref, intent=intent))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ManifestError(f"{path}: no clips listed")
    return rows


def evaluate(
    rows: Iterable[ManifestRow],
    recognizer: SpeechRecognizer,
    *,
    telephone: bool = False,
    intent_fn: Callable[[str], str] | None = None,
    intent_note: str = "",
    progress: Callable[[ClipResult], None] | None = None,
) -> EvalReport:
    """Decode every clip (through the 8 kHz mu-law phone path when `telephone`) and score it.

    A clip that cannot be read gets its error recorded and is left out of the figures; the rest go on.
    """
    rate = file_rate(recognizer)
    phone_rate = recognizer.settings.phone_rate if telephone else rate
    clips: list[ClipResult] = []
    for row in rows:
        clip = ClipResult(path=str(row.audio), reference=row.text, intent=row.intent)
        try:
            pcm = read_audio(row.audio, rate, max_seconds=recognizer.settings.max_file_seconds)
            if telephone:
                pcm = from_telephone(to_telephone(pcm, rate), phone_rate)
            decoded = decode_pcm(recognizer, pcm, phone_rate)
        except SttError as exc:
            clip.error = str(exc)
        else:
            clip.hypothesis = decoded.text
            clip.confidence = round(decoded.confidence, 4)
            clip.audio_seconds = round(decoded.audio_seconds, 3)
            clip.decode_seconds = round(decoded.decode_seconds, 3)
            _score(clip)
            if intent_fn is not None and row.intent is not None:
                clip.predicted_intent = intent_fn(decoded.text)
        clips.append(clip)
        if progress is not None:
            progress(clip)
    return _aggregate(clips, telephone, intent_fn, intent_note)


def write_results(report: EvalReport, out: Path) -> None:
    """Per-clip results as CSV."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for clip in report.clips:
            writer.writerow({k: "" if v is None else v for k, v in asdict(clip).items()})


def _score(clip: ClipResult) -> None:
    ref, hyp = normalize_text(clip.reference), normalize_text(clip.hypothesis)
    if not ref:
        return
    clip.cer = round(jiwer.cer(ref, hyp or " "), 4)
    clip.cer_nospace = round(jiwer.cer(ref.replace(" ", ""), hyp.replace(" ", "") or " "), 4)
    clip.wer = round(jiwer.wer(ref, hyp or " "), 4)


def _aggregate(
    clips: list[ClipResult], telephone: bool, intent_fn: Callable[[str], str] | None, intent_note: str
) -> EvalReport:
    ok = [c for c in clips if not c.error and normalize_text(c.reference)]
    report = EvalReport(clips=clips, telephone=telephone, failed=sum(1 for c in clips if c.error))
    if ok:
        refs = [normalize_text(c.reference) for c in ok]
        hyps = [normalize_text(c.hypothesis) or " " for c in ok]
        report.cer = round(jiwer.cer(refs, hyps), 4)
        report.cer_nospace = round(
            jiwer.cer([r.replace(" ", "") for r in refs], [h.replace(" ", "") or " " for h in hyps]), 4
        )
        report.wer = round(jiwer.wer(refs, hyps), 4)
        audio = sum(c.audio_seconds for c in ok)
        report.rtf = round(sum(c.decode_seconds for c in ok) / audio, 4) if audio else None
    labelled = [c for c in clips if c.intent is not None and not c.error]
    if not labelled:
        report.intent_note = "no intent column in the manifest"
    elif intent_fn is None:
        report.intent_note = intent_note or "intent accuracy unavailable: no intent parser given"
    else:
        report.intent_accuracy = round(
            sum(c.predicted_intent == c.intent for c in labelled) / len(labelled), 4
        )
        report.intent_note = intent_note
    return report
