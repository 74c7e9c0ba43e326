"""`callbot data build` through the real CLI: tables for people, JSON for scripts, clean errors."""

import json
import os

from typer.testing import CliRunner

from callbot.cli.main import app

runner = CliRunner()


def test_build_prints_report_table(company, tmp_path):
    company()
    result = runner.invoke(app, ["--config", str(tmp_path / "callbot.yml"), "data", "build"])
    assert result.exit_code == 0, result.output
    assert "data build" in result.output and "PII masked: PHONE" in result.output
    assert "cake_order" in result.output
    assert (tmp_path / "build" / "report.json").exists()


def test_build_json(company, tmp_path):
    company()
    result = runner.invoke(app, ["--config", str(tmp_path / "callbot.yml"), "data", "build", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["review"] == 1 and report["intents"]["store_hours"]["domain"] == "store"


def test_bad_input_is_a_message_not_a_traceback(company, tmp_path):
    company()
    bad = tmp_path / "bad.csv"
    bad.write_bytes("질문,비고\n주차,x\n".encode("cp949"))
    result = runner.invoke(
        app, ["--config", str(tmp_path / "callbot.yml"), "data", "build", "--qna", str(bad)]
    )
    assert result.exit_code == 1
    assert "bad.csv: missing column answer" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_reported(tmp_path):
    result = runner.invoke(app, ["--config", str(tmp_path / "nope.yml"), "data", "build"])
    assert result.exit_code == 1
    assert "config file not found" in result.output


def _rendered(table, width: int = 80) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_the_per_intent_table_shows_whole_intent_names_on_80_columns():
    from data.report import BuildReport

    counts = {"real_train": 675, "real_test": 118, "generated_train": 438, "generated_test": 79}
    by_kind = {"by_kind": {"casual": 517, "clipped": 12, "asr": 100, "asr_learned": 3}}
    prefixed = BuildReport(
        intents={
            "reservation_availability": {"domain": "reservation", **counts, **by_kind},
            "store_holiday_hours": {"domain": "store", **counts, **by_kind},
        }
    )
    text = _rendered(prefixed.tables()[1])
    assert "reservation_availability" in text and "store_holiday_hours" in text and "…" not in text
    assert "domain" not in text  # every intent name already says its domain
    other = BuildReport(intents={"cake_order": {"domain": "bakery", **counts, **by_kind}})
    text = _rendered(other.tables()[1])
    assert "domain" in text and "bakery" in text and "cake_order" in text
