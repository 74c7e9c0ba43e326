"""The operator console with 10,000 logged caller turns: inbox page server time, one label action's
round trip, and 100 turns labelled by a scripted keyboard session in headless chromium.

    .venv/bin/python benchmarks/console_inbox.py [--turns 10000] [--requests 100] [--keyboard 100]

Everything runs on loopback in a temporary folder: the bakery company of tests/console/seed.py is built,
the call log gets `--turns` caller turns (varied outcomes, confidences and recognizer texts, as many
calls of 5 turns, most about a store), the console is served by uvicorn. Inbox figures are the
`server-timing` the console reports (request in -> response ready) and the client's round trip, for the
default page (unlabelled, riskiest first), a filtered page, a deep page and one store's turns as htmx
asks for them (only the inbox part). Targets (issue 19): inbox p95 < 300 ms, label p95 <
100 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from callbot.config import load_config  # noqa: E402
from console.app import ConsoleServices  # noqa: E402
from console.auth import add_user  # noqa: E402
from console.settings import read_console_settings  # noqa: E402
from telephony.calllog import calls_table, turns_table  # noqa: E402
from tests.console.live import browser_page, chromium_missing, serve_console  # noqa: E402
from tests.console.seed import build_company, tone_wav, write_company  # noqa: E402

PASSWORD = "benchmark password"
TEXTS = [
    "주차 돼요",
    "주차 되나요",
    "주차장 있나요 거기",
    "영업 시간 알려 주세요",
    "몇 시에 문 열어요",
    "케이크 예약하고 싶어요",
    "생일 케이크 주문할게요",
    "주문 취소해 주세요",
    "케이크 취소할게요",
    "오늘 날씨 어때요",
    "어 그 뭐냐",
    "",
    "안녕하세요",
    "밤 늦게도 해요",
    "홀케이크 돼요",
]
INTENTS = [
    "store_parking",
    "store_hours",
    "cake_order",
    "order_cancel",
    "common_greet",
    "common_out_of_scope",
]
OUTCOMES = ["accepted"] * 6 + ["refused", "not_understood", "confirm_asked", "confirm_no", "form"]
STORES = [
    "강남점",
    "잠실점",
    "홍대점",
    "명동점",
    "판교점",
    "종로점",
    None,
]  # a call's store (None: not named)


def seed(engine: sa.engine.Engine, state_dir: Path, turns: int, rng: random.Random) -> None:
    """`turns` caller turns in calls of 5, in one transaction (the call log's own writes are per turn)."""
    audio = tone_wav(state_dir / "calls" / "bench" / "turn-001.wav")
    start = time.time() - 30 * 86400
    calls, rows = [], []
    for i in range(turns):
        c, n = divmod(i, 5)
        sid = f"CA{c:032d}"
        at = start + c * 250 + n * 10
        if n == 0:
            calls.append({"call_sid": sid, "started_at": at, "status": "completed", "bot_version": "v1"})
        text = rng.choice(TEXTS)
        outcome = rng.choice(OUTCOMES) if text else "not_understood"
        ranked = rng.sample(INTENTS, 3)
        confs = sorted((rng.random() for _ in range(3)), reverse=True)
        second = text if rng.random() < 0.7 else text.replace("돼", "되")
        rows.append(
            {
                "call_sid": sid,
                "turn": n + 1,
                "kind": "speech",
                "at": at,
                "caller_text": text,
                "vosk_text": text,
                "second_text": second,
                "text_source": "second",
                "second_outcome": "used",
                "intent": ranked[0],
                "intent_confidence": confs[0],
                "domain": ranked[0].split("_")[0],
                "reply": "네.",
                "bot_version": "v1",
                "outcome": outcome,
                "router_domain": "store",
                "router_confidence": rng.random(),
                "ranking": json.dumps([[r, c] for r, c in zip(ranked, confs, strict=True)]),
                "audio_path": audio if rng.random() < 0.5 else None,
                "store": STORES[c % len(STORES)],
            }
        )
    with engine.begin() as db:
        db.execute(calls_table.insert(), calls)
        db.execute(turns_table.insert(), rows)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.1f} ms  p95 {percentile(values, 0.95):6.1f} ms  max {max(values):6.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=100, help="requests per measured page / label")
    ap.add_argument("--keyboard", type=int, default=100, help="turns labelled in the browser (0: skip)")
    args = ap.parse_args()
    rng = random.Random(7)
    print(f"CPU: {_cpu()}, {platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        config = write_company(Path(tmp))
        build_company(config)
        settings = read_console_settings(load_config(config))
        services = ConsoleServices.open(settings, "benchmark-secret")
        seed(services.engine, settings.state_dir, args.turns, rng)
        add_user(services.engine, "bench", PASSWORD, "annotator")
        with serve_console(services) as base, httpx.Client(base_url=base) as http:
            r = http.post("/login", data={"name": "bench", "password": PASSWORD})
            assert r.status_code == 303, r.text
            page = http.get("/")
            csrf = page.text.split('csrf: "')[1].split('"')[0]
            print(f"{args.turns} caller turns logged; console at {base}")
            for name, path, headers in [
                ("inbox, default (unlabelled, riskiest first)", "/", {}),
                ("inbox, filtered (refused, confidence < 0.5)", "/?outcome=refused&conf_max=0.5", {}),
                ("inbox, page 100", "/?page=100&status=all", {}),
                (
                    "inbox, one store, as htmx asks (the #inbox part)",
                    "/?store=강남점",
                    {"HX-Request": "true"},
                ),
            ]:
                server, trip = [], []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = http.get(path, headers=headers)
                    trip.append((time.perf_counter() - t0) * 1000)
                    server.append(float(r.headers["server-timing"].split("dur=")[1]))
                    assert r.status_code == 200
                print(f"{name}:\n  server      {summary(server)}\n  round trip  {summary(trip)}")
            with services.engine.connect() as db:
                ids = list(
                    db.execute(
                        sa.select(turns_table.c.id)
                        .where(turns_table.c.caller_text != "")
                        .limit(args.requests)
                    ).scalars()
                )
            trip, server = [], []
            for turn_id in ids:
                t0 = time.perf_counter()
                r = http.post(
                    "/label",
                    data={"turn_id": str(turn_id), "intent": "store_parking", "action": "pick"},
                    headers={"x-csrf-token": csrf},
                )
                trip.append((time.perf_counter() - t0) * 1000)
                server.append(float(r.headers["server-timing"].split("dur=")[1]))
                assert r.status_code == 200, r.text
            print(
                f"label action (POST /label, one turn):\n  server      {summary(server)}\n  round trip  {summary(trip)}"
            )
            if args.keyboard and not chromium_missing():
                keyboard(base, args.keyboard, settings.page_size)
            elif args.keyboard:
                print(f"keyboard session skipped: {chromium_missing()}")
        services.close()


def keyboard(base: str, count: int, page_size: int) -> None:
    """Label `count` refused turns pressing Enter only (the model's intent accepted), reloading the
    inbox when a page is done, as an operator would."""
    with browser_page() as page:
        page.goto(base + "/login?" + urlencode({"next": "/console/?outcome=refused"}))
        page.fill("input[name=name]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("tr.turn.current")
        done, started = 0, time.perf_counter()
        while done < count:
            if page.query_selector("tr.turn.current.labelled") is not None:  # the page is done
                page.reload()
                page.wait_for_selector("tr.turn.current")
            turn_id = page.get_attribute("tr.turn.current", "data-turn-id")
            page.keyboard.press("Enter")
            page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{turn_id}"]')
            done += 1
        seconds = time.perf_counter() - started
    print(
        f"keyboard session: {count} turns labelled with Enter in {seconds:.1f} s "
        f"({seconds / count * 1000:.0f} ms per turn, the refused turns' inbox reloaded every {page_size} "
        "turns included)"
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                import os

                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
