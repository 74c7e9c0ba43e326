"""Several `callbot serve` replicas behind HAProxy: a replica killed during calls, and latency 1 vs 2 replicas.

Starts real replicas (the config's trained models, Vosk, espeak-ng) on loopback, sharing state in the
machine's Redis and PostgreSQL (a key prefix and a PostgreSQL schema of this run's own), with HAProxy in
front (deploy/haproxy/haproxy.cfg). Simulated callers (telephony.simulator) call through HAProxy and,
like Twilio, follow the <Connect action> when a stream ends without the call ending.

failover: N calls (--failover-calls, 20) each book a table by voice and keypad (store, date and time,
  party size, name, a phone number unique to the call, yes). Once every call is under way, the replica
  serving most of them gets SIGKILL. Reported: calls completed (every scripted turn answered), turns
  lost (a scripted turn never answered, or answered but absent from the call log), turns duplicated (a
  caller turn stored twice in the call log), reservations completed vs expected (rows in PostgreSQL with
  the call's phone number), and per moved call the reply gap: from losing its stream to the first
  frame of the resumed call (the apology and the question asked again).
latency: 20 and 40 calls (--calls) of two spoken questions each, against one replica and against two,
  arrivals spread over --stagger seconds and lockstep (all within one second): end of the caller's
  speech -> first reply frame, p50/p95, and the same minus the end-of-utterance window
  (stt.vad.hangover_ms): `target_ms`, the figure benchmarks/calls_concurrent.py and the README report;
  and the server stages.

    .venv/bin/python benchmarks/calls_cluster.py                      # both parts, table + JSON
    .venv/bin/python benchmarks/calls_cluster.py --only failover --failover-calls 10
    .venv/bin/python benchmarks/calls_cluster.py --only latency --calls 20 --json out.json

Needs trained models (`callbot train`), Redis and PostgreSQL (127.0.0.1, as in CI) and haproxy
(`make test` installs it). Sends traffic to 127.0.0.1 only. Each replica holds all models (~2.5 GB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callbot.config import load_config  # noqa: E402
from stt.config import read_stt_settings  # noqa: E402
from telephony.simulator import AudioTurn, DtmfTurn, simulate_call  # noqa: E402
from tests.cluster import Cluster  # noqa: E402
from tests.services import PostgresSchema, delete_prefix, new_prefix  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
QUESTIONS = ["영업시간 알려주세요", "가게 위치가 어디예요", "예약하고 싶어요"]
# One reservation: what the caller says (espeak-ng clips) or keys. The phone number is per call.
BOOKING = ["예약하고 싶어요", "강남점이요", "내일 저녁 일곱 시요", "4#", "김민수요", "PHONE", "1"]
STAGES = ("final_ms", "decode_wait_ms", "reply_ms", "nlu_ms", "tts_ms", "first_audio_ms")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def summary(values: list[float]) -> dict[str, Any]:
    return {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "max": pct(values, 1.0), "n": len(values)}


def speak(folder: Path, text: str) -> Path:
    path = folder / f"{abs(hash(text))}.wav"
    if not path.exists():
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True, capture_output=True)
    return path


def phone_of(i: int, run: str) -> str:
    return f"010{int(run, 16) % 10000:04d}{i:04d}"


# -- the cluster -------------------------------------------------------------------------------


def write_config(base: Path, folder: Path, redis_prefix: str, schema: PostgresSchema) -> Path:
    """The given config with shared state added: Redis, and PostgreSQL for call logs and reservations."""
    raw = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    for section in ("paths", "data", "bot", "stt"):  # relative paths stay relative to the original file
        raw.setdefault(section, {})
    paths = raw["paths"]
    for key, default in (("build_dir", "build"), ("models_dir", "models"), ("state_dir", "var")):
        paths[key] = str((base.parent / (paths.get(key) or default)).resolve())
    for section, key in (("bot", "actions_dir"), ("bot", "stores_file"), ("stt", "work_dir")):
        if raw[section].get(key):
            raw[section][key] = str((base.parent / raw[section][key]).resolve())
    raw["bot"]["database_url"] = schema.url()
    raw.setdefault("telephony", {})
    raw["telephony"]["database_url"] = schema.url()
    raw["state"] = {"redis_url": REDIS_URL, "key_prefix": redis_prefix}
    path = folder / "callbot.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def serve_command(config: Path) -> Any:
    def command(port: int) -> list[str]:
        # `python -c` from the repository root (not the console script): imports resolve to this checkout.
        return [
            sys.executable,
            "-c",
            "from callbot.cli.main import app; app()",
            "--config",
            str(config),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    return command


# -- failover ----------------------------------------------------------------------------------


def booking_turns(i: int, run: str, clips: Path) -> list:
    out: list = []
    for step in BOOKING:
        if step == "PHONE":
            out.append(DtmfTurn(phone_of(i, run) + "#"))
        elif step[0].isdigit():
            out.append(DtmfTurn(step))
        else:
            out.append(AudioTurn(path=speak(clips, step)))
    return out


def rows_for(step: str) -> int:
    """Call-log caller turns of one scripted step: one per utterance, one per keyed digit."""
    if step == "PHONE":
        return 12  # 010 + 8 digits + #
    return len(step) if step[0].isdigit() else 1


async def booking_calls(
    cluster: Cluster, n: int, first: int, clips: Path, auth: str, admin: str, run: str, kill: bool
) -> dict:
    """n booking calls (numbered from `first`, one every 0.25 s); with `kill`, SIGKILL to the replica
    serving most of them once every call is mid-dialogue."""
    started = [0]
    killed: dict[str, Any] = {}

    async def one(i: int) -> Any:
        await asyncio.sleep((i - first) * 0.25)
        started[0] += 1
        try:
            return await simulate_call(
                cluster.url,
                booking_turns(i, run, clips),
                auth_token=auth,
                admin_token=admin,
                reply_timeout=30,
                linger=3.0,
            )
        except Exception as exc:  # noqa: BLE001 - a failed call is a result here
            return exc

    async def killer() -> None:
        while started[0] < n:
            await asyncio.sleep(0.1)
        await asyncio.sleep(6.0)  # every call is mid-dialogue
        live = await asyncio.to_thread(cluster.live_calls)
        name = max(live, key=lambda k: live[k])
        killed.update(replica=name, live_calls=live)
        await asyncio.to_thread(cluster.kill, name)

    task = asyncio.ensure_future(killer()) if kill else None
    results = await asyncio.gather(*(one(i) for i in range(first, first + n)))
    if task is not None:
        await task
    return {"killed": killed, "results": dict(zip(range(first, first + n), results, strict=True))}


def booking_report(out: dict, schema: PostgresSchema, run: str) -> dict:
    """Calls completed, turns lost and duplicated, reservations, reply gaps (see module doc).

    A call the bot ended (hangup or handoff in its last turn) is complete: its caller had no more to say.
    """
    import sqlalchemy as sa

    from telephony.calllog import CallLog

    log = CallLog(schema.url())
    engine = sa.create_engine(schema.url())
    scripted = len(BOOKING)
    completed = lost = duplicated = failed = moved = reservations = 0
    gaps: list[float] = []
    errors = []
    for i, r in out["results"].items():
        if isinstance(r, Exception):
            failed += 1
            lost += scripted
            errors.append(str(r)[:200])
            continue
        try:
            call = log.get_call(r.call_sid)
        except Exception:  # noqa: BLE001 - nothing logged at all
            call = {"turns": []}
        turns = call["turns"]
        numbers = [t["turn"] for t in turns if t["kind"] in ("speech", "dtmf")]
        ended_by_bot = bool(turns) and turns[-1].get("action") in ("hangup", "handoff")
        answered, distinct = set(r.answered), len(set(numbers))
        expected = sum(rows_for(BOOKING[k]) for k in answered)  # caller turns the log should hold
        # A call the bot ended early (a handoff on a misheard turn) is complete: nothing more was said.
        unanswered = 0 if ended_by_bot else scripted - len(answered)
        missing = 0 if ended_by_bot else max(0, expected - distinct)  # answered but not in the log
        extra = 0 if ended_by_bot else max(0, distinct - expected)  # a caller turn handled twice
        lost += unanswered + missing
        duplicated += (len(numbers) - distinct) + extra
        completed += unanswered == 0
        if r.moves:
            moved += 1
            gaps += [m["gap_ms"] for m in r.moves if m.get("gap_ms") is not None]
        with engine.connect() as db:
            reservations += db.execute(
                sa.text("SELECT count(*) FROM reservations WHERE phone = :p AND status = 'active'"),
                {"p": phone_of(i, run)},
            ).scalar()
    log.close()
    engine.dispose()
    n = len(out["results"])
    return {
        "calls": n,
        "killed_replica": out["killed"].get("replica"),
        "live_calls_when_killed": out["killed"].get("live_calls"),
        "calls_completed": completed,
        "calls_failed": failed,
        "calls_moved": moved,
        "turns_lost": lost,
        "turns_duplicated": duplicated,
        "reservations_completed": reservations,
        "reservations_expected": n,
        "reply_gap_of_moved_calls_ms": summary(gaps),
        "errors": sorted(set(errors))[:3],
    }


# -- latency -----------------------------------------------------------------------------------


def arrival_offsets(n: int, stagger: float, seed: int) -> list[float]:
    if stagger <= 0:
        return [i * 1.0 / max(n, 1) for i in range(n)]
    rng = random.Random(f"{seed}:{n}")
    return sorted(rng.uniform(0.0, stagger) for _ in range(n))


async def latency_level(
    url: str, n: int, clips: list[Path], auth: str, admin: str, offsets: list[float], window_ms: float
) -> dict:
    async def one(i: int) -> Any:
        await asyncio.sleep(offsets[i])
        turns = [AudioTurn(path=clips[(i + k) % len(clips)]) for k in range(2)]
        try:
            return await simulate_call(
                url, turns, auth_token=auth, admin_token=admin, reply_timeout=30, linger=0.2
            )
        except Exception as exc:  # noqa: BLE001
            return exc

    results = await asyncio.gather(*(one(i) for i in range(n)))
    ok = [r for r in results if not isinstance(r, Exception)]
    client = [v for r in ok for v in r.speech_end_latencies_ms]
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    for r in ok:
        for t in (r.log or {}).get("turns", []):
            if t["kind"] == "speech":
                for k in STAGES:
                    if t.get(k) is not None:
                        stages[k].append(t[k])
    return {
        "calls": n,
        "failed_calls": len(results) - len(ok),
        "turns_without_reply": sum(2 - len(r.answered) for r in ok),
        "speech_end_to_first_frame_ms": summary(client),
        "endpoint_window_ms": window_ms,
        "target_ms": summary([v - window_ms for v in client]),
        "server_stages_ms": {k.removesuffix("_ms"): summary(v) for k, v in stages.items()},
    }


# -- main --------------------------------------------------------------------------------------


def table(report: dict) -> str:
    lines = []
    for key, title in (
        ("control", "control (no kill)"),
        ("failover", "failover (kill -9 of the busiest replica)"),
    ):
        f = report.get(key)
        if not f:
            continue
        g = f["reply_gap_of_moved_calls_ms"]
        lines += [
            title,
            f"  calls {f['calls']}: completed {f['calls_completed']}, failed {f['calls_failed']}, "
            f"moved {f['calls_moved']}"
            + (
                f" (killed {f['killed_replica']}: {f['live_calls_when_killed']})"
                if f["killed_replica"]
                else ""
            ),
            f"  turns lost {f['turns_lost']}, duplicated {f['turns_duplicated']}; reservations "
            f"{f['reservations_completed']} of {f['reservations_expected']}",
        ]
        if g["n"]:
            lines.append(
                f"  reply gap of moved calls: p50 {g['p50']} ms, p95 {g['p95']} ms, max {g['max']} ms (n={g['n']})"
            )
        lines.append("")
    levels = report.get("latency") or []
    if levels:
        window = levels[0]["endpoint_window_ms"]
        lines.append(
            f"latency: speech end + {window:g} ms window -> first reply frame (target_ms), and with it"
        )
        head = f"  {'replicas':>8} {'arrivals':>9} {'calls':>5} {'p50':>7} {'p95':>7} {'max':>7}"
        lines.append(head + f" {'with p50':>8} {'with p95':>8} {'failed':>6} {'no reply':>8}")
        for lv in levels:
            t, s = lv["target_ms"], lv["speech_end_to_first_frame_ms"]
            lines.append(
                f"  {lv['replicas']:>8} {lv['arrivals']:>9} {lv['calls']:>5} {t['p50']!s:>7} {t['p95']!s:>7} "
                f"{t['max']!s:>7} {s['p50']!s:>8} {s['p95']!s:>8} {lv['failed_calls']:>6} "
                f"{lv['turns_without_reply']:>8}"
            )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "callbot.yml"))
    ap.add_argument("--only", choices=["failover", "latency"], default=None)
    ap.add_argument("--failover-calls", type=int, default=20)
    ap.add_argument("--calls", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--stagger", type=float, default=10.0, help="Spread arrivals over this window (s).")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--json", dest="json_out", default=None, help="Also write the report here.")
    args = ap.parse_args()
    config = Path(args.config).resolve()
    load_config(config)
    window_ms = float(read_stt_settings(load_config(config)).vad.hangover_ms)
    run = secrets.token_hex(4)
    auth, admin = secrets.token_hex(8), secrets.token_hex(8)
    env = {"TWILIO_AUTH_TOKEN": auth, "CALLBOT_ADMIN_TOKEN": admin, "TWILIO_ACCOUNT_SID": ""}
    prefix = new_prefix()
    schema = PostgresSchema()
    report: dict[str, Any] = {"cores": os.cpu_count(), "run": run}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = write_config(config, folder, prefix, schema)
        clips = folder / "clips"
        clips.mkdir()
        try:
            if args.only in (None, "failover"):
                n = args.failover_calls
                cluster = Cluster(folder, serve_command(cfg), env, replicas=2).start(timeout=1200)
                try:
                    # The same calls without a kill first: what the recognizer and the dialogue achieve
                    # on their own (espeak-ng speech through the phone path is often misheard).
                    control = asyncio.run(booking_calls(cluster, n, 0, clips, auth, admin, run, kill=False))
                    report["control"] = booking_report(control, schema, run)
                    print(json.dumps({"control": report["control"]}, ensure_ascii=False), flush=True)
                    out = asyncio.run(booking_calls(cluster, n, n, clips, auth, admin, run, kill=True))
                    report["failover"] = booking_report(out, schema, run)
                    print(json.dumps({"failover": report["failover"]}, ensure_ascii=False), flush=True)
                finally:
                    cluster.stop()
            if args.only in (None, "latency"):
                report["latency"] = latency(folder, cfg, env, args, clips, auth, admin, window_ms)
        finally:
            delete_prefix(REDIS_URL, prefix)
            schema.drop()
    print()
    print(table(report))
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text, encoding="utf-8")
    return 0


def latency(
    folder: Path,
    cfg: Path,
    env: dict,
    args: argparse.Namespace,
    clips_dir: Path,
    auth: str,
    admin: str,
    window_ms: float,
) -> list:
    clips = [speak(clips_dir, q) for q in QUESTIONS]
    levels = []
    for replicas in (1, 2):
        cluster = Cluster(folder, serve_command(cfg), env, replicas=replicas).start(timeout=1200)
        try:
            for stagger in (args.stagger, 0.0):
                for n in args.calls:
                    offsets = arrival_offsets(n, stagger, args.seed)
                    load = os.getloadavg()[0]
                    level = asyncio.run(latency_level(cluster.url, n, clips, auth, admin, offsets, window_ms))
                    level.update(
                        replicas=replicas,
                        arrivals="spread" if stagger > 0 else "lockstep",
                        window_s=stagger if stagger > 0 else 1.0,
                        load_average_1m_before=round(load, 2),
                    )
                    levels.append(level)
                    print(json.dumps(level, ensure_ascii=False), flush=True)
        finally:
            cluster.stop()
    return levels


if __name__ == "__main__":
    sys.exit(main())
