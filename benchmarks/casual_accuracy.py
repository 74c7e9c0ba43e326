"""Exact-match accuracy of the polite -> casual rewriter on a parallel corpus, plus throughput.

The corpus is not shipped: pass a local TSV with a header row, e.g. the `formal` / `informal` columns of
smilegate-ai/korean_smile_style_dataset (smilestyle_dataset.tsv), or tests/data/casual_pairs.tsv:

    .venv/bin/python benchmarks/casual_accuracy.py /tmp/smile/smilestyle_dataset.tsv
    .venv/bin/python benchmarks/casual_accuracy.py tests/data/casual_pairs.tsv --polite polite --casual casual

Rows with an empty cell are skipped. Scores:
- exact: the rewrite (or the input itself when the rewriter returns None) equals the reference;
- exact (reference differs from input): the same, on rows whose reference is not a copy of the input
  (the smile corpus copies some polite rows into its informal column unchanged);
- no-space: exact match after removing spaces (the corpus spaces words inconsistently).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.augment.casual import CasualRewriter  # noqa: E402


def read_pairs(path: Path, polite: str, casual: str) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {polite, casual} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: missing column(s) {sorted(missing)}; header is {reader.fieldnames}")
        pairs = []
        for row in reader:
            a, b = (row.get(polite) or "").strip(), (row.get(casual) or "").strip()
            if a and b:
                pairs.append((a, b))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path, help="TSV file with a header row")
    parser.add_argument("--polite", default="formal", help="column with the polite sentence")
    parser.add_argument("--casual", default="informal", help="column with the casual reference")
    parser.add_argument("--show", type=int, default=0, help="print this many mismatches")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        raise SystemExit(f"{args.corpus}: no such file")
    pairs = read_pairs(args.corpus, args.polite, args.casual)
    if not pairs:
        raise SystemExit(f"{args.corpus}: no usable rows")

    t0 = time.perf_counter()
    rewriter = CasualRewriter()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    outputs = [rewriter.rewrite(p) for p, _ in pairs]
    elapsed = time.perf_counter() - t0

    exact = changed = changed_ok = nospace = unchanged_none = 0
    mismatches = []
    for (polite, ref), out in zip(pairs, outputs, strict=True):
        got = out if out is not None else polite
        ok = got == ref
        exact += ok
        nospace += got.replace(" ", "") == ref.replace(" ", "")
        unchanged_none += out is None
        if ref != polite:
            changed += 1
            changed_ok += ok
        if not ok:
            mismatches.append((polite, got, ref))
    n = len(pairs)
    print(f"corpus: {args.corpus} ({n} pairs, {changed} with a reference that differs from the input)")
    print(f"exact match: {exact}/{n} = {exact / n:.1%}")
    if changed:
        print(
            f"exact match (reference differs from input): {changed_ok}/{changed} = {changed_ok / changed:.1%}"
        )
    print(f"match ignoring spaces: {nospace}/{n} = {nospace / n:.1%}")
    print(f"rewriter returned None (nothing polite found): {unchanged_none}")
    print(f"load {load:.2f} s; rewrite {n / elapsed:.0f} sentences/s (uncached, one thread)")
    for polite, got, ref in mismatches[: args.show]:
        print(f"  {polite}\n    got: {got}\n    ref: {ref}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
