"""A traffic replay for demos and tests: N days of call-log turns through the real bot, with a shift.

Sentences (CSV `text,intent[,domain]`) are drawn for each day at the intent mix of the file, one call per
turn, at times spread over the business day. From day `shift_day` on, one shift applies:

- `stable`: none (the control);
- `boost`: the sentences of `intent` come `factor` times as often (a promotion: discount questions x3);
- `unknown`: `share` of the turns are drawn from `unknown` sentences, a topic the bot was not trained on;
- `recognition`: the recognizer gets worse: the texts carry `factor` times the learned recognition
  errors (`data.augment.asr_errors`), and Vosk's text (logged beside the second pass's) more still.

Every turn goes through `Bot.handle` as a call's first turn (a fresh dialogue session); each distinct
text is read once and its reading reused (the bot is deterministic for a first turn). Rows are written
to the call log's tables in batches.
"""

from __future__ import annotations

import csv
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from drift import DriftError

SHIFTS = ("stable", "boost", "unknown", "recognition")
DAY = 86400.0
BASE_NOISE = 0.5  # the learned error rates scaled: the final text on an ordinary day ...
VOSK_NOISE = 1.5  # ... and Vosk's text, which the second pass usually beats
VARIANTS = 5  # misheard versions of a sentence at one noise strength


@dataclass(frozen=True)
class Sentence:
    text: str
    intent: str
    domain: str = ""


@dataclass(frozen=True)
class ReplayPlan:
    days: int
    per_day: int
    shift: str = "stable"
    shift_day: int = 0
    intent: str = ""  # boost: the intent that comes more often
    factor: float = 3.0  # boost: how much more often; recognition: how many times the errors
    share: float = 0.15  # unknown: share of turns on the unknown topic
    start: float = 0.0  # epoch of the first day's 00:00 local
    utc_offset_hours: float = 9.0
    seed: int = 0

    def check(self) -> None:
        if self.shift not in SHIFTS:
            raise DriftError(f"replay shift {self.shift!r}: must be one of {', '.join(SHIFTS)}")
        if self.days < 1 or self.per_day < 1:
            raise DriftError(
                f"replay needs at least one day and one turn a day (days {self.days}, per day {self.per_day})"
            )
        if not 0 <= self.shift_day < self.days + 1:
            raise DriftError(f"replay shift day {self.shift_day} is outside 0..{self.days}")


