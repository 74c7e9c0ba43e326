"""The bundled conversation suite's fast subset on the sample's own (reduced) models: a conversation
for each point of issue 13 section 2, played through `Bot.handle` exactly as a call does, and the
`callbot test conversations` command reporting a failing conversation as failing.

The whole suite (examples/restaurant/conversations/) needs the fully trained sample: run it with
`callbot test conversations examples/restaurant/conversations`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.conversations.runner import run_text
from bot.conversations.spec import load_suites
from callbot.cli.main import app
from tests.bot.sample_models import ROOT, train_sample_models

pytestmark = pytest.mark.slow
SUITE = ROOT / "examples" / "restaurant" / "conversations"
POINTS = {"bare", "multi", "correction", "digression", "leave", "store_check", "keypad", "manage"}


@pytest.fixture(scope="module")
def sample(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    folder = Path(cache.mkdir("callbot-sample-models")) if cache else Path(tempfile.mkdtemp())
    config, _ = train_sample_models(folder, tmp_path_factory.mktemp("sample"))
    return config


def test_the_fast_subset_covers_every_point_of_the_dialogue() -> None:
    fast = [c for s in load_suites([SUITE]) for c in s.conversations if "fast" in c.tags]
    assert POINTS <= {t for c in fast for t in c.tags}
    assert {"casual", "polite"} <= {t for c in fast for t in c.tags}


def test_the_fast_conversations_pass_on_the_sample_models(sample) -> None:  # noqa: ANN001
    run = asyncio.run(run_text(sample, load_suites([SUITE]), tags=["fast"]))
    failed = [f"{r.conversation.source} {r.failure.check} step {r.failure.step}: {r.failure.message} "
              f"| caller {r.failure.said!r} | bot {r.failure.reply!r}" for r in run.results if r.failure]  # fmt: skip
    assert len(run.results) >= len(POINTS)
    assert not failed, "\n".join(failed)


def test_the_command_reports_a_failing_conversation_as_failing(sample, tmp_path: Path) -> None:  # noqa: ANN001
    config = tmp_path / "callbot.yml"
    raw = dict(sample.raw)
    for key in ("qna", "chat_logs", "overlay_dir"):  # the sample's relative paths, made absolute
        value = raw["data"][key]
        raw["data"][key] = [str(ROOT / v) for v in value] if isinstance(value, list) else str(ROOT / value)
    raw["bot"] = {**raw["bot"], "actions_dir": str(ROOT / raw["bot"]["actions_dir"]),
                  "stores_file": str(ROOT / raw["bot"]["stores_file"]),
                  "vocabulary_files": [str(ROOT / f) for f in raw["bot"].get("vocabulary_files", [])]}  # fmt: skip
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    conversations = tmp_path / "two.yml"
    conversations.write_text(
        """today: 2026-12-02
conversations:
  - name: the parking answer comes, then the name question
    steps:
      - user: 모레 저녁 7시에 강남점 두명 예약해줘
        slots: {store: 강남점, party_size: 2}
      - user: 주차는 돼?
        bot_says: [발레파킹]
  - name: expects the wrong store on purpose
    steps:
      - user: 모레 저녁 7시에 강남점 두명 예약해줘
        slots: {store: 잠실점}
""",
        encoding="utf-8",
    )
    report = tmp_path / "report.md"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "test",
            "conversations",
            str(conversations),
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 1, result.output  # below the default --min-pass-rate of 1.0
    data = json.loads(result.stdout)
    assert (data["conversations"], data["passed"], data["pass_rate"]) == (2, 1, 0.5)
    (failure,) = data["failures"]
    assert failure["conversation"] == "expects the wrong store on purpose" and failure["check"] == "slots"
    assert failure["slots"]["store"] == "강남점" and "성함" in failure["reply"]
    assert "expected slot store='잠실점', got '강남점'" in report.read_text(encoding="utf-8")
