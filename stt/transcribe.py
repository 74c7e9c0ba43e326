"""Draft transcripts for operators: many audio files -> one CSV, resumable, one error per bad file.

`callbot stt transcribe PATHS... -o drafts.csv`. Files already listed in the CSV are skipped, so a
stopped run goes on where it was; each row is flushed as soon as it is written.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from callbot.events import Transcript, Word
from stt import SttError
from stt.audio import read_audio
from stt.engine import SpeechRecognizer
from stt.second_pass.pool import CANCELLED, OFF, USED, choose
from stt.vad import SpeechAudio, SpeechEnd

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
DRAFT_COLUMNS = ("path", "text", "confidence", "words", "low_confidence", "error", "vosk_text", "source")
CHUNK_SECONDS = 0.2


@dataclass(frozen=True)
class Decoded:
    """The whole-file result of decoding a clip: the text the bot would act on, and each pass's part.

    `text` joins each utterance's chosen text (the second pass's when it passed the guards, else
    Vosk's); `vosk_text` and `second_text` are what each pass heard; `words` are Vosk's word timings.
    """

    text: str
    confidence: float
    words: tuple[Word, ...]
    audio_seconds: float
    decode_seconds: float  # the Vosk pass
    vosk_text: str = ""
    second_text: str | None = None  # None: no second pass configured
    second_seconds: float = 0.0
    outcomes: tuple[str, ...] = ()  # per utterance: used, rejected:<guard>, ... (stt.second_pass.pool)
    sources: tuple[str, ...] = ()  # per utterance: whisper or vosk
    # The second pass's n-best of a clip that is one utterance read by it (what a call's turn hands the
    # bot with the text: `Choice.alternatives`); () otherwise.
    alternatives: tuple[tuple[str, float], ...] = ()


def decode_pcm(
    recognizer: SpeechRecognizer, pcm: np.ndarray, sample_rate: int, second_pass: bool = True
) -> Decoded:
    """Stream `pcm` through a new recognition stream in 0.2 s chunks, as a call does: Vosk decodes what
    the energy gate lets through, and (with `second_pass` and a configured one) each utterance the gate
    closes is read again; the text of each utterance is chosen as in a call (`stt.second_pass.pool.choose`).
    """
    data = np.asarray(pcm, dtype="<i2").tobytes()
    step = int(sample_rate * CHUNK_SECONDS) * 2
    utterances: list[tuple[list[Transcript], bytes]] = []
    finals: list[Transcript] = []
    audio = bytearray()
    started = time.perf_counter()
    with recognizer.stream(sample_rate) as stream:
        for i in range(0, len(data), step):
            for event in stream.gate(data[i : i + step]):
                finals.extend(t for t in stream.decode([event]) if t.final)
                if isinstance(event, SpeechAudio):
                    audio += event.pcm
                elif isinstance(event, SpeechEnd):
                    utterances.append((finals, bytes(audio)))
                    finals, audio = [], bytearray()
        if (last := stream.flush()) is not None:
            finals.append(last)
        if finals or audio:
            utterances.append((finals, bytes(audio)))
    elapsed = time.perf_counter() - started
    second = recognizer.second_pass if second_pass else None
    choices, second_seconds = [], 0.0
    for heard, utterance in utterances:
        vosk_text = " ".join(t.text for t in heard if t.text)
        vosk_conf = _mean([w.confidence for t in heard for w in t.words] or [t.confidence for t in heard])
        reading, outcome = None, OFF
        if second is not None and utterance:
            reading = second.read(utterance, sample_rate)
            outcome = (
                CANCELLED
                if reading is None
                else (f"rejected:{reading.rejected}" if reading.rejected else USED)
            )
            second_seconds += reading.seconds if reading is not None else 0.0
        choices.append(choose(vosk_text, vosk_conf, reading, outcome, second.name if second else "vosk"))
    spoken = [c for c in choices if c.text]
    words = tuple(w for heard, _ in utterances for t in heard for w in t.words)
    return Decoded(
        text=" ".join(c.text for c in spoken),
        confidence=_mean([c.confidence for c in spoken]),
        words=words,
        audio_seconds=len(data) / 2 / sample_rate,
        decode_seconds=elapsed,
        vosk_text=" ".join(t.text for heard, _ in utterances for t in heard if t.text),
        second_text=" ".join(c.second_text or "" for c in choices).strip() if second is not None else None,
        second_seconds=second_seconds,
        outcomes=tuple(c.outcome for c in choices),
        sources=tuple(c.source for c in choices),
        alternatives=spoken[0].alternatives if len(spoken) == 1 else (),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def file_rate(recognizer: SpeechRecognizer) -> int:
    """The rate files are decoded at: a configured 16 kHz model if any, else the highest configured."""
    return 16000 if 16000 in recognizer.models else max(recognizer.models)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (whatever their suffix), folders searched recursively for audio files; sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            )
        else:
            found.append(p)
    return list(dict.fromkeys(found))


@dataclass
class TranscribeSummary:
    written: int = 0
    skipped: int = 0
    failed: int = 0
    low_confidence: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def transcribe_files(
    paths: Iterable[str | Path],
    recognizer: SpeechRecognizer,
    out_csv: Path,
    *,
    progress: Callable[[Path, str], None] | None = None,
) -> TranscribeSummary:
    """Append one draft row per new file to `out_csv`; errors become rows with the `error` column set.

    `progress(path, status)` is called after each file (status: ok, low, error, skipped).
    """
    settings = recognizer.settings
    done = _already_done(out_csv)
    summary = TranscribeSummary()
    rate = file_rate(recognizer)
    new_file = not out_csv.exists() or out_csv.stat().st_size == 0
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    columns = DRAFT_COLUMNS if new_file else _header(out_csv)  # an older drafts file keeps its columns
    with out_csv.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        for path in expand_paths(paths):
            key = str(path)
            if key in done:
                summary.skipped += 1
                _report(progress, path, "skipped")
                continue
            try:
                pcm = read_audio(path, rate, max_seconds=settings.max_file_seconds)
                result = decode_pcm(recognizer, pcm, rate)
            except SttError as exc:
                writer.writerow({"path": key, "text": "", "confidence": "", "words": "[]", "error": str(exc)})
                summary.failed += 1
                summary.errors.append((key, str(exc)))
                status = "error"
                logger.warning("stt.transcribe.failed path=%s error=%s", key, exc)
            else:
                low = result.confidence < settings.low_confidence
                writer.writerow(
                    {
                        "path": key,
                        "text": result.text,
                        "confidence": f"{result.confidence:.3f}",
                        "words": words_json(result.words),
                        "low_confidence": "true" if low else "false",
                        "error": "",
                        "vosk_text": result.vosk_text,
                        "source": " ".join(result.sources),
                    }
                )
                summary.written += 1
                summary.low_confidence += int(low)
                status = "low" if low else "ok"
            fh.flush()
            done.add(key)
            _report(progress, path, status)
    return summary


def words_json(words: Iterable[Word]) -> str:
    return json.dumps(
        [{"word": w.word, "start": w.start, "end": w.end, "conf": round(w.confidence, 3)} for w in words],
        ensure_ascii=False,
    )


def _header(out_csv: Path) -> list[str]:
    with out_csv.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), list(DRAFT_COLUMNS))


def _already_done(out_csv: Path) -> set[str]:
    if not out_csv.exists() or out_csv.stat().st_size == 0:
        return set()
    try:
        with out_csv.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise SttError(f"{out_csv}: exists but is not a drafts CSV (no 'path' column)")
            return {row["path"] for row in reader if row.get("path")}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SttError(f"{out_csv}: cannot read the existing drafts file ({exc})") from exc


def _report(progress: Callable[[Path, str], None] | None, path: Path, status: str) -> None:
    if progress is not None:
        progress(path, status)