@dataclass
class ReplayResult:
    turns: int = 0
    distinct_texts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def read_sentences(path: Path) -> list[Sentence]:
    """Rows of a `text,intent[,domain]` CSV (the eval sets' format); errors name the file and line."""
    if not path.is_file():
        raise DriftError(f"{path}: sentence file not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not {"text", "intent"} <= set(reader.fieldnames or []):
            raise DriftError(f"{path}: needs columns text,intent (has {', '.join(reader.fieldnames or [])})")
        out = []
        for line, row in enumerate(reader, start=2):
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text or not intent:
                raise DriftError(f"{path}:{line}: empty text or intent")
            out.append(Sentence(text, intent, (row.get("domain") or "").strip()))
    if not out:
        raise DriftError(f"{path}: no sentences")
    return out


def draw_day(
    plan: ReplayPlan, day: int, sentences: list[Sentence], unknown: list[Sentence], rng: random.Random
) -> list[tuple[Sentence, float]]:
    """The day's sentences with the noise strength of their text."""
    shifted = day >= plan.shift_day and plan.shift != "stable"
    weights = [1.0] * len(sentences)
    if shifted and plan.shift == "boost":
        weights = [plan.factor if s.intent == plan.intent else 1.0 for s in sentences]
    noise = BASE_NOISE * (plan.factor if shifted and plan.shift == "recognition" else 1.0)
    out = []
    for _ in range(plan.per_day):
        if shifted and plan.shift == "unknown" and rng.random() < plan.share:
            out.append((rng.choice(unknown), noise))
        else:
            out.append((rng.choices(sentences, weights=weights)[0], noise))
    return out


async def replay(
    bot: Any,
    engine: sa.engine.Engine,
    plan: ReplayPlan,
    sentences: list[Sentence],
    *,
    unknown: list[Sentence] | None = None,
    errors: Any = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Write the plan's turns into the call log behind `engine` (tables created if missing)."""
    from callbot.database import ensure_schema
    from callbot.events import UserText
    from data.augment.asr_errors import noisy
    from telephony.calllog import calls_table, metadata, turns_table, understanding_fields

    plan.check()
    if plan.shift == "boost" and not any(s.intent == plan.intent for s in sentences):
        raise DriftError(f"replay boost: no sentence has intent {plan.intent!r}")
    if plan.shift == "unknown" and not unknown:
        raise DriftError("replay shift 'unknown' needs sentences of the unknown topic")
    if plan.shift == "recognition" and errors is None:
        raise DriftError("replay shift 'recognition' needs a recognition error model")
    ensure_schema(engine, metadata, "calllog")
    started = time.perf_counter()
    result = ReplayResult()
    readings: dict[str, dict[str, Any]] = {}

    async def read(text: str) -> dict[str, Any]:
        if text not in readings:
            session = bot.new_session(f"replay-{len(readings)}")
            reply = await bot.handle(session, UserText(text))
            await bot.end_session(session)
            readings[text] = {
                "reply": reply.text,
                "domain": reply.domain,
                "intent": reply.intent,
                "intent_confidence": reply.confidence,
                "action": reply.action.value,
                **understanding_fields(reply.understanding),
            }
        return readings[text]

    def heard(text: str, strength: float, rng: random.Random) -> str:
        """One of `VARIANTS` misheard versions of the text at this strength (a bounded set of texts to
        read, like callers who say the same words and a recognizer that mishears them alike)."""
        if errors is None or strength <= 0:
            return text
        variant = rng.randrange(VARIANTS)
        return noisy(
            text, errors, random.Random(zlib.crc32(f"{text}:{strength}:{variant}".encode())), strength
        )

    for day in range(plan.days):
        rng = random.Random(zlib.crc32(f"{plan.seed}:{plan.shift}:{day}".encode()))
        calls, turns = [], []
        day_start = plan.start + day * DAY
        for i, (sentence, strength) in enumerate(draw_day(plan, day, sentences, unknown or [], rng)):
            at = day_start + 9 * 3600 + rng.random() * 12 * 3600
            sid = f"CArp{plan.seed:02d}{day:04d}{i:06d}"
            final = heard(sentence.text, strength, rng)
            vosk = final  # Vosk's text is only logged (nothing reads it): misheard afresh each turn
            if errors is not None:
                vosk = noisy(sentence.text, errors, rng, strength * VOSK_NOISE / BASE_NOISE)
            reading = await read(final)
            calls.append({"call_sid": sid, "started_at": at, "ended_at": at + 30, "status": "completed",
                          "caller": "", "callee": "", "account_sid": "", "end_reason": "replay",
                          "bot_version": reading.get("bot_version") or "", "frames_in": 0,
                          "frames_dropped": 0, "frames_out": 0, "resumes": 0})  # fmt: skip
            turns.append({"call_sid": sid, "turn": 1, "kind": "speech", "at": at + 3, "caller_text": final,
                          "vosk_text": vosk, "second_text": final, "text_source": "second",
                          "second_outcome": "used", "barged_in": False, **reading})  # fmt: skip
            outcome = reading.get("outcome") or ""
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        columns = {k for row in turns for k in row}  # a many-row insert takes the first row's columns
        with engine.begin() as db:
            db.execute(calls_table.insert(), calls)
            db.execute(turns_table.insert(), [{k: row.get(k) for k in columns} for row in turns])
        result.turns += len(turns)
        if progress is not None:
            progress(day)
    result.distinct_texts = len(readings)
    result.seconds = time.perf_counter() - started
    return result
