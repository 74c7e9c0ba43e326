"""Train, compare, promote, roll back from the console, on the tiny real Rasa models of the bot tests:
the same archives under three versions, one with thresholds that refuse nearly everything (worse)."""

from __future__ import annotations

import sys
import time

import pytest

from bot.models import read_current_version
from console.jobs import Jobs, run_commands
from tests.bot.runtime_models import VERSION
from tests.console.conftest import PASSWORD, login
from tests.console.live import browser_page, chromium_missing, serve_console
from tests.console.versions import compare_with_production, recording_reload, three_versions

pytestmark = pytest.mark.slow
EVAL = [
    ("예약하고 싶어요", "reservation_book", "reservation"),
    ("예약할게요", "reservation_book", "reservation"),
    ("안녕하세요", "common_greet", "common"),
    ("여보세요", "common_greet", "common"),
    ("상담원 연결해 주세요", "common_agent", "common"),
    ("다시 말해 주세요", "common_repeat", "common"),
]


@pytest.fixture
def models(request, services, tmp_path):
    """models/ with v-tiny (production), v-same (its copy) and v-strict (refuses what is not certain)."""
    models_dir, eval_set = three_versions(request, tmp_path, EVAL)
    reloads, reload = recording_reload(models_dir)
    settings = services.settings
    services.settings = type(settings)(
        **{**settings.__dict__, "models_dir": models_dir, "eval_sets": (eval_set,), "holdout_days": 7.0}
    )
    services.reload = reload
    return models_dir, reloads


def test_a_failing_gate_blocks_promotion_a_passing_one_promotes_and_rollback_restores(
    client, services, models
):
    models_dir, reloads = models
    csrf = login(client, "admin")
    assert client.get("/console/models").status_code == 200
    client.cookies.clear()
    login(client, "anna")
    assert client.get("/console/models").status_code == 403
    client.cookies.clear()
    csrf = login(client, "admin")

    # A label of today is held out: the comparison reads it as a set of its own.
    r = client.post("/console/label", data={"turn_id": "3", "intent": "store_parking", "csrf": csrf})
    assert r.status_code == 200, r.text
    # The strict candidate refuses the eval set: the comparison shows the drop and the gate blocks it.
    compare_with_production(client, csrf, "v-strict")
    page = client.get("/console/models").text
    assert "operator labels, last 7 days</td><td>1</td>" in page
    assert "v-strict vs v-tiny" in page and "The gate blocks this promotion" in page
    assert "eval.csv: accuracy 100.0% -&gt; " in page
    assert "예약하고 싶어요" in page.split("Answers that flipped")[1]  # flipped to out_of_scope
    r = client.post("/console/models/promote", data={"version": "v-strict", "csrf": csrf})
    assert r.status_code == 409 and r.json()["failures"]
    assert read_current_version(models_dir) == VERSION and reloads == []

    # The same models under a new version: nothing drops, the gate passes, promotion reloads. The
    # archives are the same files: nothing was loaded again.
    loads = services.agents.loads
    compare_with_production(client, csrf, "v-same")
    assert services.agents.loads == loads
    assert "The gate passes" in client.get("/console/models").text
    if chromium_missing():  # the same two clicks over HTTP
        r = client.post("/console/models/promote", data={"version": "v-same", "csrf": csrf})
        assert r.status_code == 303
        assert read_current_version(models_dir) == "v-same" and reloads == ["v-same"]
        r = client.post(
            "/console/models/rollback", data={"csrf": csrf}, headers={"accept": "application/json"}
        )
        assert r.status_code == 200 and r.json()["version"] == VERSION
    else:
        _promote_and_roll_back_in_the_browser(services, models_dir, reloads)
    assert read_current_version(models_dir) == VERSION and reloads == ["v-same", VERSION]
    r = client.post("/console/models/rollback", data={"csrf": csrf}, headers={"accept": "application/json"})
    assert r.status_code == 400 and "nothing to roll back" in r.json()["error"]


def _promote_and_roll_back_in_the_browser(services, models_dir, reloads) -> None:
    """The admin's two clicks on the Models page (Debian's chromium), with its screenshot for the docs."""
    from tests.console.test_console_browser import _shot

    with serve_console(services) as base, browser_page(height=900) as page:
        page.goto(base + "/models")
        page.fill("input[name=name]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("h3#comparison")
        _shot(page, "console-models.png")
        page.click("text=Promote v-same")
        page.wait_for_selector("#current:has-text('v-same')")
        assert read_current_version(models_dir) == "v-same" and reloads == ["v-same"]
        page.click(f"text=Roll back to {VERSION}")
        page.wait_for_selector(f"#current:has-text('{VERSION}')")


def test_a_training_job_runs_the_real_commands_and_reports_progress(company, services):
    jobs = Jobs(services.engine)
    cli = [sys.executable, "-c", "from callbot.cli.main import app; app()", "--config", str(company)]
    job = jobs.start(
        "train",
        "admin",
        lambda j: run_commands(j, [cli + ["data", "build"], cli + ["train", "--domain", "nope"]]),
    )
    with pytest.raises(Exception, match="already running"):
        jobs.start("train", "anna", lambda j: None)
    deadline = time.monotonic() + 120
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state == "failed"
    text = "\n".join(job.lines)
    assert "data build" in text and "store_parking" in text  # the build's table went by
    assert "unknown model name(s) nope" in job.error or "unknown model name(s) nope" in text
