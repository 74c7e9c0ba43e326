"""Time `callbot data build` on a large generated chat log (default 100k turns).

Target: at most 60 s and 2 GB peak memory on a 2-core machine. Prints the figures; not a test.

    .venv/bin/python benchmarks/data_build.py [--turns 100000] [--config callbot.yml]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbot.config import load_config  # noqa: E402
from data.build import build  # noqa: E402
from data.readers import read_table  # noqa: E402
from data.settings import DataSettings  # noqa: E402

FILLERS = ["", "", "", "저기 ", "음 ", "아 ", "혹시 "]
TAILS = ["", "", "?", " 좀요", " 궁금해요", " 알려주세요"]
AGENT = ["네 고객님 확인해 드리겠습니다.", "잠시만 기다려 주세요.", "네 가능합니다.", "감사합니다."]
NOISE = ["고양이 사료 추천해 주세요", "오늘 야구 누가 이겼어요", "보험 해지하려고요", "택배가 안 와요"]


def generate_log(path: Path, questions: list[tuple[str, str, str]], turns: int, seed: int = 7) -> None:
    """Conversations of 2-8 turns, customer and agent alternating; most customer turns labelled."""
    rng = random.Random(seed)
    written = 0
    conv = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["대화ID", "순서", "화자", "내용", "의도", "분야"])
        while written < turns:
            conv += 1
            for turn in range(1, rng.randint(2, 8) + 1):
                if turn % 2:
                    if rng.random() < 0.03:
                        text, intent, domain = rng.choice(NOISE), "", ""
                    else:
                        q, intent, domain = rng.choice(questions)
                        text = rng.choice(FILLERS) + q + rng.choice(TAILS)
                        if rng.random() < 0.2:
                            intent = domain = ""
                        if rng.random() < 0.05:
                            text += (
                                f" 제 번호는 010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}이에요"
                            )
                    w.writerow([f"b{conv}", turn, "고객", text, intent, domain])
                else:
                    w.writerow([f"b{conv}", turn, "상담원", rng.choice(AGENT), "", ""])
                written += 1
                if written >= turns:
                    break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--config", default="callbot.yml")
    args = parser.parse_args()

    settings = DataSettings.from_config(load_config(args.config))
    questions: list[tuple[str, str, str]] = []
    for path in settings.qna:
        frame = read_table(path, settings.encoding)
        cols = {c: c for c in frame.columns}
        q, i, d = (
            next(a for a in settings.qna_columns[r] if a in cols) for r in ("question", "intent", "domain")
        )
        questions += [(r[q], r[i], r[d]) for r in frame.to_dict("records") if r[q] and r[i] and r[d]]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "big_log.csv"
        generate_log(log, questions, args.turns)
        size_mb = log.stat().st_size / 1e6
        run = replace(settings, chat_logs=(log,), build_dir=Path(tmp) / "build")
        started = time.perf_counter()
        report = build(run)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"chat-log turns: {args.turns} ({size_mb:.1f} MB CSV) + QnA rows: {len(questions)}")
    print(f"customer utterances: {report.customer_utterances}; examples written: {report.totals['examples']}")
    print(
        f"auto-labelled: {report.auto_labelled}; review rows: {report.review}; PII masked: {report.pii_masked}"
    )
    print(f"build time: {seconds:.1f} s (target <= 60 s)")
    print(f"peak RSS: {peak_mb:.0f} MB (target <= 2048 MB)")


if __name__ == "__main__":
    main()
