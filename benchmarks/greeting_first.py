"""Callers open with a greeting: how often the request after it is still understood.

    .venv/bin/python benchmarks/greeting_first.py
    .venv/bin/python benchmarks/greeting_first.py --config my.yml --greetings "안녕하세요 " "여보세요 "

Every sentence of the eval sets (text,intent[,domain] CSVs) is played as the first turn of a new call
through `Bot.handle`, with the trained models of `--config`: as written, and after each greeting. Prints,
per set and greeting, the share whose reply has the labelled intent; for out-of-scope sets (file name
containing `out_of_scope`) the share taken as a business domain's request (must stay low).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import Bot  # noqa: E402
from callbot.config import load_config  # noqa: E402
from callbot.events import UserText  # noqa: E402

EVAL = ROOT / "examples" / "restaurant" / "eval"


async def measure(config: Path, files: list[Path], greetings: list[str]) -> None:
    bot = await Bot.load(load_config(config))
    common = bot.routing.common_domain
    try:
        for path in files:
            rows = list(csv.DictReader(path.open(encoding="utf-8")))
            scope = "out_of_scope" in path.name
            for greeting in greetings:
                hits = 0
                for i, row in enumerate(rows):
                    session = bot.new_session(f"greeting-{path.stem}-{len(greeting)}-{i}")
                    reply = await bot.handle(session, UserText(greeting + row["text"]))
                    hits += reply.domain not in (None, common) if scope else reply.intent == row["intent"]
                    await bot.end_session(session)
                what = "taken as a business request" if scope else "intent right"
                print(
                    f"{path.name:20} {greeting.strip() or '(none)':8} {what}: "
                    f"{hits}/{len(rows)} = {100 * hits / max(len(rows), 1):.1f}%",
                    flush=True,
                )
    finally:
        bot.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "callbot.yml")
    ap.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=[EVAL / "polite.csv", EVAL / "casual.csv", EVAL / "out_of_scope.csv"],
    )
    ap.add_argument(
        "--greetings", nargs="+", default=["", "안녕하세요 ", "여보세요 ", "여보세요 안녕하세요 "]
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else Rasa prints every debug event to stdout
    asyncio.run(measure(args.config, args.files, args.greetings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
