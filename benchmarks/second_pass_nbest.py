"""The cost and the gain of Whisper's n-best (`stt.second_pass.n_best`), one reading at a time.

Reads the shared Korean read-speech clips through the 8 kHz mu-law phone path with the bundled Whisper
second pass, once per setting (`--settings`, each `n_best:beam_size`; default 1:1, the greedy pass without
n-best, against 3:1, three hypotheses from three beams), one clip after another on one reader. Prints per
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


def measure(second: SecondPass, clips: list[tuple[bytes, str]]) -> dict[str, float]:
    """Figures of one setting over phone-path clips (pcm16 at 8 kHz, reference text)."""
    times, tops, oracles, refs, behind, listed = [], [], [], [], 0, []
    for pcm, ref in clips:
        started = time.perf_counter()
        reading = second.read(pcm, PHONE_RATE)
        times.append((time.perf_counter() - started) * 1000)
        ref = normalize_text(ref)
        texts = [normalize_text(t) for t, _ in reading.alternatives] or [normalize_text(reading.text)]
        top = normalize_text(reading.text)
        refs.append(ref)
        tops.append(top)
        oracles.append(min(texts, key=lambda t: jiwer.cer(ref, t or " ")))
        behind += int(top != ref and ref in texts)
        listed.append(len(texts))
    return {
        "reading_ms_p50": round(_pct(times, 0.5)),
        "reading_ms_p95": round(_pct(times, 0.95)),
        "cer": round(_cer(refs, tops), 4),
        "oracle_cer": round(_cer(refs, oracles), 4),
        "reference_listed_not_first": behind,
        "hypotheses_mean": round(sum(listed) / len(listed), 2),
    }


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
    for spec in args.settings:
        n_best, beam = (int(x) for x in spec.split(":"))
        settings = SecondPassSettings(
            engine="whisper",
            n_best=n_best,
            beam_size=beam,
            workers=1,
            cache_dir=REPO / "var" / "stt" / "whisper",
        )
        second = SecondPass.load(settings)
        try:
            second.read(clips[0][0], PHONE_RATE)  # warm-up
            f = measure(second, clips)
        finally:
            second.close()
        print(f"{spec:<12} {f['reading_ms_p50']:>7} {f['reading_ms_p95']:>7} {f['cer']:>6.3f} "
              f"{f['oracle_cer']:>7.3f} {f['reference_listed_not_first']:>8} {f['hypotheses_mean']:>5}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
