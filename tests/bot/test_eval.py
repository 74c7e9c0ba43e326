"""`callbot nlu eval` and the rejection rule: labelled texts through router -> domain -> decide."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.evaluate import EvalDataError, LabelledText, Prediction, read_labelled, score
from bot.nlu.calibrate import Labelled, calibrate
from bot.nlu.decision import Decision, Thresholds, decide
from bot.nlu.parser import ParseResult
from callbot.cli.main import app
from tests.bot.test_train_fixtures import HELD_OUT, trained_nlu  # noqa: F401 (fixture)

TH = Thresholds(router=0.6, domain_default=0.5, domains={"menu": 0.7})


def parse(name: str, confidence: float) -> dict:
    return {"intent": {"name": name, "confidence": confidence}}


@pytest.mark.parametrize(
    ("router", "domain", "rejected", "reason"),
    [
        (parse("menu", 0.9), parse("menu_price", 0.8), False, "accepted"),
        (parse("menu", 0.5), parse("menu_price", 0.99), True, "router_low_confidence"),
        (parse("menu", 0.9), parse("common_out_of_scope", 0.99), True, "out_of_scope"),
        (parse("menu", 0.9), parse("menu_price", 0.65), True, "domain_low_confidence"),  # menu needs 0.7
        (parse("store", 0.9), parse("store_hours", 0.65), False, "accepted"),  # default 0.5
        (parse("store", 0.9), None, True, "no_domain_model"),
    ],
)
def test_decide_applies_each_layer(router, domain, rejected: bool, reason: str) -> None:
    d = decide(router, domain, TH)
    assert (d.rejected, d.reason) == (rejected, reason)
    assert d.domain == router["intent"]["name"]


def test_decide_without_router_uses_the_given_domain() -> None:
    d = decide(None, parse("menu_price", 0.75), TH, domain="menu")
    assert (d.domain, d.intent, d.rejected) == ("menu", "menu_price", False)


def test_an_unsure_rejection_lets_the_best_business_intent_compete() -> None:
    ranking = [
        {"name": "common_out_of_scope", "confidence": 0.62},
        {"name": "menu_price", "confidence": 0.3},
        {"name": "menu_discount", "confidence": 0.08},
    ]
    domain = {"intent": ranking[0], "intent_ranking": ranking}
    unsure = Thresholds(router=0.6, domain_default=0.25, out_of_scope=0.7)
    d = decide(parse("menu", 0.9), domain, unsure)
    assert (d.intent, d.confidence, d.rejected, d.reason) == ("menu_price", 0.3, False, "accepted")
    strict = Thresholds(router=0.6, domain_default=0.35, out_of_scope=0.7)  # 0.3 is below the domain's bar
    assert decide(parse("menu", 0.9), domain, strict).reason == "domain_low_confidence"
    sure = Thresholds(router=0.6, domain_default=0.25, out_of_scope=0.6)  # 0.62 >= 0.6: rejected
    assert decide(parse("menu", 0.9), domain, sure).reason == "out_of_scope"
    assert decide(parse("menu", 0.9), domain, TH).reason == "out_of_scope"  # default 0: always rejected


def test_thresholds_round_trip_through_the_manifest() -> None:
    assert Thresholds.from_manifest(TH.to_manifest()) == TH
    assert Thresholds.from_manifest({**TH.to_manifest(), "out_of_scope": 0.8}).out_of_scope == 0.8
    assert Thresholds.from_manifest({}, TH) == TH


def _pred(text: str, gold: str, domain: str, intent: str, conf: float, gold_domain: str | None) -> Prediction:
    decision = decide(parse(domain, 0.9), parse(intent, conf), TH)
    result = ParseResult(text, parse(domain, 0.9), parse(intent, conf), decision)
    predicted = "out_of_scope" if decision.rejected else intent
    gold_label = "out_of_scope" if gold.endswith("out_of_scope") else gold
    return Prediction(LabelledText(text, gold, gold_domain), result, gold_label, predicted)


def test_score_counts_accuracy_router_and_out_of_scope_exactly() -> None:
    preds = [
        _pred("a", "menu_price", "menu", "menu_price", 0.9, "menu"),  # right
        _pred("b", "menu_price", "menu", "menu_hours", 0.9, "menu"),  # wrong intent
        _pred("c", "store_hours", "menu", "menu_price", 0.9, "store"),  # wrong domain
        _pred("d", "common_out_of_scope", "menu", "menu_price", 0.6, "common"),  # rejected: right
        _pred("e", "common_out_of_scope", "menu", "menu_price", 0.9, "common"),  # taken as business
        _pred("f", "common_out_of_scope", "common", "common_greet", 0.9, "common"),  # taken as greet
    ]
    s = score("all", preds)
    assert (s.count, s.accuracy, s.router_accuracy, s.in_scope_accuracy) == (6, 0.3333, 0.6667, 0.3333)
    assert (s.out_of_scope_count, s.out_of_scope_accepted, s.out_of_scope_as_business) == (3, 0.6667, 0.3333)
    assert s.per_intent["menu_price"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "support": 2}
    assert s.per_intent["out_of_scope"]["recall"] == 0.3333
    i, j = s.labels.index("out_of_scope"), s.labels.index("menu_price")
    assert s.confusion[i][j] == 1


def test_calibration_keeps_most_correct_answers_and_caps_thresholds() -> None:
    rows = []
    for k in range(40):
        d = Decision("menu", "menu_price", 0.5 + k / 100, False, "accepted", router_confidence=0.6 + k / 100)
        rows.append(Labelled("menu", "menu_price", ParseResult("t", {}, {}, d)))
    th, stats = calibrate(rows, Thresholds(), min_recall=0.95)
    # 5% of 40 = the 2 least confident answers fall below the thresholds.
    assert th.router == pytest.approx(0.62, abs=1e-4)
    assert th.domains["menu"] == pytest.approx(0.52, abs=1e-4)
    assert stats["in_scope_rows"] == 40


def test_balanced_calibration_rejects_chit_chat_only_where_it_pays() -> None:
    def row(gold: str, intent: str, conf: float) -> Labelled:
        router, domain = parse("menu", 0.99), parse(intent, conf)  # parsed with all thresholds at zero
        result = ParseResult("t", router, domain, decide(router, domain, Thresholds(0, 0)))
        return Labelled(None if gold.endswith("out_of_scope") else "menu", gold, result)

    # in-scope: router sure, domain confidence 0.55 .. 0.94
    rows = [row("menu_price", "menu_price", 0.55 + k / 100) for k in range(40)]
    for k in range(20):  # chit-chat taken as menu_price with low domain confidence, or as out-of-scope
        intent, conf = ("menu_price", 0.41 + k / 100) if k < 10 else ("common_out_of_scope", 0.9)
        rows.append(row("common_out_of_scope", intent, conf))
    th, stats = calibrate(rows, Thresholds(), min_recall=0.95)
    # 0.5 keeps every real question and rejects all the chit-chat but the one at 0.50; 0.6 would
    # stop that one too but lose five real questions.
    assert stats["method"] == "balanced"
    assert (th.router, th.domain_default, th.domains) == (0.0, 0.5, {})
    assert stats["in_scope_accuracy"] == 1.0 and stats["out_of_scope_accepted"] == 0.05


def test_balanced_calibration_weighs_chit_chat_by_its_expected_share() -> None:
    def row(gold: str, intent: str, conf: float) -> Labelled:
        router, domain = parse("menu", 0.99), parse(intent, conf)
        result = ParseResult("t", router, domain, decide(router, domain, Thresholds(0, 0)))
        return Labelled(None if gold.endswith("out_of_scope") else "menu", gold, result)

    # A domain threshold of 0.5 loses 5 of 40 real questions (12.5%) and stops 4 of 20 chit-chat turns (20%).
    rows = [row("menu_price", "menu_price", 0.45 if k < 5 else 0.9) for k in range(40)]
    rows += [row("common_out_of_scope", "menu_price", 0.45 if k < 4 else 0.9) for k in range(20)]
    # Chit-chat as common as business turns: stopping 20% is worth losing 12.5%.
    even, stats = calibrate(rows, Thresholds(), min_recall=0.95, out_of_scope_share=0.5)
    assert even.domain_default == 0.5 and stats["out_of_scope_share"] == 0.5
    # One turn in three out of scope: 20% of chit-chat weighs 10%, less than the questions lost.
    rare, stats = calibrate(rows, Thresholds(), min_recall=0.95, out_of_scope_share=1 / 3)
    assert (rare.router, rare.domain_default) == (0.0, 0.0)
    assert stats["in_scope_accuracy"] == 1.0 and stats["out_of_scope_accepted"] == 1.0


def test_balanced_calibration_is_the_best_point_of_the_whole_grid() -> None:
    """The grid search decides once per router and out-of-scope threshold; it picks what deciding every
    row at every grid point picks (random parses: out-of-scope tops, unsure routers, close rankings)."""
    import random
    from dataclasses import replace

    from bot.nlu.calibrate import GRID, OUT_OF_SCOPE_GRID

    rng = random.Random(5)
    intents = ["menu_price", "menu_recommend", "common_out_of_scope", "common_greet"]

    def ranking() -> dict:
        confs = sorted((rng.random() for _ in intents), reverse=True)
        names = rng.sample(intents, len(intents))
        total = sum(confs)
        items = [{"name": n, "confidence": c / total} for n, c in zip(names, confs, strict=True)]
        return {"intent": items[0], "intent_ranking": items}

    for trial in range(3):
        rows = []
        for _ in range(120):
            router = parse(rng.choice(["menu", "common"]), rng.choice([0.2, 0.35, 0.5, 0.75, 0.99]))
            domain = ranking()
            gold = rng.choice(intents)
            result = ParseResult("t", router, domain, decide(router, domain, Thresholds(0, 0)))
            rows.append(Labelled(None if gold.endswith("out_of_scope") else "menu", gold, result))
        share = (0.2, 1 / 3, 0.5)[trial]
        got, stats = calibrate(rows, Thresholds(), min_recall=0.95, out_of_scope_share=share)

        def answer(row: Labelled, t: Thresholds) -> str | None:
            d = decide(row.result.router, row.result.domain, t)
            return None if d.rejected else d.intent

        in_scope = [r for r in rows if not r.intent.endswith("out_of_scope")]
        outside = [r for r in rows if r.intent.endswith("out_of_scope")]
        weight, best = share / (1 - share), None
        for out_t in OUT_OF_SCOPE_GRID:
            for router_t in GRID:
                for domain_t in GRID:
                    t = replace(Thresholds(), router=router_t, domain_default=domain_t, out_of_scope=out_t)
                    right = sum(answer(r, t) == r.intent for r in in_scope) / len(in_scope)
                    taken = sum(answer(r, t) is not None for r in outside) / len(outside)
                    if best is None or right - weight * taken > best[0] + 1e-9:
                        best = (right - weight * taken, t, right, taken)
        assert got == best[1]
        assert (stats["in_scope_accuracy"], stats["out_of_scope_accepted"]) == (
            round(best[2], 4),
            round(best[3], 4),
        )


def test_read_labelled_reads_tsv_and_names_missing_columns(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\tintent\tdomain\n짜장면 얼마예요\tmenu_price\tmenu\n", encoding="utf-8")
    assert read_labelled(tsv) == [LabelledText("짜장면 얼마예요", "menu_price", "menu", None, "a.tsv")]
    bad = tmp_path / "b.csv"
    bad.write_text("sentence,label\n안녕,greet\n", encoding="utf-8")
    with pytest.raises(EvalDataError, match="b.csv: missing column"):
        read_labelled(bad)


@pytest.mark.slow  # the whole command on trained models: `make test-slow`
def test_eval_command_on_a_small_labelled_file(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root, _ = trained_nlu
    labelled = tmp_path / "small.csv"
    rows = [
        ("짜장면 얼마예요", "menu_price", "menu"),
        ("예약 취소해 주세요", "reservation_cancel", "reservation"),
        ("예약하고 싶어요", "reservation_book", "reservation"),
        ("예약하고 싶어요", "menu_price", "menu"),  # deliberately mislabelled: must count as an error
        ("로또 번호 알려줘", "common_out_of_scope", ""),
    ]
    with labelled.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "intent", "domain"), *rows])
    config = root / "callbot.yml"
    config.write_text("paths: {build_dir: build, models_dir: models}\nbot: {epochs: 20}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["-c", str(config), "nlu", "eval", str(labelled), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.rindex('{\n  "version"') :])["subsets"][0]
    assert summary["count"] == 5
    assert summary["accuracy"] == 0.8
    assert summary["router_accuracy"] == 0.75
    assert summary["out_of_scope_accepted"] == 0.0
    with (out / "predictions.csv").open(encoding="utf-8") as f:
        preds = list(csv.DictReader(f))
    assert [p["correct"] for p in preds] == ["1", "1", "1", "0", "1"]
    assert (preds[0]["domain"], preds[0]["intent"]) == ("menu", "menu_price")
    assert preds[4]["rejected"] == "1"
    assert "data:image/png;base64," in (out / "report.html").read_text(encoding="utf-8")


def test_eval_command_without_models_is_a_clear_error(tmp_path: Path) -> None:
    labelled = tmp_path / "x.csv"
    labelled.write_text("text,intent\n안녕,common_greet\n", encoding="utf-8")
    config = tmp_path / "callbot.yml"
    config.write_text("paths: {models_dir: models}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["-c", str(config), "nlu", "eval", str(labelled)])
    assert result.exit_code == 1
    assert "no trained models" in result.output


def test_parsing_in_batches_gives_each_text_its_own_parse(trained_nlu) -> None:  # noqa: F811
    """Evaluation and calibration parse the held-out texts in batches: every text's parse and decision
    are those of parsing it alone, whatever else is in its batch (batches of 4 split the 8 texts)."""
    import asyncio

    from bot.models import current_model_set
    from bot.nlu.parser import NluModels

    root, _ = trained_nlu
    models = NluModels.load(current_model_set(root / "models"))
    texts = [t for t, *_ in HELD_OUT] + ["", "환불"]

    async def both() -> tuple[list[ParseResult], list[ParseResult]]:
        return [await models.parse(t) for t in texts], await models.parse_many(texts, batch_size=4)

    alone, batched = asyncio.run(both())
    for one, many in zip(alone, batched, strict=True):
        assert many.text == one.text
        assert many.decision == one.decision
        assert many.router["intent_ranking"] == one.router["intent_ranking"]
        assert (many.domain or {}).get("intent_ranking") == (one.domain or {}).get("intent_ranking")
