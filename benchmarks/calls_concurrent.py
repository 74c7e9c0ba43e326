"""Concurrent simulated calls against one callbot server: reply latency, frame health, CPU and memory.

Starts `callbot serve` (real bot + Vosk + espeak-ng, from the given config) as a subprocess on loopback,
then for each concurrency level places N simulated calls (real-time audio pacing), each saying a few
espeak-ng Korean questions. Arrivals are lockstep by default (all N calls within one second, so their
turns end together: the worst case), or `--stagger SECONDS`: each call starts at a seeded random offset
in that window (`--seed`). Reports one JSON line per level, naming the arrival mode:
  - speech_end_to_first_frame_ms: end of the caller's speech (the last frame of the clip at least
    -42 dBFS loud, so espeak's trailing silence is not counted) -> first reply frame, client side;
  - target_ms: the same minus the endpoint silence window (stt.vad.hangover_ms): the target metric,
    judged against p95 <= 250 ms;
  - server_stages_ms, from the call log, per speech turn: final (the frame that closed the VAD gate
    arrived -> STT final: decode backlog + Vosk finalisation), decode_wait (of it, the final's decode
    call queued for a thread), reply (STT final -> bot reply: routing + NLU + dialogue), nlu (bot.handle
    alone), tts (bot reply -> first frame sent: TTS cache or synthesis + send), first_audio (STT final ->
    first frame);
    second (the second pass's reading of the utterance) and second_wait (the turn waiting for it after
    Vosk's final), and what became of each turn's second pass (used, rejected:<guard>, late, busy, ...);
  - late frames (reply audio arriving after the caller's player ran dry), dropped inbound frames,
  - server CPU (% of one core, averaged over the level) and peak RSS.

The callers say espeak-ng questions (`--speech espeak`, the default: the plumbing) or real recorded
speech (`--speech read`: clips of ../shared/data/ko-read-speech, read in place; Whisper's decoding time
depends on what it hears, and on espeak-ng audio it reads nonsense of any length).

    .venv/bin/python benchmarks/calls_concurrent.py --config callbot.yml --calls 10 20 40
    .venv/bin/python benchmarks/calls_concurrent.py --calls 20 40 --stagger 10 --seed 1
    .venv/bin/python benchmarks/calls_concurrent.py --speech read --calls 1 10 20 40 --stagger 10

Needs trained models (`callbot train`). Sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callbot.config import load_config  # noqa: E402
from stt.config import read_stt_settings  # noqa: E402
from telephony.simulator import AudioTurn, simulate_call  # noqa: E402

QUESTIONS = ["영업시간 알려주세요", "가게 위치가 어디예요", "예약하고 싶어요"]
TARGET_P95_MS = 250.0
STAGES = (
    "final_ms", "decode_wait_ms", "second_ms", "second_wait_ms", "reply_ms", "nlu_ms", "tts_ms", "first_audio_ms",
)  # fmt: skip
READ_SPEECH = ROOT.parent / "shared" / "data" / "ko-read-speech" / "manifest.tsv"
READ_CLIPS = 12  # real-speech clips the callers take turns saying: the first this many of 2-6 s


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def _summary(values: list[float]) -> dict[str, float | int | None]:
    return {"p50": _pct(values, 0.5), "p95": _pct(values, 0.95), "n": len(values)}


def _proc_stats(pid: int) -> tuple[float, int]:
    """(cpu seconds used so far, peak RSS in bytes) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
    hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return cpu, hwm


def _clips(folder: Path, speech: str) -> list[Path]:
    if speech == "read":
        return _read_speech_clips()
    out = []
    for i, text in enumerate(QUESTIONS):
        path = folder / f"q{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True, capture_output=True)
        out.append(path)
    return out


def _read_speech_clips() -> list[Path]:
    """Real read speech (16 kHz WAV, read in place): the first READ_CLIPS clips of 2-6 s."""
    if not READ_SPEECH.is_file():
        raise SystemExit(f"--speech read: {READ_SPEECH} not found (the shared read-speech clips)")
    rows = list(csv.DictReader(READ_SPEECH.open(encoding="utf-8"), delimiter="\t"))
    picked = [READ_SPEECH.parent / r["path"] for r in rows if 2.0 <= float(r["seconds"]) <= 6.0]
    return picked[:READ_CLIPS]


def arrival_offsets(n: int, stagger: float, seed: int) -> list[float]:
    """Start offsets (s) of n calls: lockstep (stagger 0) spreads them evenly over one second, else each
    is a seeded uniform draw from [0, stagger)."""
    if stagger <= 0:
        return [i * 1.0 / max(n, 1) for i in range(n)]
    rng = random.Random(f"{seed}:{n}")
    return sorted(rng.uniform(0.0, stagger) for _ in range(n))


def arrival_mode(stagger: float, seed: int) -> dict:
    if stagger <= 0:
        return {"mode": "lockstep", "window_s": 1.0}
    return {"mode": "staggered", "window_s": stagger, "seed": seed}


