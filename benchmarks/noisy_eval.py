"""What the bot does with misheard text: the sample's eval sets rewritten with the errors a recognizer made
on real speech, each sentence played as a call's first turn through `Bot.handle` (models/current).

The errors come from an error model (`data.augment.asr_errors`) learned on the held-out read-speech
speaker b49 (the phone path, the final text a call acts on). Nothing in the bot is tuned on it: the
bundled model `data/augment/errors/whisper-base-phone.json` was learned on speaker a20 and is what
tuning may use. Without `--errors` the b49 model is learned once from ../shared/data/ko-read-speech
(Vosk + Whisper, a few minutes) and cached under var/eval/.

Each sentence of polite.csv / casual.csv / out_of_scope.csv gets `--variants` noisy versions (seeded:
the same run gives the same text). Per set it prints:
- answered: the bot answered the right intent at once;
- +confirmed: ... or asked a yes/no question naming the right intent (the caller's yes answers it);
- refused: a business sentence refused as out of scope; not understood: asked to say it again;
- for out_of_scope.csv: taken as a business intent, and asked about (a question the caller says no to).

    .venv/bin/python benchmarks/noisy_eval.py                      # b49 errors, 3 variants
    .venv/bin/python benchmarks/noisy_eval.py --errors data/augment/errors/whisper-base-phone.json
    .venv/bin/python benchmarks/noisy_eval.py --clean              # the eval sets as written
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import random
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EVAL = REPO / "examples" / "restaurant" / "eval"
SETS = ("polite", "casual", "out_of_scope")
CACHE = REPO / "var" / "eval" / "errors-b49.json"


def learn_b49(out: Path) -> Path:
    """Learn speaker b49's recognition errors (phone path, final text) and save them to `out`."""
    import dataclasses

    from benchmarks.stt_read_speech import MANIFEST, split_rows
    from data.augment.asr_errors import learn
    from stt.config import SttSettings
    from stt.engine import SpeechRecognizer
    from stt.evaluate import evaluate
    from stt.second_pass.settings import SecondPassSettings

    if not MANIFEST.is_file():
        raise SystemExit(f"skipped: no read-speech clips at {MANIFEST} and no --errors file given")
    rows = split_rows(MANIFEST, "heldout")
    base = SttSettings(work_dir=Path("/tmp/callbot-bench-stt"))
    second = SecondPassSettings(engine="whisper", cache_dir=REPO / "var" / "stt" / "whisper")
    recognizer = SpeechRecognizer.from_settings(dataclasses.replace(base, second_pass=second))
    print(f"learning speaker b49's recognition errors from {len(rows)} clips (phone path) ...", flush=True)
    report = evaluate(rows, recognizer, telephone=True)
    recognizer.close()
    clips = [c for c in report.clips if not c.error]
    model = learn(
        ((c.reference, c.hypothesis) for c in clips),
        provenance={
            "recognizer": "final (whisper second pass, else vosk)",
            "audio": "8 kHz mu-law phone path",
            "corpus": "ko-read-speech, speaker b49 (held out)",
            "clips": len(clips),
            "command": "benchmarks/noisy_eval.py",
        },
    )
    model.save(out)
    return out


def noisy_rows(name: str, model, variants: int, seed: int) -> list[dict[str, str]]:
    from data.augment.asr_errors import noisy

    rows = list(csv.DictReader((EVAL / f"{name}.csv").open(encoding="utf-8")))
    if model is None:
        return [dict(r, heard=r["text"]) for r in rows]
    out = []
    for r in rows:
        for v in range(variants):
            rng = random.Random(zlib.crc32(f"{seed}:{v}:{r['text']}".encode()))
            out.append(dict(r, heard=noisy(r["text"], model, rng)))
    return out


