"""Labels become training data: `data build` reads them (provenance `operator`), the console lists
conflicts, and the CSV export has them."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from callbot.cli.main import app
from console.labels import conflicts, labels_for_build, record_label
from tests.console.conftest import login


def _examples(config):
    with (config.parent / "build" / "examples.csv").open(encoding="utf-8") as f:
        return {r["text"]: r for r in csv.DictReader(f)}


def test_labels_are_read_by_the_next_data_build(company, services, client):
    csrf = login(client, "anna")
    # 주차 돼요 (refused) -> store_parking; 영업 시간 알려 주세요 -> store_hours (the model was right);
    # 케이크 예약하고 싶어요 is also a QnA question: labelled order_cancel, it conflicts with the sheet.
    for turn_id, intent in ((3, "store_parking"), (4, "store_hours"), (2, "order_cancel")):
        r = client.post("/console/label", data={"turn_id": str(turn_id), "intent": intent, "csrf": csrf})
        assert r.status_code == 200, r.text

    clashes = conflicts(services.engine, company.parent / "build")
    assert [(c["text"], c["intent"], c["other_intent"]) for c in clashes] == [
        ("케이크 예약하고 싶어요", "order_cancel", "cake_order")
    ]
    assert "케이크 예약하고 싶어요" in client.get("/console/labels").text.split("Conflicts (1)")[1]

    result = CliRunner().invoke(app, ["--config", str(company), "data", "build", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["operator_labels"] == 3
    assert report["rows_read"]["operator labels"] == 3
    examples = _examples(company)
    assert examples["주차 돼요"]["intent"] == "store_parking"
    assert examples["주차 돼요"]["source"].startswith("operator:label-")
    assert examples["영업 시간 알려 주세요"]["intent"] == "store_hours"
    # The operator's label wins over the sheet's row; the sheet's row is reported as the conflict.
    assert examples["케이크 예약하고 싶어요"]["intent"] == "order_cancel"
    assert any(p["reason"] == "label_conflict" and "qna.csv" in p["where"] for p in report["problems"])


def test_a_build_without_a_call_log_reads_no_labels(tmp_path):
    assert labels_for_build(f"sqlite:///{tmp_path / 'none.db'}") == []
    assert not (tmp_path / "none.db").exists()


def test_relabelled_turns_count_once(services):
    from console.labels import IntentCatalog

    catalog = IntentCatalog.from_build(services.settings.build_dir)
    record_label(services.engine, catalog, [3], "store_hours", "pick", "anna")
    record_label(services.engine, catalog, [3], "store_parking", "pick", "admin")
    labels = labels_for_build(services.settings.database_url)
    assert [(label["turn_id"], label["intent"], label["user"]) for label in labels] == [
        (3, "store_parking", "admin")
    ]


def test_recent_labels_are_held_out_of_the_build_when_asked(company, services):
    import yaml

    from console.labels import IntentCatalog

    record_label(
        services.engine,
        IntentCatalog.from_build(services.settings.build_dir),
        [3],
        "store_parking",
        "pick",
        "anna",
    )
    config = yaml.safe_load(company.read_text(encoding="utf-8"))
    config["console"] = {"holdout_days": 7}
    company.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(company), "data", "build", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["operator_labels"] == 0
    assert "주차 돼요" not in _examples(company)
