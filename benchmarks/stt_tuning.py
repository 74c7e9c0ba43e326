"""Phone-stream capacity vs recognition quality, per decoder configuration (model + conf overrides).

For each configuration: decoder CPU per chunk of K simulated 8 kHz calls (espeak-ng utterances between
silences, VAD gate on, warmed recognizers; see `stt_streams.py`), replayed as N concurrent real-time
streams on the machine's cores (the K measured cost sequences reused at other offsets in the call), so
a shared machine does not distort the lag. Then CER through the phone path (8 kHz mu-law) on espeak-ng
clips of held-out domain sentences (examples.csv test split) and on read-speech clips, if present.

    .venv/bin/python benchmarks/stt_tuning.py --domain /tmp/lm/domain [--only domain,domain-tuned]
        [--measure 4] [--seconds 30] [--read-speech 30] [--espeak 12]

`--domain` is a folder built by `stt.lm.settings.build_configured` (e.g. from build/examples.csv).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from stt_streams import RATE, call_audio, measure_costs, replay, rss_mb  # noqa: E402

from stt.config import SttSettings  # noqa: E402
from stt.engine import SpeechRecognizer  # noqa: E402
from stt.evaluate import ManifestRow, evaluate, read_manifest  # noqa: E402
from stt.lm.build import read_examples_texts  # noqa: E402

READ_SPEECH = REPO.parent / "shared" / "data" / "ko-read-speech" / "manifest.tsv"
COUNTS = (2, 4, 6, 8, 10, 16, 20, 30, 40, 50, 60)
# label -> (use the domain model?, SttSettings overrides). OWN = the model's own conf (bundled: beam 10,
# max-active 3000, lattice-beam 2; frames-per-chunk is Kaldi's 20); "-tuned" = the SttSettings defaults.
OWN = {"beam": None, "max_active": None, "lattice_beam": None}
CONFIGS: dict[str, tuple[bool, dict]] = {
    "bundled": (False, OWN),
    "bundled-tuned": (False, {}),
    "domain": (True, OWN),
    "domain-tuned": (True, {}),
    "domain-nopartials": (True, {**OWN, "partials": False}),
    "domain-novad": (True, {**OWN, "vad": False}),
    "domain-beam8": (True, {**OWN, "beam": 8.0}),
    "domain-ma1000": (True, {**OWN, "max_active": 1000}),
    "domain-lb1": (True, {**OWN, "lattice_beam": 1.0}),
    "domain-fpc51": (True, {**OWN, "frames_per_chunk": 51}),
    "domain-fpc12": (True, {**OWN, "frames_per_chunk": 12}),
    "domain-lean": (True, {"beam": 7.0, "max_active": 700}),
}


def espeak_rows(examples: Path, folder: Path, count: int) -> list[ManifestRow]:
    """espeak-ng clips of the first `count` distinct test-split sentences (not in the LM text)."""
    texts = list(dict.fromkeys(read_examples_texts(examples, splits=("test",))))[:count]
    rows = []
    for i, text in enumerate(texts):
        wav = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), text], check=True, capture_output=True)
        rows.append(ManifestRow(audio=wav, text=text))
    return rows


def settings_for(label: str, domain: Path, work: Path, streams: int) -> SttSettings:
    use_domain, overrides = CONFIGS[label]
    base = SttSettings(work_dir=work, max_streams=streams)
    extra = dict(overrides)
    if "vad" in extra:
        extra["vad"] = dataclasses.replace(base.vad, enabled=extra["vad"])
    model = domain if use_domain else None
    return dataclasses.replace(base, models={RATE: model, 16000: model}, **extra)


def run(label: str, args: argparse.Namespace, audio: np.ndarray, rows: dict[str, list[ManifestRow]]) -> str:
    settings = settings_for(label, args.domain, args.work, max(args.measure, 1))
    before = rss_mb()
    recognizer = SpeechRecognizer.from_settings(settings)
    rss = rss_mb() - before
    step = args.chunk_ms
    measure_costs(recognizer, audio[: 10 * RATE], args.measure, step)  # warm (a server reuses warm ones)
    costs = measure_costs(recognizer, audio, args.measure, step)
    cost = sum(map(sum, costs)) / (args.measure * args.seconds)
    cores = os.cpu_count() or 1
    rng = np.random.default_rng(1)
    lags: dict[int, np.ndarray] = {}
    for n in COUNTS:
        seqs = [np.roll(costs[i % args.measure], int(rng.integers(len(costs[0])))) for i in range(n)]
        lags[n] = replay(seqs, step, cores) * 1000
    fit = max((n for n in COUNTS if np.percentile(lags[n], 95) < 200), default=0)
    ref = lags[20 * cores]
    cers = []
    for name in ("espeak", "read"):
        report = evaluate(rows[name], recognizer, telephone=True) if rows[name] else None
        cers.append(f"{report.cer_nospace:.3f}" if report else "-")
    recognizer.close()
    del recognizer
    gc.collect()
    return (
        f"{label:<18} {cost:>6.3f} {1 / cost:>7.1f} {fit / cores:>9.0f} "
        f"{np.percentile(ref, 50):>6.0f} {np.percentile(ref, 95):>6.0f} {cost * 20 * 100:>6.0f} "
        f"{rss:>6.0f} {cers[0]:>7} {cers[1]:>7}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domain", type=Path, required=True, help="domain LM model folder")
    ap.add_argument("--examples", type=Path, default=REPO / "build" / "examples.csv")
    ap.add_argument("--only", default=",".join(CONFIGS), help=f"labels: {', '.join(CONFIGS)}")
    ap.add_argument("--measure", type=int, default=4, help="streams measured (replayed as more)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--chunk-ms", type=int, default=20)
    ap.add_argument("--espeak", type=int, default=12, help="espeak-ng clips of test-split sentences")
    ap.add_argument("--read-speech", type=int, default=30, help="read-speech clips (0: skip)")
    ap.add_argument("--row", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "callbot-bench-stt")
    args = ap.parse_args()
    labels = [x for x in args.only.split(",") if x]
    unknown = [x for x in labels if x not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    audio = call_audio(np.random.default_rng(7), args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        rows = {
            "espeak": espeak_rows(args.examples, Path(tmp), args.espeak) if args.espeak else [],
            "read": read_manifest(READ_SPEECH, args.read_speech)
            if args.read_speech and READ_SPEECH.is_file()
            else [],
        }
        if args.row:  # one configuration, in a fresh process (so its RSS is its own)
            print(run(labels[0], args, audio, rows), flush=True)
            return
        cores = os.cpu_count() or 1
        print(f"{cores} cores; cost from {args.measure} x {args.seconds:g} s calls ({args.chunk_ms} ms chunks), "
              f"replayed as {COUNTS[0]}-{COUNTS[-1]} streams; CER (spaces ignored) through the phone path on "
              f"{len(rows['espeak'])} espeak-ng test-split clips and {len(rows['read'])} read-speech clips")  # fmt: skip
        print(f"lag and CPU at {20 * cores} streams (20 per core); fit = streams/core with p95 < 200 ms")
        print(f"{'config':<18} {'cost':>6} {'1/cost':>7} {'fit/core':>9} {'p50':>6} {'p95':>6} {'CPU%':>6} "
              f"{'RSS MB':>6} {'CER-es':>7} {'CER-rd':>7}")  # fmt: skip
    for label in labels:
        started = time.perf_counter()
        argv = list(sys.argv[1:])
        if "--only" in argv:
            del argv[argv.index("--only") : argv.index("--only") + 2]
        done = subprocess.run(
            [sys.executable, __file__, *argv, "--only", label, "--row"], capture_output=True, text=True
        )
        line = (
            done.stdout.strip().splitlines()[-1] if done.returncode == 0 else f"{label}: failed {done.stderr}"
        )
        print(f"{line}   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
