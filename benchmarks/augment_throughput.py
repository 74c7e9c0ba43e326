"""Throughput of the augmentation generators (sentences per second) on call-center sentences.

    .venv/bin/python benchmarks/augment_throughput.py [--turns 100000] [--unique 20000]

Sentences come from tests/data/casual_pairs.tsv, multiplied with times, party sizes and branches so
that `--unique` of them differ; `--turns` draws from those with repetition, as chat logs repeat.
Reports each generator alone on distinct sentences (no cache hits), then the full Augmenter on the
turns (cache hits for repeats), single process.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.augment import Augmenter  # noqa: E402
from data.augment.analysis import Analyzer  # noqa: E402
from data.augment.asr import asr_variants  # noqa: E402
from data.augment.casual import CasualRewriter  # noqa: E402
from data.augment.clipped import clip_morphs  # noqa: E402

PREFIXES = ["", "저기요 ", "어 ", "혹시 ", "강남점인데요 ", "홍대점 ", "오늘 ", "내일 ", "토요일 "]
SUFFIXES = ["", " {n}명이요", " 저녁 {h}시에요", " {n}명인데요", " {h}시 {m}분쯤이요"]


def sentences(unique: int, rng: random.Random) -> list[str]:
    with (ROOT / "tests/data/casual_pairs.tsv").open(encoding="utf-8", newline="") as f:
        base = [r["polite"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    out: set[str] = set()
    while len(out) < unique:
        s = rng.choice(PREFIXES) + rng.choice(base)
        s += rng.choice(SUFFIXES).format(
            n=rng.randint(1, 12), h=rng.randint(1, 12), m=rng.choice([10, 20, 30])
        )
        out.add(s)
    return sorted(out)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} sentences/s ({n} in {seconds:.2f} s)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--unique", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    uniq = sentences(args.unique, rng)
    sample = uniq[:5000]

    t = time.perf_counter()
    analyzer = Analyzer()
    print(f"Kiwi load: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    morphs = [analyzer.morphs(s) for s in sample]
    print("Kiwi analysis (uncached):", rate(len(sample), time.perf_counter() - t))
    rewriter = CasualRewriter(analyzer)
    t = time.perf_counter()
    for s, m in zip(sample, morphs, strict=True):
        rewriter.rewrite(s, m)
    print("casual rewrite given the analysis:", rate(len(sample), time.perf_counter() - t))
    t = time.perf_counter()
    for s, m in zip(sample, morphs, strict=True):
        clip_morphs(s, m)
    print("clipped given the analysis:", rate(len(sample), time.perf_counter() - t))
    t = time.perf_counter()
    for s in sample:
        asr_variants(s, random.Random(s), limit=2)
    print("asr variants:", rate(len(sample), time.perf_counter() - t))

    turns = [rng.choice(uniq) for _ in range(args.turns)]
    augmenter = Augmenter(casual=True, clipped=True, asr=True, seed=args.seed)
    t = time.perf_counter()
    produced = sum(len(augmenter.variants(s)) for s in turns)
    elapsed = time.perf_counter() - t
    print(
        f"Augmenter on {args.turns} turns ({len(set(turns))} distinct): "
        f"{rate(args.turns, elapsed)}, {produced} variants"
    )
    augmenter = Augmenter(casual=True, clipped=True, asr=True, seed=args.seed)
    t = time.perf_counter()
    augmenter.warm(turns)  # one Kiwi batch over both cores
    produced = sum(len(augmenter.variants(s)) for s in turns)
    elapsed = time.perf_counter() - t
    print(f"Augmenter after warm() (batch analysis): {rate(args.turns, elapsed)}, {produced} variants")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
