"""End-to-end build of the bundled restaurant sample, with augmentation."""

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from callbot.config import load_config
from data.build import build
from data.clean import dedupe_key
from data.settings import DataSettings

ROOT = Path(__file__).resolve().parents[2]
INTENTS = {
    "reservation": ["reservation_make", "reservation_change", "reservation_cancel", "reservation_check",
                    "reservation_group", "reservation_seating", "reservation_takeout"],
    "store": ["store_location", "store_hours", "store_holiday_hours", "store_parking", "store_family"],
    "menu": ["menu_inquiry", "menu_price", "menu_discount"],
    "delivery": ["delivery_availability", "delivery_time", "delivery_menu", "delivery_status"],
    "service": ["service_lost_item", "service_complaint"],
    "common": ["common_greet", "common_goodbye", "common_affirm", "common_deny", "common_agent", "common_repeat",
               "common_out_of_scope"],
}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    settings = DataSettings.from_config(load_config(ROOT / "callbot.yml"))
    out = tmp_path_factory.mktemp("sample") / "build"
    settings = settings.with_inputs(build_dir=out)
    report = build(settings)
    with (out / "examples.csv").open(encoding="utf-8") as f:
        examples = list(csv.DictReader(f))
    return settings, report, examples


def test_every_required_intent_has_25_real_phrasings(sample):
    _, report, examples = sample
    real = defaultdict(set)
    for e in examples:
        if e["kind"] == "real":
            real[(e["domain"], e["intent"])].add(e["text"])
    for domain, intents in INTENTS.items():
        for intent in intents:
            assert len(real[(domain, intent)]) >= 25, (domain, intent)
    assert set(report.intents) == {i for intents in INTENTS.values() for i in intents}


def test_generated_text_never_swamps_real_text(sample):
    settings, report, _ = sample
    aug = settings.augment
    cap = aug.max_generated_per_real + aug.asr_learned_per_real  # the learned errors have a cap of their own
    for intent, row in report.intents.items():
        assert row["generated_train"] <= cap * row["real_train"], intent
        learned = row["by_kind"].get("asr_learned", 0)
        assert learned <= aug.asr_learned_per_real * (row["real_train"] + row["real_test"]), intent
        expected = {"casual"} if intent in aug.casual_only_intents else {"casual", "clipped", "asr"}
        assert set(row["by_kind"]) - {"asr_learned"} == expected, intent


def test_generated_examples_keep_provenance(sample):
    _, _, examples = sample
    real_sources = {e["source"] for e in examples if e["kind"] == "real"}
    generated = [e for e in examples if e["kind"] != "real"]
    assert generated and all(e["source"] in real_sources for e in generated)


def test_eval_sets_are_not_training_data(sample):
    _, _, examples = sample
    # Generated clipped forms may coincide with short eval phrasings ("예약 변경"): that is augmentation
    # doing its job. Written text must not leak.
    train = {dedupe_key(e["text"]) for e in examples if e["split"] == "train" and e["kind"] == "real"}
    for name in ("polite", "casual", "out_of_scope"):
        with (ROOT / "examples" / "restaurant" / "eval" / f"{name}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) >= 100
        leaked = [r["text"] for r in rows if dedupe_key(r["text"]) in train]
        assert leaked == [], name


def test_pii_is_masked_and_logs_are_counted(sample):
    settings, report, _ = sample
    assert report.pii_masked["PHONE"] > 50
    assert report.rows_read[str(ROOT / "examples" / "restaurant" / "chat_logs.csv")] > 3000
    assert report.review > 0 and report.auto_labelled > 100
    text = (settings.build_dir / "examples.csv").read_text(encoding="utf-8")
    assert "010-1234-5678" not in text and "900101-1234567" not in text
