"""The cost and the gain of Whisper's n-best (`stt.second_pass.n_best`), one reading at a time.

Reads the shared Korean read-speech clips through the 8 kHz mu-law phone path with the bundled Whisper
second pass, with each setting (`--settings`, each `n_best:beam_size`; default 1:1, the greedy pass without
n-best, against 3:1, three hypotheses from three beams), taking turns clip by clip, one reader each. Prints per
setting: the reading time (features + encoder + decoder) p50 / p95 in ms, the CER of the text the turn
would use, the oracle CER (the closest of the listed hypotheses: what the bot's re-reading could reach at
best), how often the reference is among the hypotheses but not first, and the mean number of hypotheses
left after the guards. Call latency under load is `benchmarks/calls_concurrent.py`'s.

    .venv/bin/python benchmarks/second_pass_nbest.py --split heldout
    .venv/bin/python benchmarks/second_pass_nbest.py --settings 1:1 3:1 5:5 --limit 40

Evaluation only: the clips are read in place from ../shared (never copied). Skips cleanly without them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import jiwer  # noqa: E402
from stt_read_speech import MANIFEST, SPLITS, split_rows  # noqa: E402

from stt.audio import PHONE_RATE, from_telephone, read_audio, to_telephone  # noqa: E402
from stt.evaluate import normalize_text  # noqa: E402
from stt.second_pass.pool import SecondPass  # noqa: E402
from stt.second_pass.settings import SecondPassSettings  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _cer(refs: list[str], hyps: list[str]) -> float:
    return jiwer.cer(refs, [h or " " for h in hyps])


def measure(seconds: list[SecondPass], clips: list[tuple[bytes, str]]) -> list[dict[str, float]]:
    """Figures of each setting over phone-path clips (pcm16 at 8 kHz, reference text). The settings take
    turns clip by clip, so a change in the machine's load falls on all of them alike."""
    runs = [{"times": [], "tops": [], "oracles": [], "behind": 0, "listed": []} for _ in seconds]
    refs = []
    for pcm, ref in clips:
        ref = normalize_text(ref)
        refs.append(ref)
        for second, run in zip(seconds, runs, strict=True):
            started = time.perf_counter()
            reading = second.read(pcm, PHONE_RATE)
            run["times"].append((time.perf_counter() - started) * 1000)
            texts = [normalize_text(t) for t, _ in reading.alternatives] or [normalize_text(reading.text)]
            top = normalize_text(reading.text)
            run["tops"].append(top)
            run["oracles"].append(min(texts, key=lambda t: jiwer.cer(ref, t or " ")))
            run["behind"] += int(top != ref and ref in texts)
            run["listed"].append(len(texts))
    return [
        {
            "reading_ms_p50": round(_pct(run["times"], 0.5)),
            "reading_ms_p95": round(_pct(run["times"], 0.95)),
            "cer": round(_cer(refs, run["tops"]), 4),
            "oracle_cer": round(_cer(refs, run["oracles"]), 4),
            "reference_listed_not_first": run["behind"],
            "hypotheses_mean": round(sum(run["listed"]) / len(run["listed"]), 2),
        }
        for run in runs
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--split", choices=("all", *SPLITS), default="heldout")
    ap.add_argument("--limit", type=int, default=None, help="first N clips only")
    ap.add_argument("--settings", nargs="+", default=["1:1", "3:1"], help="n_best:beam_size, one per run")
    args = ap.parse_args()
    if not args.manifest.is_file():
        print(f"skipped: read-speech manifest not found at {args.manifest}")
        return
    rows = split_rows(args.manifest, args.split, args.limit)
    clips = [
        (from_telephone(to_telephone(read_audio(r.audio, 16000), 16000), PHONE_RATE).tobytes(), r.text)
        for r in rows
    ]
    print(f"{len(clips)} clips ({args.split}), phone path, one reader, bundled Whisper")
    print(
        f"{'n_best:beam':<12} {'p50 ms':>7} {'p95 ms':>7} {'CER':>6} {'oracle':>7} {'ref 2nd+':>8} {'hyps':>5}"
    )
    seconds = []
    for spec in args.settings:
        n_best, beam = (int(x) for x in spec.split(":"))
        settings = SecondPassSettings(
            engine="whisper",
            n_best=n_best,
            beam_size=beam,
            workers=1,
            cache_dir=REPO / "var" / "stt" / "whisper",
        )
        seconds.append(SecondPass.load(settings))
    try:
        for second in seconds:
            second.read(clips[0][0], PHONE_RATE)  # warm-up
        figures = measure(seconds, clips)
    finally:
        for second in seconds:
            second.close()
    for spec, f in zip(args.settings, figures, strict=True):
        print(f"{spec:<12} {f['reading_ms_p50']:>7} {f['reading_ms_p95']:>7} {f['cer']:>6.3f} "
              f"{f['oracle_cer']:>7.3f} {f['reference_listed_not_first']:>8} {f['hypotheses_mean']:>5}")  # fmt: skip


if __name__ == "__main__":
    main()
