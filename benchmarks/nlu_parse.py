"""Benchmark: one NLU turn (route + domain parse + decide) with every model loaded.

Usage: .venv/bin/python benchmarks/nlu_parse.py [-c callbot.yml] [--file build/test.csv] [--turns 300]
Prints load time, p50/p95/max per-turn latency in ms (and p50/p95 of the router and the domain parse),
and the process RSS with all models loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

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


def clock(agent: Any, stage: list[float]) -> None:
    """Time each `parse_message` of `agent` into `stage` (ms), wrapping it on the instance."""
    inner = agent.parse_message

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await inner(*args, **kwargs)
        finally:
            stage.append((time.perf_counter() - started) * 1000)

    agent.parse_message = timed


async def run(
    models: NluModels, texts: list[str], turns: int, stages: tuple[list[float], ...] = ()
) -> list[float]:
    for t in texts[:5]:  # warm-up: the first parse of each graph builds TF functions
        await models.parse(t)
    for timed in stages:
        timed.clear()
    timings = []
    for i in range(turns):
        started = time.perf_counter()
        await models.parse(texts[i % len(texts)])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def stage(values: list[float]) -> dict[str, float]:
    """p50/p95 of one stage's timings (ms)."""
    ordered = sorted(values) or [0.0]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


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
    route: list[float] = []
    parse: list[float] = []
    clock(models.router, route)
    for agent in models.domains.values():
        clock(agent, parse)
    timings = sorted(asyncio.run(run(models, texts, args.turns, (route, parse))))
    result = {
        "version": model_set.version,
        "models": len(model_set.paths),
        "turns": len(timings),
        "load_s": round(load_s, 1),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
        "route": stage(route),  # router parse
        "parse": stage(parse),  # the routed domain's parse (skipped when unrouted)
        "rss_mb_before_load": round(rss_before),
        "rss_mb": round(rss_mb()),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
