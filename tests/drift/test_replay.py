"""Replayed traffic through the real bot (tiny models): each injected shift raises its alert in its
domain, and the stable control raises none."""

from __future__ import annotations

import asyncio
import csv
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from callbot.database import create_engine
from data.augment.asr_errors import ErrorModel
from drift import DriftError
from drift.reference import from_bot
from drift.replay import ReplayPlan, Sentence, replay
from drift.report import local_day, make_report
from drift.settings import DriftSettings
from tests.bot.runtime_models import COMMON, RESERVATION, STORE, shared_bot, tiny_vocabulary

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ERRORS = REPO / "data" / "augment" / "errors" / "whisper-base-phone.json"
DAYS, PER_DAY, SHIFT_DAY = 8, 150, 5
SETTINGS = DriftSettings(min_daily_turns=100, min_window_turns=30, min_history=3, cer_sample=100)
SENTENCES = [
    Sentence(text, intent, intent.split("_")[0])
    for intents in (STORE, {"reservation_book": RESERVATION["reservation_book"]})
    for intent, texts in intents.items()
    for text in texts
] + [Sentence(t, "common_out_of_scope", "common") for t in COMMON["common_out_of_scope"]]
UNKNOWN = [
    Sentence(t, "new_meal_kit")
    for t in (
        # a topic the tiny models refuse or doubt (others, "밀키트 있어요", they take as a store question)
        "밀키트 택배로 보내 주나요",
        "밀키트 정기 구독",
        "밀키트 배송 알려줘",
        "케이터링 돼요",
    )
]


def model_cache(request: pytest.FixtureRequest) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("callbot-bot-runtime"))
    return Path(tempfile.gettempdir()) / "callbot-bot-runtime"


@pytest.fixture(scope="module")
def tiny(request, tmp_path_factory):  # noqa: ANN001, ANN201
    bot, folder = shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))
    held_out = folder / "held_out.csv"
    with held_out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "intent", "domain"])
        w.writerows((s.text, s.intent, s.domain) for s in SENTENCES)
    reference = asyncio.run(from_bot(bot, held_out))
    return bot, reference


def run(tiny, tmp_path: Path, shift: str, **plan) -> tuple[object, object]:  # noqa: ANN001
    bot, reference = tiny
    engine = create_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    now = time.time()
    first = local_day(now, SETTINGS.utc_offset_hours) - DAYS + 1
    start = first * 86400.0 - SETTINGS.utc_offset_hours * 3600
    errors = ErrorModel.load(ERRORS) if shift == "recognition" else None
    p = ReplayPlan(DAYS, PER_DAY, shift, SHIFT_DAY, start=start, **plan)
    result = asyncio.run(replay(bot, engine, p, SENTENCES, unknown=UNKNOWN, errors=errors))
    assert result.turns == DAYS * PER_DAY
    report = make_report(engine, reference, SETTINGS, DAYS, now=now, known_words=tiny_vocabulary().known)
    return report, first + SHIFT_DAY, engine


def test_the_stable_control_raises_no_alert(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    report, _, engine = run(tiny, tmp_path, "stable")
    assert report.alerts == []
    with engine.connect() as db:  # what the call log holds: the bot's reading of each turn
        rows = db.execute(sa.text("SELECT outcome, router_domain, ranking FROM turns LIMIT 5")).all()
    assert all(r[0] and r[1] and r[2].startswith("[[") for r in rows)


def test_store_hours_questions_tripled_alert_the_store_mix(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    report, shift_day, _ = run(tiny, tmp_path, "boost", intent="store_hours", factor=3.0)
    mix = [f for f in report.alerts if f.signal == "intent_mix"]
    assert "store" in {f.scope for f in mix}
    assert min(f.day for f in mix) == shift_day
    store = next(f for f in mix if f.scope == "store")
    assert store.detail["moved"][0]["label"] == "store_hours"
    assert not [f for f in report.alerts if f.scope == "reservation"]
    assert not [f for f in report.alerts if f.day + f.days <= shift_day]


def test_an_unknown_topic_alerts_refusals_with_its_new_words(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    report, shift_day, _ = run(tiny, tmp_path, "unknown", share=0.25)
    refused = [f for f in report.alerts if f.signal == "out_of_scope"]
    assert "all" in {f.scope for f in refused}
    assert not [f for f in report.alerts if f.day + f.days <= shift_day]  # a week may span the shift
    words = [w for w in report.words if w.scope == "all"]
    assert words and words[0].words[0].word == "밀키트"  # Kiwi's content words, new to the training data
    assert words[0].words[0].count >= 10 and words[0].clusters


def test_worse_recognition_alerts_recognition_health(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    report, shift_day, _ = run(tiny, tmp_path, "recognition", factor=3.0)
    rec = [f for f in report.alerts if f.signal == "recognition"]
    assert rec and "all" in {f.scope for f in rec}
    assert min(f.day for f in rec) == shift_day
    latest = next(f for f in rec if f.scope == "all")
    assert latest.detail["cer"] > latest.detail["cer_baseline"] + SETTINGS.cer_rise


def test_a_replay_plan_is_checked() -> None:
    with pytest.raises(DriftError, match="shift 'sideways'"):
        ReplayPlan(3, 10, "sideways").check()
