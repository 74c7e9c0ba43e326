"""`callbot drift report`: the table, --json for programs, --html; clear errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml
from typer.testing import CliRunner

from callbot.cli.main import app
from callbot.database import create_engine, ensure_schema
from drift.report import local_day
from telephony.calllog import metadata
from tests.drift.test_report import DAY, reference, write_days


def _setup(tmp_path: Path) -> Path:
    models = tmp_path / "models" / "v-test"
    models.mkdir(parents=True)
    (models / "router.tar.gz").write_bytes(b"")  # the report reads no model, only the version's files
    (models / "manifest.json").write_text(json.dumps({"version": "v-test", "models": {"router": {}}}))
    (tmp_path / "models" / "current").write_text("v-test\n")
    reference().save(models / "drift_reference.json")
    config = tmp_path / "callbot.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "paths": {"models_dir": "models", "state_dir": "var", "build_dir": "build"},
                "drift": {"min_history": 7},
            }
        )
    )
    return config


def test_report_as_json_and_html(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    config = _setup(tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'calls.db'}")
    ensure_schema(engine, metadata, "calllog")
    import tests.drift.test_report as helpers

    # the synthetic log ends today (the report's "now" is the real clock)
    today = local_day(__import__("time").time(), 9.0)
    monkeypatch.setattr(helpers, "NOW", today * DAY - 9 * 3600 + 12 * 3600)

    def unknown(day: int, rng: random.Random) -> dict | None:
        if day >= 12 and rng.random() < 0.2:
            return {"intent": "common_out_of_scope", "router_domain": "common", "outcome": "refused",
                    "intent_confidence": 0.3, "caller_text": "밀키트 택배로 보내 주나요"}  # fmt: skip
        return None

    write_days(engine, 14, 400, unknown)
    engine.dispose()
    html = tmp_path / "out" / "drift.html"
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "drift", "report", "--days", "14", "--json",
                                 "--html", str(html)])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["version"] == "v-test" and data["level"] == "alert"
    assert any(a["signal"] == "out_of_scope" and a["scope"] == "all" for a in data["alerts"])
    assert data["words"] and data["words"][0]["words"][0]["word"] == "밀키트"  # Kiwi: 밀키트 is a noun
    assert "<svg" in html.read_text(encoding="utf-8")
    table = runner.invoke(app, ["--config", str(config), "drift", "report", "--days", "14"])
    assert table.exit_code == 0 and "alert(s) in 14 day(s)" in table.output
    assert "models v-test; 0 alert(s)" not in table.output
    assert "words behind all" in table.output


def test_a_missing_reference_and_split_is_a_clear_error(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    (tmp_path / "models" / "v-test" / "drift_reference.json").unlink()
    result = CliRunner().invoke(app, ["--config", str(config), "drift", "report"])
    assert result.exit_code == 1
    assert "no drift reference" in result.output and "test.csv" in result.output


def test_replay_names_a_bad_sentence_file_before_loading_the_bot(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\n할인 되나요,\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "drift", "replay", "--sentences", str(bad)])
    assert result.exit_code == 1 and f"{bad}:2: empty text or intent" in result.output
    result = runner.invoke(app, ["--config", str(config), "drift", "replay", "--shift", "boost",
                                 "--from-day", "30", "--days", "7"])  # fmt: skip
    assert result.exit_code == 1 and "shift day 30 is outside 0..7" in result.output
