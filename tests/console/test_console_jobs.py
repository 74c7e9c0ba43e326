"""Training and comparison jobs kept in the call-log database: two console apps (two replicas) on one
database see each other's jobs, their progress and results; one job of a kind runs at a time across
both; a job whose process died is shown as lost, not as running forever."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from bot.models import read_current_version
from callbot.config import load_config
from console import ConsoleError
from console.app import ConsoleServices, create_console_app
from console.auth import add_user
from console.jobs import Jobs
from console.models import Comparison, SetResult
from console.settings import read_console_settings
from tests.console.conftest import PASSWORD, login
from tests.console.seed import write_company

ROOT = Path(__file__).resolve().parents[2]


def _replica(config: Path) -> ConsoleServices:
    """A console process of its own on the config's database (its own engine and jobs)."""
    return ConsoleServices.open(read_console_settings(load_config(config)), "test-secret")


def _client(services: ConsoleServices) -> TestClient:
    app = Starlette(routes=[Mount("/console", app=create_console_app(services))])
    return TestClient(app, follow_redirects=False)


def _until(check, what: str, seconds: float = 30.0):  # noqa: ANN001, ANN202
    """Wait for a condition (not for a time): `check()`'s first true value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"still not {what} after {seconds:g} s")


@pytest.fixture
def two_replicas(tmp_path):
    config = write_company(tmp_path)
    a, b = _replica(config), _replica(config)
    add_user(a.engine, "admin", PASSWORD, "admin")
    yield a, b
    a.close()
    b.close()


def test_a_job_started_on_one_replica_is_followed_on_the_other(two_replicas):
    a, b = two_replicas
    step, finish = threading.Event(), threading.Event()

    def work(job):  # noqa: ANN001, ANN202
        job.lines.append("building the data")
        step.wait(30)
        job.lines.append("training store")
        finish.wait(30)
        return {"version": "v2"}

    job = a.jobs.start("train", "admin", work)
    other = _client(b)
    login(other, "admin")
    seen = other.get(f"/console/jobs/{job.id}").json()
    assert (seen["kind"], seen["user"], seen["state"]) == ("train", "admin", "running")
    assert seen["owner"] == a.jobs.owner
    # Progress written by A's process is read by B's pages.
    step.set()
    _until(lambda: "training store" in other.get(f"/console/jobs/{job.id}").json()["lines"], "progressed")
    jobs_page = other.get("/console/jobs").text
    assert f'data-job="{job.id}"' in jobs_page and "training store" in jobs_page
    assert 'hx-trigger="every 2s"' in jobs_page  # the list asks again while a job runs
    models_page = other.get("/console/models").text
    assert "): running" in models_page and '<button type="submit" disabled>Train</button>' in models_page
    # One training at a time, whichever replica is asked.
    with pytest.raises(ConsoleError, match=f"already running \\(job {job.id}, by admin\\)"):
        b.jobs.start("train", "anna", lambda j: None)
    finish.set()
    done = _until(lambda: (s := other.get(f"/console/jobs/{job.id}").json())["state"] == "done" and s, "done")
    assert done["lines"] == ["building the data", "training store"] and done["ended"] is not None
    assert b.jobs.get(job.id).result == {"version": "v2"}
    assert 'hx-trigger="every 2s"' not in other.get("/console/jobs").text


def test_a_comparison_made_on_one_replica_is_promoted_from_the_other(two_replicas):
    a, b = two_replicas
    models = a.settings.models_dir
    for version in ("v1", "v2"):
        (models / version).mkdir(parents=True)
        (models / version / "manifest.json").write_text("{}", encoding="utf-8")
    (models / "current").write_text("v1", encoding="utf-8")
    reloads: list[str | None] = []

    async def reload() -> list[dict]:
        reloads.append(read_current_version(models))
        return []

    b.reload = reload
    comparison = Comparison("v1", "v2", [SetResult("test.csv", 10, 0.8, 0.9)], [], [])
    job = a.jobs.start("compare", "admin", lambda j: comparison)
    _until(lambda: b.jobs.get(job.id).state == "done", "done")

    other = _client(b)
    csrf = login(other, "admin")
    page = other.get("/console/models").text
    assert "v2 vs v1" in page and "The gate passes" in page and "+10.0 points" in page
    r = other.post("/console/models/promote", data={"version": "v2", "csrf": csrf})
    assert r.status_code == 303, r.text
    assert read_current_version(models) == "v2" and reloads == ["v2"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_replicas_starting_a_training_at_once_run_one(tmp_path, request, backend):
    url = request.getfixturevalue("postgres_schema").url() if backend == "postgresql" else ""
    config = write_company(tmp_path, database_url=url)
    replicas = [_replica(config) for _ in range(2)]
    release = threading.Event()
    barrier = threading.Barrier(len(replicas))
    outcomes: list[object] = []

    def start(services: ConsoleServices) -> None:
        barrier.wait(10)
        try:
            outcomes.append(services.jobs.start("train", "admin", lambda j: release.wait(30)))
        except ConsoleError as exc:
            outcomes.append(exc)

    try:
        threads = [threading.Thread(target=start, args=(s,)) for s in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        refused = [o for o in outcomes if isinstance(o, ConsoleError)]
        assert len(outcomes) == 2 and len(refused) == 1 and "already running" in str(refused[0])
        assert [j.state for j in replicas[1].jobs.recent()] == ["running"]  # the refused one left no row
    finally:
        release.set()
        for s in replicas:
            s.close()


# A console process that starts a training job which never ends, says which, and waits to be killed.
_DOOMED = """
import sys, threading
from console.jobs import Jobs
from console.store import open_engine
jobs = Jobs(open_engine(sys.argv[1]), tick=0.1)
job = jobs.start("train", "admin", lambda j: threading.Event().wait())
print(job.id, jobs.owner, flush=True)
threading.Event().wait()
"""


def test_a_job_whose_process_died_is_shown_as_lost(two_replicas):
    a, b = two_replicas
    child = subprocess.Popen(
        [sys.executable, "-c", _DOOMED, a.settings.database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        job_id, owner = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait(10)
    job_id = int(job_id)
    # B's clock, moved on by hand: the dead process's last heartbeat ages without waiting for it.
    now = [time.time()]
    b.jobs = Jobs(b.engine, lost_after=60.0, clock=lambda: now[0])
    assert b.jobs.get(job_id).state == "running"  # a heartbeat this recent may be a live process
    with pytest.raises(ConsoleError, match="already running"):
        b.jobs.start("train", "admin", lambda j: None)

    now[0] += 61
    lost = b.jobs.get(job_id)
    assert (lost.state, lost.owner, lost.ended) == ("lost", owner, None)
    other = _client(b)
    login(other, "admin")
    assert other.get(f"/console/jobs/{job_id}").json()["state"] == "lost"
    page = other.get("/console/jobs").text
    assert "no sign of life since" in page and 'hx-trigger="every 2s"' not in page
    models_page = other.get("/console/models").text
    assert f"job {job_id} (admin): lost: no sign of life from {owner}" in models_page
    assert '<button type="submit" >Train</button>' in models_page
    # A lost job no longer blocks a new one.
    new = b.jobs.start("train", "admin", lambda j: "ok")
    _until(lambda: b.jobs.get(new.id).state == "done", "done")
    assert b.jobs.get(new.id).result == "ok"
