"""STT evaluation on a manifest of clips: CER (with and without spaces), WER, real-time factor, and,
when the manifest has intents, end-to-end intent accuracy through the bot's parser; per pass: `vosk`
(the streaming pass), the second pass (`whisper`) and `final` (the text a call would act on: the second
pass's where it passed its guards, else Vosk's), with the second pass's fallbacks and reading latency.

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
    "vosk_hypothesis", "second_hypothesis", "second_seconds", "outcomes", "sources",
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
    vosk_hypothesis: str = ""
    second_hypothesis: str | None = None  # None: no second pass
    second_seconds: float = 0.0
    outcomes: str = ""  # per utterance, space-separated: used, rejected:<guard>, ...
    sources: str = ""
    predicted: dict[str, str] = field(default_factory=dict)  # pass -> predicted intent


@dataclass
class PassFigures:
    """One pass's figures over the clips it produced text for."""

    cer: float | None = None
    cer_nospace: float | None = None
    wer: float | None = None
    rtf: float | None = None
    intent_accuracy: float | None = None
    latency_p50_ms: float | None = None  # per clip: decoding (vosk), reading (second pass)
    latency_p95_ms: float | None = None


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
    passes: dict[str, PassFigures] = field(default_factory=dict)  # vosk, <second pass>, final
    fallbacks: dict[str, int] = field(default_factory=dict)  # second-pass outcomes other than used

    def summary(self) -> dict[str, object]:
        """The final text's figures at the top level (what a call acts on), then each pass's."""
        keys = ("telephone", "cer", "cer_nospace", "wer", "rtf", "intent_accuracy", "intent_note", "failed")
        return (
            {"clips": len(self.clips)}
            | {k: getattr(self, k) for k in keys}
            | {"passes": {name: asdict(figures) for name, figures in self.passes.items()}}
            | {"fallbacks": dict(self.fallbacks)}
        )


_PUNCT = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def same_decision(predicted: str, expected: str) -> bool:
    """Whether the bot decided the same: equal labels, or `<intent>?` (the bot asked whether the caller
    meant that intent, and the caller's yes gets it) for the expected intent."""
    return predicted == expected or predicted == f"{expected}?"


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
    intent_fn: Callable[..., str] | None = None,
    intent_note: str = "",
    progress: Callable[[ClipResult], None] | None = None,
) -> EvalReport:
    """Decode every clip (through the 8 kHz mu-law phone path when `telephone`) and score it.

    `intent_fn(text)` labels what each pass heard; the final text of a clip the second pass read with
    n-best is labelled `intent_fn(text, alternatives)`, as a call's turn would be read.

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
            clip.vosk_hypothesis = decoded.vosk_text
            clip.second_hypothesis = decoded.second_text
            clip.second_seconds = round(decoded.second_seconds, 3)
            clip.outcomes = " ".join(decoded.outcomes)
            clip.sources = " ".join(decoded.sources)
            _score(clip)
            if intent_fn is not None and row.intent is not None:
                for name, text in _pass_texts(clip, recognizer).items():
                    if name == "final" and decoded.alternatives:  # as a call's turn: with the n-best
                        clip.predicted[name] = intent_fn(text, decoded.alternatives)
                    else:
                        clip.predicted[name] = intent_fn(text)
                clip.predicted_intent = clip.predicted["final"]
        clips.append(clip)
        if progress is not None:
            progress(clip)
    second_name = recognizer.second_pass.name if recognizer.second_pass is not None else None
    return _aggregate(clips, telephone, intent_fn, intent_note, second_name)


def write_results(report: EvalReport, out: Path) -> None:
    """Per-clip results as CSV."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for clip in report.clips:
            writer.writerow({k: "" if v is None else v for k, v in asdict(clip).items()})


def _pass_texts(clip: ClipResult, recognizer: SpeechRecognizer) -> dict[str, str]:
    """What each pass heard in the clip: vosk, the second pass (when configured), final."""
    texts = {"vosk": clip.vosk_hypothesis}
    if clip.second_hypothesis is not None and recognizer.second_pass is not None:
        texts[recognizer.second_pass.name] = clip.second_hypothesis
    texts["final"] = clip.hypothesis
    return texts


def _score(clip: ClipResult) -> None:
    ref, hyp = normalize_text(clip.reference), normalize_text(clip.hypothesis)
    if not ref:
        return
    clip.cer = round(jiwer.cer(ref, hyp or " "), 4)
    clip.cer_nospace = round(jiwer.cer(ref.replace(" ", ""), hyp.replace(" ", "") or " "), 4)
    clip.wer = round(jiwer.wer(ref, hyp or " "), 4)


def _figures(
    refs: list[str], hyps: list[str], audio: float, seconds: list[float], labelled: list[tuple[str, str]]
) -> PassFigures:
    hyps = [normalize_text(h) or " " for h in hyps]
    ordered = sorted(seconds)

    def pct(q: float) -> float | None:
        return (
            round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)
            if ordered
            else None
        )

    return PassFigures(
        cer=round(jiwer.cer(refs, hyps), 4),
        cer_nospace=round(
            jiwer.cer([r.replace(" ", "") for r in refs], [h.replace(" ", "") or " " for h in hyps]), 4
        ),
        wer=round(jiwer.wer(refs, hyps), 4),
        rtf=round(sum(seconds) / audio, 4) if audio else None,
        intent_accuracy=round(sum(same_decision(p, i) for p, i in labelled) / len(labelled), 4)
        if labelled
        else None,
        latency_p50_ms=pct(0.5),
        latency_p95_ms=pct(0.95),
    )


def _aggregate(
    clips: list[ClipResult],
    telephone: bool,
    intent_fn: Callable[[str], str] | None,
    intent_note: str,
    second_name: str | None = None,
) -> EvalReport:
    ok = [c for c in clips if not c.error and normalize_text(c.reference)]
    report = EvalReport(clips=clips, telephone=telephone, failed=sum(1 for c in clips if c.error))
    if ok:
        refs = [normalize_text(c.reference) for c in ok]
        audio = sum(c.audio_seconds for c in ok)
        texts = {"vosk": [c.vosk_hypothesis for c in ok]}
        seconds = {"vosk": [c.decode_seconds for c in ok]}
        if second_name:
            texts[second_name] = [c.second_hypothesis or "" for c in ok]
            seconds[second_name] = [c.second_seconds for c in ok]
        texts["final"] = [c.hypothesis for c in ok]
        seconds["final"] = [c.decode_seconds + c.second_seconds for c in ok]
        for name in texts:
            labelled = [(c.predicted[name], c.intent) for c in ok if name in c.predicted]
            report.passes[name] = _figures(refs, texts[name], audio, seconds[name], labelled)
        final = report.passes["final"]
        report.cer, report.cer_nospace, report.wer = final.cer, final.cer_nospace, final.wer
        report.rtf = final.rtf
        outcomes = [o for c in ok for o in c.outcomes.split() if o not in ("used", "off")]
        report.fallbacks = {o: outcomes.count(o) for o in sorted(set(outcomes))}
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
