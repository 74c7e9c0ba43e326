"""Bot turn latency: route + parse + next action per caller turn, with every model of a version loaded.

    .venv/bin/python benchmarks/bot_turn.py                    # the trained sample (`callbot train` first)
    .venv/bin/python benchmarks/bot_turn.py --config my.yml --dialogues 100
    .venv/bin/python benchmarks/bot_turn.py --tiny             # the tiny test models (trained if missing)
    .venv/bin/python benchmarks/bot_turn.py --profile turns.prof   # cProfile of the Rasa thread

Prints p50/p95/max turn latency in ms, the same per stage (route: router parse, parse: domain parse,
dialogue: the domain Agent's `handle_message`, of which actions: custom actions; other: the rest of
the turn, thread hand-over and routing), the process CPU time per turn (all threads; what a turn
costs on an idle core, unlike the wall time, which grows with other work on the machine), the slowest
first turn (models are warmed up at load), model load time and the process RSS. Target: p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Caller turns of typical restaurant calls: questions, a reservation form, yes/no, keys, common intents.
DIALOGUES = [
    ["안녕하세요", "영업시간 알려주세요", "주차 되나요", "감사합니다 끊을게요"],
    ["예약하고 싶어요", "4명이요", "네", "고맙습니다"],
    ["위치 알려주세요", "다시 말해 주세요", "상담원 연결해 주세요"],
    ["메뉴 추천해 주세요", "배달 되나요", "오늘 주식 어때요", "아니요"],
    ["예약할게요", "/dtmf 5#", "/dtmf 2"],
]
STAGES = ("route", "parse", "dialogue", "actions")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tiny_config() -> Path:
    from tests.bot.runtime_models import link_models, train_tiny_models, write_config

    cache = Path(tempfile.gettempdir()) / "callbot-bot-runtime"
    folder = Path(tempfile.mkdtemp(prefix="callbot-bench-"))
    models = link_models(train_tiny_models(cache), folder / "models")
    return write_config(folder, models)


class StageClock:
    """Adds up the time a turn spends in each stage by wrapping the loaded Agents' methods."""

    def __init__(self) -> None:
        self.turn: dict[str, float] = {}

    def wrap(self, owner: Any, method: str, stage: str) -> None:
        inner: Callable[..., Any] = getattr(owner, method)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - started) * 1000
                self.turn[stage] = self.turn.get(stage, 0.0) + ms

        setattr(owner, method, timed)  # on the instance: the benchmark's Bot only

    def instrument(self, bot: Any) -> None:
        models = bot.loaded
        self.wrap(models.router, "parse_message", "route")
        for agent in models.agents.values():
            self.wrap(agent, "parse_message", "parse")
            self.wrap(agent, "handle_message", "dialogue")
        self.wrap(bot.endpoint, "request", "actions")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2) if values else 0.0,
        "p95_ms": round(percentile(values, 0.95), 2) if values else 0.0,
        "max_ms": round(max(values), 2) if values else 0.0,
    }


async def run(config_path: Path | None, dialogues: int, profile: Path | None) -> dict:
    from bot.runtime import Bot
    from callbot.config import load_config
    from callbot.events import Dtmf, UserText

    started = time.perf_counter()
    bot = await Bot.load(load_config(config_path))
    load_seconds = time.perf_counter() - started
    clock = StageClock()
    clock.instrument(bot)
    profiler = cProfile.Profile() if profile else None
    times: list[float] = []
    cpu: list[float] = []
    first: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in (*STAGES, "other")}
    try:
        # The first round is reported apart (`first_max_ms`): it holds each domain's first turn,
        # which the warm-up at load should keep as fast as the rest. The figures are the steady state.
        for n in range(dialogues + len(DIALOGUES)):
            timed = n >= len(DIALOGUES)
            if profiler and n == len(DIALOGUES):
                await bot.loaded.rasa.run(_call(profiler.enable))
            session = bot.new_session(f"bench-{n}")
            await bot.greet(session)
            for line in DIALOGUES[n % len(DIALOGUES)]:
                keys = line.removeprefix("/dtmf ")
                events = [Dtmf(c) for c in keys] if keys != line else [UserText(line)]
                for event in events:
                    clock.turn = {}
                    t, c = time.perf_counter(), time.process_time()
                    await bot.handle(session, event)
                    ms = (time.perf_counter() - t) * 1000
                    (times if timed else first).append(ms)
                    if timed:
                        cpu.append((time.process_time() - c) * 1000)
                        for stage, spent in clock.turn.items():
                            stages[stage].append(spent)
                        inside = sum(v for k, v in clock.turn.items() if k != "actions")
                        stages["other"].append(ms - inside)
            await bot.end_session(session)
        if profiler:
            await bot.loaded.rasa.run(_call(profiler.disable))
            profiler.dump_stats(str(profile))
        return {
            "version": bot.version,
            "domains": bot.domains,
            "turns": len(times),
            "load_seconds": round(load_seconds, 1),
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2),
            "cpu_p95_ms": round(percentile(cpu, 0.95), 2),
            "first_max_ms": round(max(first), 2),
            "stages": {stage: summary(values) for stage, values in stages.items()},
            "rss_mb": round(rss_mb(), 1),
        }
    finally:
        bot.close()


async def _call(fn: Callable[[], None]) -> None:
    fn()  # on the Rasa thread: cProfile profiles the thread that enables it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="callbot.yml (default: ./callbot.yml)")
    parser.add_argument("--tiny", action="store_true", help="use the tiny test models instead")
    parser.add_argument("--dialogues", type=int, default=60, help="dialogues to run (default 60)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the Rasa thread")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    from bot.models import ModelNotFoundError

    try:
        config = tiny_config() if args.tiny else args.config
        result = asyncio.run(run(config, args.dialogues, args.profile))
    except ModelNotFoundError as exc:
        print(f"no trained models to benchmark: {exc}", file=sys.stderr)
        print("run `callbot data build` and `callbot train` first, or use --tiny", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for key, value in result.items():
        if key != "stages":
            print(f"{key:>13}: {value}")
    print(f"{'stage':>13}  {'turns':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for stage, s in result["stages"].items():
        print(f"{stage:>13}  {s['n']:>5} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['max_ms']:>8}")
    print(f"{'target':>13}: p95 <= 20 ms -> {'met' if result['p95_ms'] <= 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
