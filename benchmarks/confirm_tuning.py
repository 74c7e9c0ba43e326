"""Choose `bot.confirm`'s thresholds (accept_rescued, band, close) on data the reports never use.

The tuning set is the train split's own held-out test sentences (build/test.csv: business intents and
common_out_of_scope) rewritten with the recognition errors of the *tuning* error model
(data/augment/errors/whisper-base-phone.json, learned on read-speech speaker a20), plus the same sentences
clean. The reported figures (benchmarks/noisy_eval.py: the eval sets with speaker b49's errors) are never
looked at here.

Each sentence is read once as a call's first turn (router -> domain model), and, when the bot would refuse
it or is unsure of it, read again with everything the band may use (`bot.misheard.Rereading`). The band's
rule (`bot.misheard.settle`) is then replayed over a grid of settings, which is cheap. Printed per setting:
business sentences answered right at once, answered or asked about with the right intent among the asked
ones, refused or otherwise missed; out-of-scope sentences taken as business at once and asked about.
The chosen setting maximises business answered-or-confirmed with out-of-scope taken <= --max-oos-taken and
asked <= --max-oos-asked.

    .venv/bin/python benchmarks/confirm_tuning.py            # models/current, callbot.yml
    .venv/bin/python benchmarks/confirm_tuning.py --limit 400
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import logging
import pickle
import random
import sys
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TUNING_ERRORS = REPO / "data" / "augment" / "errors" / "whisper-base-phone.json"
ACCEPT = (0.6, 0.7, 0.8, 0.9)
BAND = (0.15, 0.2, 0.3, 0.4, 0.5)
CLOSE = (0.4, 0.6, 0.8)


@dataclass(frozen=True)
class Turn:
    gold: str  # intent, or "" for out of scope
    decision: object  # bot.nlu.decision.Decision of the first reading
    evidence: object  # bot.misheard.Rereading, or None when the first reading was sure
    length: int = 0  # the turn's letters (bot.nlu.vocabulary.letters)


def sentences(test_csv: Path, limit: int, seed: int) -> list[tuple[str, str]]:
    """(text, gold intent or "" for out of scope) of the business and out-of-scope test sentences."""
    rows = list(csv.DictReader(test_csv.open(encoding="utf-8")))
    out = []
    for r in rows:
        if r["intent"].endswith("out_of_scope"):
            out.append((r["text"], ""))
        elif r["domain"] != "common":
            out.append((r["text"], r["intent"]))
    random.Random(seed).shuffle(out)
    return out[:limit] if limit else out


async def read_all(bot, items: list[tuple[str, str]], top_accept: float) -> list[Turn]:
    from bot.misheard import Reading
    from bot.nlu.decision import decide
    from bot.nlu.vocabulary import letters

    models = bot.loaded
    turns = []
    for text, gold in items:
        router_parse, domain_parse = await bot._route(models, text)
        decision = decide(router_parse, domain_parse, models.thresholds)
        evidence = None
        if decision.rejected or decision.confidence < top_accept:
            base = Reading(text, router_parse, domain_parse, decision)
            evidence = await bot._evidence(models, base, (), everything=True)
        turns.append(Turn(gold, decision, evidence, letters(text)))
    return turns


def outcome(turn: Turn, settings, common: str) -> tuple[str, tuple[str, ...]]:
    """("answered", (intent,)) | ("asked", intents) | ("refused", ()) as the bot would do with `settings`."""
    from bot.misheard import settle

    d = turn.decision
    unsure = d.rejected or d.confidence < settings.accept_rescued
    if unsure and turn.evidence is not None:
        rescued, asking = settle(d, turn.evidence, settings, turn.length)
        if rescued is not None:
            d = rescued.decision
        elif asking:
            first = asking[0]
            asked = [first.intent]
            if len(asking) > 1 and asking[1].score >= settings.close * first.score:
                asked.append(asking[1].intent)
            return "asked", tuple(asked)
    if d.rejected or not d.intent or d.domain in (None, common):
        return "refused", ()
    return "answered", (d.intent,)


def score(turns: list[Turn], settings, common: str) -> dict[str, float]:
    business = [t for t in turns if t.gold]
    oos = [t for t in turns if not t.gold]
    right = confirmed = refused = 0
    for t in business:
        kind, intents = outcome(t, settings, common)
        right += kind == "answered" and t.gold in intents
        confirmed += kind == "asked" and t.gold in intents
        refused += kind == "refused"
    taken = asked = 0
    for t in oos:
        kind, _ = outcome(t, settings, common)
        taken += kind == "answered"
        asked += kind == "asked"

    def pct(k: int, n: int) -> float:
        return round(100 * k / n, 1) if n else 0.0

    return {
        "answered": pct(right, len(business)),
        "answered_or_confirmed": pct(right + confirmed, len(business)),
        "refused": pct(refused, len(business)),
        "oos_taken": pct(taken, len(oos)),
        "oos_asked": pct(asked, len(oos)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "callbot.yml")
    ap.add_argument("--test", type=Path, default=REPO / "build" / "test.csv")
    ap.add_argument("--errors", type=Path, default=TUNING_ERRORS)
    ap.add_argument("--limit", type=int, default=0, help="sentences (seeded sample; 0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-oos-taken", type=float, default=3.0)
    ap.add_argument("--max-oos-asked", type=float, default=15.0)
    ap.add_argument("--cache", type=Path, default=None, help="readings pickled here and reused (var/eval/)")
    args = ap.parse_args()
    from bot.misheard import ConfirmSettings
    from bot.runtime import Bot
    from callbot.cli.common import setup_logging
    from callbot.config import load_config
    from data.augment.asr_errors import ErrorModel, noisy

    setup_logging(verbose=False)
    logging.getLogger("bot.runtime").setLevel(logging.WARNING)  # not a line per replayed turn
    if not args.test.is_file():
        raise SystemExit(f"no test split at {args.test}: run `callbot data build` first")
    model = ErrorModel.load(args.errors)
    clean = sentences(args.test, args.limit, args.seed)
    heard = [
        (noisy(text, model, random.Random(zlib.crc32(f"{args.seed}:{text}".encode()))), gold)
        for text, gold in clean
    ]

    async def run() -> tuple[object, str, list[Turn], list[Turn]]:
        bot = await Bot.load(load_config(args.config))
        try:
            top = max(ACCEPT)
            return (
                bot.limits(bot.loaded),
                bot.routing.common_domain,
                *[await read_all(bot, s, top) for s in (heard, clean)],
            )
        finally:
            bot.close()

    started = time.perf_counter()
    if args.cache is not None and args.cache.is_file():
        configured, common, noisy_turns, clean_turns = pickle.loads(args.cache.read_bytes())
    else:
        configured, common, noisy_turns, clean_turns = asyncio.run(run())
        if args.cache is not None:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            args.cache.write_bytes(pickle.dumps((configured, common, noisy_turns, clean_turns)))
    print(f"{len(clean)} sentences, read in {time.perf_counter() - started:.0f} s; errors {args.errors.name}")
    assert isinstance(configured, ConfirmSettings)
    rows = []
    for accept, band, close in itertools.product(ACCEPT, BAND, CLOSE):
        s = replace(configured, accept_rescued=accept, band=band, close=close)
        rows.append((s, score(noisy_turns, s, common), score(clean_turns, s, common)))
    print("without the band (refuse as before):")
    print(f"  noisy {score_off(noisy_turns, common)}\n  clean {score_off(clean_turns, common)}")
    print("accept band close | noisy: answered / +confirmed / refused / oos taken / oos asked | clean: same")
    ok = [
        r
        for r in rows
        if max(r[1]["oos_taken"], r[2]["oos_taken"]) <= args.max_oos_taken
        and max(r[1]["oos_asked"], r[2]["oos_asked"]) <= args.max_oos_asked
    ]
    for s, n, c in sorted(rows, key=lambda r: -r[1]["answered_or_confirmed"])[:15]:
        print(f"  {_key(s)} | {_fmt(n)} | {_fmt(c)}")
    print("out-of-scope asked about, by the evidence that alone would ask (noisy | clean):")
    for kind in ("rescued", "joint", "keywords"):
        print(f"  {kind:9s} {_alone(noisy_turns, configured, common, kind):5.1f} | "
              f"{_alone(clean_turns, configured, common, kind):5.1f}")  # fmt: skip
    now = next(r for r in rows if _key(r[0]) == _key(configured))
    print(f"configured ({_key(configured)}): noisy {_fmt(now[1])} | clean {_fmt(now[2])}")
    if not ok:
        print("no setting keeps out-of-scope within the limits")
        return
    best = max(
        ok, key=lambda r: (r[1]["answered_or_confirmed"] + r[2]["answered_or_confirmed"], r[1]["answered"])
    )
    print(f"chosen ({_key(best[0])}): noisy {_fmt(best[1])} | clean {_fmt(best[2])}")


def score_off(turns: list[Turn], common: str) -> dict[str, float]:
    """The figures without the band: the first reading decides."""
    from bot.misheard import ConfirmSettings

    bare = [Turn(t.gold, t.decision, None, t.length) for t in turns]
    return score(bare, ConfirmSettings(enabled=False), common)


def _alone(turns: list[Turn], settings, common: str, kind: str) -> float:
    """Share of out-of-scope turns asked about with only one kind of evidence kept."""
    from bot.misheard import Rereading

    oos = [t for t in turns if not t.gold]
    asked = 0
    for t in oos:
        if t.evidence is None:
            continue
        only = Rereading(**{kind: getattr(t.evidence, kind)})
        asked += outcome(Turn(t.gold, t.decision, only, t.length), settings, common)[0] == "asked"
    return round(100 * asked / len(oos), 1) if oos else 0.0


def _key(s) -> tuple[float, float, float]:
    return (s.accept_rescued, s.band, s.close)


def _fmt(f: dict[str, float]) -> str:
    return " / ".join(
        f"{f[k]:5.1f}" for k in ("answered", "answered_or_confirmed", "refused", "oos_taken", "oos_asked")
    )


if __name__ == "__main__":
    main()
