"""Drift reports over synthetic call logs in SQLite: the SQL aggregation, the verdicts, the JSON/HTML."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from callbot.config import Config, ConfigError
from callbot.database import create_engine, ensure_schema
from drift.reference import OOS, Reference, from_rows
from drift.report import make_report, write_html
from drift.settings import DriftSettings
from telephony.calllog import metadata, turns_table

DAY = 86400.0
NOW = 20000 * DAY + 12 * 3600  # noon UTC of day 20000; local (UTC+9) day 20000 too
INTENTS = {"menu_price": "menu", "menu_discount": "menu", "store_hours": "store", "store_parking": "store"}


def reference() -> Reference:
    """A test split: 100 of each intent, 10% read as a neighbour, plus 40 out-of-scope texts."""
    rng = np.random.default_rng(0)
    rows = []
    names = list(INTENTS)
    for intent, domain in INTENTS.items():
        for _ in range(100):
            wrong = rng.random() < 0.1
            pred = names[(names.index(intent) + 1) % 4] if wrong else intent
            rows.append((intent, pred, domain, float(rng.uniform(0.6, 1.0))))
    rows += [(OOS, OOS, "common", float(rng.uniform(0.2, 0.6))) for _ in range(40)]
    return from_rows("v-test", rows)


def write_days(engine: sa.engine.Engine, days: int, per_day: int, shift=None, seed: int = 0) -> None:  # noqa: ANN001
    """Turns of `days` days ending today; `shift(day_index, rng)` may return a turn's fields instead."""
    rng = random.Random(seed)
    rows = []
    first = int(NOW // DAY) - days + 1
    for d in range(days):
        for i in range(per_day):
            intent = rng.choice(list(INTENTS))
            row = {"intent": intent, "router_domain": INTENTS[intent], "outcome": "accepted",
                   "intent_confidence": rng.uniform(0.6, 1.0)}  # fmt: skip
            if rng.random() < 0.03:
                row = {"intent": "common_out_of_scope", "router_domain": "common", "outcome": "refused",
                       "intent_confidence": rng.uniform(0.2, 0.6), "caller_text": "오늘 날씨 어때요"}  # fmt: skip
            if shift is not None:
                row = shift(d, rng) or row
            at = (first + d) * DAY - 9 * 3600 + 10 * 3600 + rng.random() * 10 * 3600
            text = row.pop("caller_text", "가격이 얼마예요")
            rows.append({"call_sid": f"CA{d:03d}{i:05d}", "turn": 1, "kind": "speech", "at": at,
                         "caller_text": text, "vosk_text": text, "second_text": text,
                         "second_outcome": "used", **row})  # fmt: skip
    keys = {k for r in rows for k in r}  # an insert of many rows takes the columns of the first
    with engine.begin() as db:
        db.execute(turns_table.insert(), [{k: r.get(k) for k in keys} for r in rows])


@pytest.fixture
def engine(tmp_path: Path) -> sa.engine.Engine:
    e = create_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    ensure_schema(e, metadata, "calllog")
    return e


def tagger(text: str) -> list[tuple[str, int, int, str, str]]:
    """Whitespace words as nouns: Kiwi's part is tested with the real bot (test_replay.py)."""
    out, at = [], 0
    for w in text.split():
        out.append((w, at, at + len(w), w, "NNG"))
        at += len(w) + 1
    return out


SETTINGS = DriftSettings(min_history=7, min_daily_turns=300, cer_sample=50)


def test_a_stable_month_raises_no_alert(engine: sa.engine.Engine) -> None:
    write_days(engine, 30, 400)
    report = make_report(engine, reference(), SETTINGS, 30, now=NOW, known_words=frozenset(), tagger=tagger)
    assert report.alerts == []
    days = {f.day for f in report.findings if f.scope == "all"}
    assert len(days) == 30  # daily windows at 400 turns a day
    assert {f.basis for f in report.findings if f.signal == "intent_mix" and f.scope == "all"} == {
        "reference",
        "history",
    }


def test_discount_questions_tripled_alert_the_menu_mix_from_the_shift_day(engine: sa.engine.Engine) -> None:
    def triple(day: int, rng: random.Random) -> dict | None:
        if day >= 20 and rng.random() < 0.4:  # of 400: ~100 -> ~220 discount questions
            return {"intent": "menu_discount", "router_domain": "menu", "outcome": "accepted",
                    "intent_confidence": rng.uniform(0.6, 1.0)}  # fmt: skip
        return None

    write_days(engine, 30, 400, triple)
    report = make_report(engine, reference(), SETTINGS, 30, now=NOW, known_words=frozenset(), tagger=tagger)
    first_day = int(NOW // DAY) - 29
    mix = [f for f in report.alerts if f.signal == "intent_mix"]
    assert {f.scope for f in mix} <= {"all", "menu"} and "menu" in {f.scope for f in mix}
    assert min(f.day for f in mix) == first_day + 20
    alert = next(f for f in mix if f.scope == "menu")
    assert alert.detail["moved"][0]["label"] == "menu_discount"
    assert alert.detail["moved"][0]["live"] > alert.detail["moved"][0]["reference"]
    assert not [f for f in report.alerts if f.scope == "store"]


def test_an_unknown_topic_alerts_the_out_of_scope_share_with_its_words(engine: sa.engine.Engine) -> None:
    texts = ["밀키트 택배로 보내 주나요", "밀키트 주문하고 싶어요", "케이터링 출장 되나요"]

    def unknown(day: int, rng: random.Random) -> dict | None:
        if day >= 25 and rng.random() < 0.15:
            return {"intent": "common_out_of_scope", "router_domain": "common", "outcome": "refused",
                    "intent_confidence": rng.uniform(0.2, 0.6), "caller_text": rng.choice(texts)}  # fmt: skip
        return None

    write_days(engine, 30, 400, unknown)

    report = make_report(
        engine, reference(), SETTINGS, 30, now=NOW, known_words=frozenset({"오늘", "날씨"}), tagger=tagger
    )
    oos = [f for f in report.alerts if f.signal == "out_of_scope"]
    # refused in common (every common turn is refused, so its share stays): the overall share rises
    assert {f.scope for f in oos} == {"all"}
    assert min(f.day for f in oos) == int(NOW // DAY) - 4
    assert not [f for f in report.alerts if f.scope in ("menu", "store")]
    words = next(w for w in report.words if w.scope == "all")
    top = [nw.word for nw in words.words]
    assert top[0] == "밀키트" and "날씨" not in top
    assert words.clusters[0].count >= 2
    data = json.loads(json.dumps(report.to_json(), ensure_ascii=False))
    assert data["level"] == "alert" and data["words"][0]["words"][0]["word"] == "밀키트"
    assert {a["signal"] for a in data["alerts"]} >= {"out_of_scope"}


def test_worse_recognition_alerts_recognition_health(engine: sa.engine.Engine, tmp_path: Path) -> None:
    write_days(engine, 30, 400)
    with engine.begin() as db:  # from day 26 Vosk and the second pass disagree on every other turn
        db.execute(
            turns_table.update()
            .where(turns_table.c.at >= (int(NOW // DAY) - 3) * DAY - 9 * 3600, turns_table.c.id % 2 == 0)
            .values(vosk_text="가겨기 얼마에요")
        )
    report = make_report(engine, reference(), SETTINGS, 30, now=NOW, known_words=frozenset(), tagger=tagger)
    rec = [f for f in report.alerts if f.signal == "recognition"]
    shift = int(NOW // DAY) - 3
    assert min(f.day for f in rec if f.scope == "all") == shift  # daily; the domains' weeks contain it
    assert not [f for f in report.alerts if f.day + f.days <= shift]
    assert not [f for f in report.alerts if f.signal != "recognition"]
    html = tmp_path / "drift.html"
    write_html(html, report)
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "recognition" in page and "<script" not in page


def test_a_quiet_domain_is_judged_by_the_week(engine: sa.engine.Engine) -> None:
    write_days(engine, 28, 120)  # 120 turns a day in all: every scope under 300
    report = make_report(engine, reference(), SETTINGS, 28, now=NOW, known_words=frozenset(), tagger=tagger)
    menu = [f for f in report.findings if f.scope == "menu" and f.signal == "intent_mix"]
    assert len(menu) == 4 and {f.days for f in menu} == {7}
    assert report.alerts == []


def test_the_reference_round_trips(tmp_path: Path) -> None:
    ref = reference()
    ref.save(tmp_path / "r.json")
    back = Reference.load(tmp_path / "r.json")
    assert back.labels == ref.labels and np.allclose(back.scope("menu").joint, ref.scope("menu").joint)


def test_settings_name_every_bad_key(tmp_path: Path) -> None:
    config = Config(tmp_path / "callbot.yml", {"drift": {"psi_alert": -1, "quantile": 2, "nope": 1}})
    with pytest.raises(ConfigError) as err:
        DriftSettings.from_config(config)
    message = str(err.value)
    assert "drift.psi_alert" in message and "drift.quantile" in message and "drift.nope" in message


def test_declined_confirmations_alert_against_the_history(engine: sa.engine.Engine) -> None:
    def asked(day: int, rng: random.Random) -> dict | None:
        if rng.random() < 0.1:  # a confirmation question; callers say no to 20%, from day 25 to 60%
            no = rng.random() < (0.6 if day >= 25 else 0.2)
            return {"intent": "menu_discount", "router_domain": "menu", "outcome": "confirm_asked",
                    "intent_confidence": rng.uniform(0.3, 0.5), "confirm": "no" if no else "yes"}  # fmt: skip
        return None

    write_days(engine, 30, 400, asked)
    report = make_report(engine, reference(), SETTINGS, 30, now=NOW, known_words=frozenset(), tagger=tagger)
    declined = [f for f in report.alerts if f.signal == "declined"]
    shift = int(NOW // DAY) - 4
    assert declined and min(f.day for f in declined if f.scope == "all") == shift
    assert not [f for f in declined if f.day + f.days <= shift]
    assert {f.basis for f in declined} == {"history"}


def test_recognizer_disagreement_is_judged_against_the_day_to_day_spread() -> None:
    from collections import Counter

    from drift.aggregate import Counts
    from drift.monitor import judge

    rng = np.random.default_rng(4)

    def day(mean: float) -> Counts:
        cers = list(np.clip(rng.normal(mean, 0.2, 200), 0, 1))
        return Counts(labels=Counter({"menu_price": 400}), speech=400, second=400, cers=cers)

    means = [0.30, 0.40] * 5 + [0.43, 0.62]  # days vary by 0.1; then a day in range, then one far out
    counts = {("all", d): day(m) for d, m in enumerate(means)}
    found = [f for f in judge(reference(), counts, 0, len(means) - 1, SETTINGS) if f.signal == "recognition"]
    levels = {f.day: f.level for f in found}
    assert levels[10] != "alert" and levels[11] == "alert"


def test_a_domains_rare_labels_are_pooled_so_bbse_stays_sane() -> None:
    from drift.reference import OTHER
    from drift.stats import bbse

    rows = [("menu_price", "menu_price", "menu", 0.9)] * 60 + [
        ("menu_discount", "menu_discount", "menu", 0.9)
    ] * 60
    rows += [("store_parking", "menu_price", "menu", 0.5)]  # one parking question the router sent to menu
    ref = from_rows("v", rows + [(OOS, OOS, "common", 0.3)] * 20)
    scope = ref.scope("menu")
    assert "store_parking" not in scope.labels and scope.labels[-1] == OTHER
    live = np.zeros(len(scope.labels))
    live[scope.index("menu_price")], live[scope.index("menu_discount")] = 40, 80  # discount x2
    q = bbse(scope.joint, live).q
    assert q[scope.index("menu_discount")] == pytest.approx(2 / 3, abs=0.02)
    assert scope.index("store_parking") == scope.index("never_seen") == len(scope.labels) - 1
