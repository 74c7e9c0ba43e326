"""A drift report: the call log of the last N days judged against the serving version's reference.

`make_report` works on an engine and a reference (tests, the benchmark, the server's monitor);
`report_for_config` finds them from callbot.yml (the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from drift.aggregate import DAY, aggregate, refused_texts
from drift.monitor import Finding, date_of, judge, worst
from drift.reference import Reference
from drift.settings import DriftSettings
from drift.words import WordsBehind, words_behind

# Signals whose alert brings new words with it (callers asking about something else).
WORDY = ("intent_mix", "out_of_scope")


@dataclass(frozen=True)
class DriftReport:
    version: str
    first_day: int
    last_day: int
    findings: list[Finding]
    words: list[WordsBehind] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "alert"]

    @property
    def level(self) -> str:
        return worst(self.findings)

    def latest(self) -> list[Finding]:
        """Each scope and signal's most recent judged window."""
        last: dict[tuple[str, str], Finding] = {}
        for f in self.findings:
            if f.level != "none" or (f.scope, f.signal) not in last:
                last[(f.scope, f.signal)] = f
        return list(last.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "first_day": date_of(self.first_day),
            "last_day": date_of(self.last_day),
            "level": self.level,
            "seconds": round(self.seconds, 3),
            "alerts": [f.to_json() for f in self.alerts],
            "findings": [f.to_json() for f in self.findings],
            "words": [w.to_json() for w in self.words],
        }


def local_day(ts: float, offset_hours: float) -> int:
    return int((ts + offset_hours * 3600) // DAY)


def make_report(
    engine: sa.engine.Engine,
    reference: Reference,
    settings: DriftSettings,
    days: int,
    *,
    now: float | None = None,
    is_oos: Callable[[str], bool] = lambda intent: intent.endswith("out_of_scope"),
    known_words: frozenset[str] | None = None,
    tagger=None,  # noqa: ANN001 - tests may pass a cheap one
) -> DriftReport:
    """Judge the `days` local days up to and including today's (`now`)."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    off = settings.utc_offset_hours
    last = local_day(now, off)
    first = last - days + 1
    start_ts = first * DAY - off * 3600
    end_ts = (last + 1) * DAY - off * 3600
    counts = aggregate(
        engine,
        start_ts,
        end_ts,
        offset_hours=off,
        bins=settings.confidence_bins,
        cer_sample=settings.cer_sample,
        is_oos=is_oos,
    )
    findings = judge(reference, counts, first, last, settings)
    words = []
    if known_words is not None:
        seen = set()
        for f in findings:
            key = (f.scope, f.day)
            if f.level != "alert" or f.signal not in WORDY or key in seen:
                continue
            seen.add(key)
            a = f.day * DAY - off * 3600
            texts = refused_texts(engine, a, a + f.days * DAY, f.scope)
            words.append(
                words_behind(texts, known_words, scope=f.scope, day=f.day, days=f.days, tagger=tagger)
            )
    return DriftReport(reference.version, first, last, findings, words, time.perf_counter() - started)


def report_for_config(config: Any, days: int, now: float | None = None) -> DriftReport:
    """The report of the current model version over the configured call log."""
    from bot.config import BotSettings
    from bot.models import current_model_set
    from bot.nlu.decision import is_rejection_class
    from bot.nlu.vocabulary import FILE_NAME as VOCABULARY
    from bot.nlu.vocabulary import Vocabulary
    from callbot.database import create_engine
    from drift.reference import for_version
    from telephony.settings import read_telephony_settings

    settings = DriftSettings.from_config(config)
    bot = BotSettings.from_config(config)
    model_set = current_model_set(bot.models_dir)
    reference = for_version(model_set.directory, bot.build_dir / "test.csv")
    vocabulary = model_set.directory / VOCABULARY
    known = Vocabulary.load(vocabulary).known if vocabulary.is_file() else frozenset()
    engine = create_engine(read_telephony_settings(config).sqlalchemy_url)
    try:
        return make_report(
            engine,
            reference,
            settings,
            days,
            now=now,
            is_oos=lambda intent: is_rejection_class(intent, bot.out_of_scope_intents),
            known_words=known,
        )
    finally:
        engine.dispose()


def write_html(path: Path, report: DriftReport) -> None:
    from drift.html import render

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
