"""Domain language model: build cost, and decoding with it vs the bundled model's general graph.

Builds a derived model from the bot's training text (build/examples.csv, train split; a small built-in
set when absent), then decodes with both models:

- espeak-ng clips of domain sentences at 16 kHz: real-time factor and character error rate;
- if /work/shared/data/ko-read-speech/manifest.tsv exists, read-speech clips at 16 kHz and through the
  phone path (8 kHz mu-law, given to Vosk at 8 kHz): CER of free vs domain decoding. The domain text
  does not match read speech (restaurant talk), so this shows the cost of the domain graph outside its
  domain.

CER is over characters with spaces removed, after the same normalization as the LM text (digits spoken).

    .venv/bin/python benchmarks/stt_lm_build.py [--examples build/examples.csv] [--general-weight 0.05]
        [--read-speech 40] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vosk  # noqa: E402

from stt.audio import from_telephone, read_audio, to_telephone  # noqa: E402
from stt.lm.build import build_domain_model, read_examples_texts  # noqa: E402
from stt.lm.model_path import find_bundled_model  # noqa: E402
from stt.lm.segment import normalize  # noqa: E402

RATE = 16000
READ_SPEECH = Path("/work/shared/data/ko-read-speech/manifest.tsv")
FALLBACK_TEXT = [
    "안녕하세요 예약하고 싶어요",
    "이번 주 토요일 저녁 일곱 시에 네 명이요",
    "영업시간이 어떻게 되나요",
    "주차는 가능한가요",
    "예약을 취소하고 싶어요",
    "배달 되나요",
    "네 맞아요 감사합니다",
]
# A dialogue-state LM (the reservation form): what callers answer to "when, how many, your number?"
FORM_DAYS = ["오늘", "내일", "모레", "이번 주 토요일", "다음 주 금요일", "이번 주 일요일"]
FORM_TIMES = ["점심 12시", "저녁 6시", "저녁 7시", "저녁 7시 30분", "6시 반", "8시"]
FORM_PEOPLE = ["2명", "3명", "4명", "5명", "6명", "10명"]
FORM_CLIPS = ["내일 저녁 일곱 시 반이요", "네 명이요", "공일공 이삼사오 육칠팔구"]
CLIPS = [
    "안녕하세요 예약하고 싶어요",
    "예약을 취소하고 싶어요",
    "영업시간이 어떻게 되나요",
    "주차는 가능한가요",
    "내일 저녁 일곱 시에 다섯 명 예약하고 싶어요",
    "배달 되나요",
]


def form_text(rng: np.random.Generator, n: int = 150) -> list[str]:
    """Answers to the reservation form: dates, times, party sizes, phone numbers, alone and combined."""
    out = []
    for _ in range(n):
        day, time_, people = rng.choice(FORM_DAYS), rng.choice(FORM_TIMES), rng.choice(FORM_PEOPLE)
        phone = (
            "010-"
            + "".join(map(str, rng.integers(0, 10, 4)))
            + "-"
            + "".join(map(str, rng.integers(0, 10, 4)))
        )
        out += [
            f"{day} {time_}이요",
            f"{people}이요",
            f"{day} {time_}에 {people}",
            phone,
            f"{people} 예약이요",
        ]
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def espeak(text: str, folder: Path, i: int) -> np.ndarray:
    wav = folder / f"clip{i}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), text], check=True, capture_output=True)
    return read_audio(wav, RATE)


def decode(model: vosk.Model, pcm: np.ndarray, rate: int) -> tuple[str, float]:
    rec = vosk.KaldiRecognizer(model, rate)
    t = time.perf_counter()
    rec.AcceptWaveform(pcm.astype("<i2").tobytes())
    text = json.loads(rec.FinalResult())["text"]
    return text, time.perf_counter() - t


def chars(text: str) -> str:
    return normalize(text).replace(" ", "")


def score(
    models: dict[str, vosk.Model], clips: list[tuple[str, np.ndarray]], rate: int = RATE
) -> dict[str, dict[str, float]]:
    out = {}
    for name, model in models.items():
        refs, hyps, seconds, audio = [], [], 0.0, 0.0
        for text, pcm in clips:
            hyp, dt = decode(model, pcm, rate)
            refs.append(chars(text) or "-")
            hyps.append(chars(hyp))
            seconds += dt
            audio += len(pcm) / rate
        out[name] = {
            "cer": round(jiwer.cer(refs, hyps), 3),
            "rtf": round(seconds / audio, 3),
            "clips": len(clips),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=Path, default=Path("build/examples.csv"))
    ap.add_argument("--general-weight", type=float, default=0.05)
    ap.add_argument("--read-speech", type=int, default=30, help="read-speech clips to decode (0: none)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is required: apt-get install espeak-ng")

    vosk.SetLogLevel(-1)
    base = find_bundled_model()
    texts = read_examples_texts(args.examples) if args.examples.is_file() else FALLBACK_TEXT
    results: dict[str, object] = {
        "text_source": str(args.examples) if args.examples.is_file() else "built-in"
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        report = build_domain_model(base, texts, tmp / "domain", general_weight=args.general_weight)
        results["build"] = {
            k: getattr(report, k)
            for k in ("sentences", "tokens", "oov", "states", "arcs", "size_bytes", "seconds")
        }
        results["base_gr_bytes"] = (base / "graph" / "Gr.fst").stat().st_size

        models, load = {}, {}
        for name, path in (("bundled", base), ("domain", tmp / "domain")):
            before, t = rss_mb(), time.perf_counter()
            models[name] = vosk.Model(str(path))
            load[name] = {"seconds": round(time.perf_counter() - t, 2), "rss_mb": round(rss_mb() - before)}
        results["load"] = load

        clips = [(text, espeak(text, tmp, i)) for i, text in enumerate(CLIPS)]
        results["espeak_16k"] = score(models, clips)

        form = build_domain_model(
            base, form_text(np.random.default_rng(7)), tmp / "form", general_weight=args.general_weight
        )
        results["form_build"] = {
            "sentences": form.sentences,
            "seconds": form.seconds,
            "size_bytes": form.size_bytes,
        }
        models["form"] = vosk.Model(str(tmp / "form"))
        form_clips = [(text, espeak(text, tmp, 100 + i)) for i, text in enumerate(FORM_CLIPS)]
        results["espeak_form_answers_16k"] = score(models, form_clips)
        del models["form"]

        if args.read_speech and READ_SPEECH.is_file():
            rows = [ln.split("\t") for ln in READ_SPEECH.read_text(encoding="utf-8").splitlines()[1:]]
            clean, phone = [], []
            for path, text, *_ in rows[: args.read_speech]:
                pcm = read_audio(READ_SPEECH.parent / path, RATE)
                clean.append((text, pcm))
                phone.append((text, from_telephone(to_telephone(pcm, RATE), 8000)))
            results["read_speech_16k"] = score(models, clean)
            results["read_speech_8k_mulaw"] = score(models, phone, 8000)

    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    b = results["build"]
    print(f"text: {results['text_source']}")
    print(
        f"build: {b['sentences']} sentences, {b['tokens']} tokens, {b['oov']} OOV eojeols, {b['states']} states, "
        f"{b['arcs']} arcs, {b['size_bytes'] / 1e6:.1f} MB (bundled Gr.fst {results['base_gr_bytes'] / 1e6:.1f} MB), "
        f"{b['seconds']:.1f} s"
    )
    for name, v in load.items():
        print(f"load {name}: {v['seconds']} s, +{v['rss_mb']} MB RSS")
    print(f"form LM: {results['form_build']}")
    for key in ("espeak_16k", "espeak_form_answers_16k", "read_speech_16k", "read_speech_8k_mulaw"):
        if key in results:
            for name, v in results[key].items():
                print(f"{key:24s} {name:8s} CER {v['cer']:.3f}  RTF {v['rtf']:.3f}  ({v['clips']} clips)")


if __name__ == "__main__":
    main()