async def _level(
    url: str, n: int, clips: list[Path], auth: str, admin: str, window_ms: float, offsets: list[float]
) -> dict:
    active, peak = 0, 0

    async def one(i: int) -> dict:
        nonlocal active, peak
        await asyncio.sleep(offsets[i])
        turns = [AudioTurn(path=clips[(i + k) % len(clips)]) for k in range(2)]
        active += 1
        peak = max(peak, active)
        try:
            r = await simulate_call(
                url, turns, auth_token=auth, admin_token=admin, reply_timeout=30, linger=0.2
            )
        except Exception as exc:  # noqa: BLE001 - a failed call is a result here
            return {"error": str(exc)}
        finally:
            active -= 1
        log = r.log or {}
        speech = [t for t in log.get("turns", []) if t["kind"] == "speech"]
        return {
            "client_ms": r.speech_end_latencies_ms,
            "stages": {k: [t[k] for t in speech if t.get(k) is not None] for k in STAGES},
            "outcomes": [t.get("second_outcome") or "off" for t in speech],
            "late": r.late_frames,
            "frames": r.frames_received,
            "dropped": log.get("frames_dropped") or 0,
            "missing": len(turns) - len(r.reply_latencies_ms),
        }

    results = await asyncio.gather(*(one(i) for i in range(n)))
    ok = [r for r in results if "error" not in r]
    client = [v for r in ok for v in r["client_ms"]]
    stages = {k: [v for r in ok for v in r["stages"][k]] for k in STAGES}
    outcomes = [o for r in ok for o in r["outcomes"]]
    return {
        "calls": n,
        "peak_concurrent_calls": peak,
        "failed_calls": len(results) - len(ok),
        "errors": sorted({r["error"] for r in results if "error" in r})[:3],
        "turns_without_reply": sum(r["missing"] for r in ok),
        "speech_end_to_first_frame_ms": _summary(client),
        "endpoint_window_ms": window_ms,
        "target_ms": _summary([v - window_ms for v in client]),
        "server_stages_ms": {k.removesuffix("_ms"): _summary(v) for k, v in stages.items()},
        "second_pass_outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
        "late_frames": sum(r["late"] for r in ok),
        "frames_received": sum(r["frames"] for r in ok),
        "inbound_frames_dropped": sum(r["dropped"] for r in ok),
    }


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "callbot.yml"))
    ap.add_argument("--calls", type=int, nargs="+", default=[10, 20, 40])
    ap.add_argument("--port", type=int, default=18099)
    ap.add_argument("--json", dest="json_out", default=None, help="Also write the results here.")
    ap.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Spread call starts at random over this window (0: lockstep, all within one second).",
    )
    ap.add_argument("--seed", type=int, default=1, help="Seed of the staggered start offsets.")
    ap.add_argument(
        "--speech",
        choices=("espeak", "read"),
        default="espeak",
        help="What callers say: espeak-ng questions, or real read speech from ../shared.",
    )
    args = ap.parse_args()
    arrivals = arrival_mode(args.stagger, args.seed)
    window_ms = float(read_stt_settings(load_config(args.config)).vad.hangover_ms)
    auth, admin = secrets.token_hex(8), secrets.token_hex(8)
    env = {**os.environ, "TWILIO_AUTH_TOKEN": auth, "CALLBOT_ADMIN_TOKEN": admin}
    env.pop("TWILIO_ACCOUNT_SID", None)  # no REST calls: handoffs just end the simulated call
    url = f"http://127.0.0.1:{args.port}"
    # `python -c` from the repository root (not the console script): imports resolve to this checkout.
    cmd = [
        sys.executable,
        "-c",
        "from callbot.cli.main import app; app()",
        "--config",
        args.config,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--public-url",
        url,
    ]
    if not _port_free(args.port):  # else the calls would reach whatever server already listens there
        print(f"port {args.port} on 127.0.0.1 is in use (another benchmark?); pass --port", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("w") as server_log:
            server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 900
            while time.time() < deadline:
                if server.poll() is not None:
                    print(log_path.read_text()[-3000:], file=sys.stderr)
                    return 1
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(1)
            clips = _clips(Path(tmp), args.speech)
            report = {"cores": os.cpu_count(), "arrivals": arrivals, "speech": args.speech, "levels": []}
            for n in args.calls:
                cpu0, _ = _proc_stats(server.pid)
                t0 = time.monotonic()
                offsets = arrival_offsets(n, args.stagger, args.seed)
                level = {"arrivals": arrivals, "speech": args.speech}
                level["load_average_1m_before"] = round(os.getloadavg()[0], 2)
                level |= asyncio.run(_level(url, n, clips, auth, admin, window_ms, offsets))
                cpu1, hwm = _proc_stats(server.pid)
                level["server_cpu_percent_of_one_core"] = round(
                    100 * (cpu1 - cpu0) / (time.monotonic() - t0), 1
                )
                level["server_peak_rss_mb"] = round(hwm / 2**20, 1)
                level["seconds"] = round(time.monotonic() - t0, 1)
                level["load_average_1m_after"] = round(os.getloadavg()[0], 2)
                target = level["target_ms"]
                # Judged only when most caller turns were answered (an overloaded STT hides latency).
                judged = target["n"] >= n and target["p95"] is not None
                level["meets_target_p95_250ms"] = target["p95"] <= TARGET_P95_MS if judged else None
                report["levels"].append(level)
                print(json.dumps(level, ensure_ascii=False), flush=True)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
