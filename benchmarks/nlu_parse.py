"""Benchmark: one NLU turn (route + domain parse + decide) with every model loaded.

Usage: .venv/bin/python benchmarks/nlu_parse.py [-c callbot.yml] [--file build/test.csv] [--turns 300]
Prints load time, p50/p95/max per-turn latency in ms, and the process RSS with all models loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from pathlib import Path

from bot.config import BotSettings
from bot.evaluate import read_labelled
from bot.models import current_model_set
from bot.nlu.parser import NluModels
from callbot.config import load_config


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(models: NluModels, texts: list[str], turns: int) -> list[float]:
    for t in texts[:5]:  # warm-up: the first parse of each graph builds TF functions
        await models.parse(t)
    timings = []
    for i in range(turns):
        started = time.perf_counter()
        await models.parse(texts[i % len(texts)])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default=None)
    ap.add_argument("--file", type=Path, default=None, help="labelled CSV (default: build/test.csv)")
    ap.add_argument("--turns", type=int, default=300)
    args = ap.parse_args()
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    config = load_config(args.config)
    settings = BotSettings.from_config(config)
    texts = [item.text for item in read_labelled(args.file or settings.build_dir / "test.csv")]
    rss_before = rss_mb()
    started = time.perf_counter()
    model_set = current_model_set(settings.models_dir)
    models = NluModels.load(model_set)
    load_s = time.perf_counter() - started
    timings = sorted(asyncio.run(run(models, texts, args.turns)))
    result = {
        "version": model_set.version,
        "models": len(model_set.paths),
        "turns": len(timings),
        "load_s": round(load_s, 1),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
        "rss_mb_before_load": round(rss_before),
        "rss_mb": round(rss_mb()),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
