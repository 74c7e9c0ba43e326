"""Conversation suites in a comparison and its gate, on the tiny real Rasa models of the bot tests: a
candidate that fails more conversations than production is blocked, one that passes as many is
promoted. The eval set is out-of-scope talk both versions refuse, so only the conversations differ."""

from __future__ import annotations

import pytest

from bot.models import read_current_version
from tests.bot.runtime_models import VERSION, write_config
from tests.console.conftest import login
from tests.console.versions import compare_with_production, recording_reload, three_versions

pytestmark = pytest.mark.slow
EVAL = [
    ("오늘 주식 어때요", "common_out_of_scope", "common"),
    ("노래 불러줘", "common_out_of_scope", "common"),
]
SUITE = """
conversations:
  - name: opening hours
    steps:
      - user: 영업시간 알려주세요
        intent: store_hours
        bot_says: [영업시간은]
  - name: where the shop is
    steps:
      - user: 위치 알려주세요
        bot_says: [강남역]
  - name: chit-chat, then goodbye
    steps:
      - user: 노래 불러줘
    expect: {handoff: false}
"""


@pytest.fixture
def models(request, services, tmp_path):
    """models/ with v-tiny (production), v-same (its copy) and v-strict (refuses what is not certain);
    the console compares them on EVAL and on the conversations of SUITE."""
    models_dir, eval_set = three_versions(request, tmp_path, EVAL)
    suite = tmp_path / "suites" / "tiny.yml"
    suite.parent.mkdir()
    suite.write_text(SUITE, encoding="utf-8")
    bot_config = write_config(tmp_path / "bot", models_dir)  # the tiny bot's actions and domains
    reloads, reload = recording_reload(models_dir)

    settings = services.settings
    services.settings = type(settings)(
        **{
            **settings.__dict__,
            "models_dir": models_dir,
            "eval_sets": (eval_set,),
            "config_path": bot_config,
            "conversations": (suite.parent,),
        }
    )
    services.reload = reload
    return models_dir, reloads


def test_a_candidate_failing_more_conversations_is_blocked_one_passing_as_many_is_promoted(
    client, services, models
):
    models_dir, reloads = models
    csrf = login(client, "admin")

    strict = compare_with_production(client, csrf, "v-strict")["result"]
    assert [(s["name"], s["change_points"]) for s in strict["sets"]] == [("eval.csv", 0.0)]
    [suites] = strict["conversations"]
    assert (suites["name"], suites["count"], suites["production_passed"]) == ("suites", 3, 3)
    assert suites["candidate_passed"] < 3 and suites["change_points"] < 0
    assert {f["conversation"] for f in suites["flipped"]} >= {"opening hours"}
    assert not any(f["better"] for f in suites["flipped"])
    page = client.get("/console/models").text
    assert "The gate blocks this promotion" in page and "suites: conversations passed 3/3 -&gt; " in page
    r = client.post("/console/models/promote", data={"version": "v-strict", "csrf": csrf})
    assert r.status_code == 409
    assert any(f.startswith("suites: conversations passed 3/3 -> ") for f in r.json()["failures"])
    assert read_current_version(models_dir) == VERSION and reloads == []

    same = compare_with_production(client, csrf, "v-same")["result"]
    [suites] = same["conversations"]
    assert (suites["production_passed"], suites["candidate_passed"], suites["flipped"]) == (3, 3, [])
    assert "The gate passes" in client.get("/console/models").text
    r = client.post(
        "/console/models/promote",
        data={"version": "v-same", "csrf": csrf},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert read_current_version(models_dir) == "v-same" and reloads == ["v-same"]
