"""One `callbot serve` replica for the cluster tests, as a process of its own.

The real server and the real Bot (the tiny test models, the config's shared Redis and PostgreSQL); only
speech recognition is a double: tones mapped to words (tests/telephony/telephony_fakes.ToneRecognizer),
so that a caller's turn means the same words on whichever replica hears it.

    python tests/telephony/replica_main.py --config callbot.yml --port 18101
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from callbot.cli.common import setup_logging  # noqa: E402
from callbot.config import load_config  # noqa: E402
from telephony.server import Secrets, build_services, serve  # noqa: E402
from telephony.settings import read_telephony_settings  # noqa: E402
from tests.telephony.telephony_fakes import ToneRecognizer  # noqa: E402

WORDS = {440: "예약하고 싶어요", 550: "4명이요", 660: "네", 770: "영업시간 알려주세요", 880: "끊을게요"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    setup_logging(False)
    config = load_config(args.config)
    settings = dataclasses.replace(read_telephony_settings(config), host="127.0.0.1", port=args.port)

    async def run() -> None:
        services = await build_services(
            config, Secrets.from_env(os.environ), settings=settings, recognizer=ToneRecognizer(WORDS)
        )
        await serve(services, settings.host, settings.port)

    asyncio.run(run())


if __name__ == "__main__":
    main()