async def play(bot, rows: list[dict[str, str]]) -> list[dict[str, object]]:
    from callbot.events import TurnOutcome, UserText

    results = []
    for i, row in enumerate(rows):
        session = bot.new_session(f"noisy-{i}")
        reply = await bot.handle(session, UserText(row["heard"]))
        read = reply.understanding
        outcome = read.outcome if read is not None else None
        asked = tuple(getattr(read, "confirm", ()) or ())
        if outcome is TurnOutcome.CONFIRM_ASKED and not asked and reply.intent:
            asked = (reply.intent,)
        results.append(
            {
                **row,
                "outcome": outcome.value if outcome is not None else "",
                "intent": reply.intent or "",
                "domain": reply.domain or "",
                "asked": "|".join(asked),
                "reply": reply.text,
            }
        )
        await bot.end_session(session)
    return results


def figures(name: str, results: list[dict[str, object]], common: str = "common") -> dict[str, object]:
    n = len(results)
    outcomes = Counter(str(r["outcome"]) for r in results)

    def share(k: int) -> float:
        return round(100 * k / n, 1) if n else 0.0

    if name == "out_of_scope":
        taken = sum(
            bool(r["outcome"] in ("accepted", "form") and r["domain"] not in ("", common) and r["intent"])
            for r in results
        )
        asked = outcomes["confirm_asked"]
        return {"set": name, "n": n, "taken_as_business": share(taken), "asked": share(asked)}
    right = sum(r["outcome"] in ("accepted", "form") and r["intent"] == r["intent_gold"] for r in results)
    confirmed = sum(
        r["outcome"] == "confirm_asked" and r["intent_gold"] in str(r["asked"]).split("|") for r in results
    )
    return {
        "set": name,
        "n": n,
        "answered": share(right),
        "answered_or_confirmed": share(right + confirmed),
        "refused": share(outcomes["refused"]),
        "not_understood": share(outcomes["not_understood"]),
        "asked": share(outcomes["confirm_asked"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errors", type=Path, default=None, help="error model JSON (default: speaker b49's)")
    ap.add_argument("--clean", action="store_true", help="the eval sets as written, no errors")
    ap.add_argument("--variants", type=int, default=3, help="noisy versions of each sentence")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--config", type=Path, default=REPO / "callbot.yml")
    ap.add_argument("--out", type=Path, default=None, help="write each turn's result to this CSV")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from bot.runtime import Bot
    from callbot.cli.common import setup_logging
    from callbot.config import load_config
    from data.augment.asr_errors import ErrorModel

    setup_logging(verbose=False)
    logging.getLogger("bot.runtime").setLevel(logging.WARNING)  # not a line per replayed turn
    model = None
    if not args.clean:
        path = args.errors or (CACHE if CACHE.is_file() else learn_b49(CACHE))
        model = ErrorModel.load(path)
    rows = [
        dict(r, set=s, intent_gold=r["intent"])
        for s in args.sets.split(",")
        for r in noisy_rows(s, model, args.variants, args.seed)
    ]

    async def run() -> tuple[str, list[dict[str, object]]]:
        bot = await Bot.load(load_config(args.config))
        try:
            return bot.version, await play(bot, rows)
        finally:
            bot.close()

    started = time.perf_counter()
    version, results = asyncio.run(run())
    table = [figures(s, [r for r in results if r["set"] == s]) for s in args.sets.split(",")]
    changed = sum(r["heard"] != r["text"] for r in rows)
    summary = {
        "version": version,
        "errors": "none" if model is None else str(model.provenance.get("corpus", args.errors)),
        "variants": 1 if model is None else args.variants,
        "changed_sentences": round(100 * changed / len(rows), 1),
        "seconds": round(time.perf_counter() - started, 1),
        "sets": table,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8", newline="") as f:
            keys = ["set", "text", "heard", "intent_gold", "outcome", "intent", "domain", "asked", "reply"]
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(results)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    print(f"models {version}; errors: {summary['errors']}; {summary['variants']} variant(s) a sentence; "
          f"{summary['changed_sentences']}% of sentences changed; {summary['seconds']} s")  # fmt: skip
    for row in table:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
