"""Model versions for the console's comparison tests: the tiny real Rasa models of the bot tests under
three names — v-tiny (production), v-same (the same archives) and v-strict (thresholds that refuse
nearly everything, so it is worse) — and an eval set of labelled texts."""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path

from bot.models import read_current_version, write_manifest
from tests.bot.runtime_models import VERSION, copy_version, link_models, train_tiny_models


def three_versions(request, tmp_path: Path, eval_rows: list[tuple[str, str, str]]) -> tuple[Path, Path]:  # noqa: ANN001
    """models/ with the three versions (current: v-tiny) and eval.csv of `eval_rows` (text, intent,
    domain); the tiny models are trained once and cached across sessions."""
    cache = getattr(request.config, "cache", None)
    cached = (
        Path(cache.mkdir("callbot-bot-runtime"))
        if cache
        else Path(tempfile.gettempdir()) / "callbot-bot-runtime"
    )
    models_dir = link_models(train_tiny_models(cached), tmp_path / "models")
    for name in ("v-same", "v-strict"):
        copy_version(models_dir, name)
    manifest = json.loads((models_dir / "v-strict" / "manifest.json").read_text(encoding="utf-8"))
    manifest["thresholds"] = {"router": 0.999, "domain_default": 0.999, "domains": {}}
    write_manifest(models_dir / "v-strict", manifest)
    (models_dir / "current").write_text(VERSION, encoding="utf-8")
    eval_set = tmp_path / "eval.csv"
    with eval_set.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "intent", "domain"), *eval_rows])
    return models_dir, eval_set


def recording_reload(models_dir: Path) -> tuple[list[str], object]:
    """A stand-in for the replicas' rolling reload that records the version each reload saw current."""
    reloads: list[str] = []

    async def reload() -> list[dict]:
        reloads.append(read_current_version(models_dir))
        return [{"replica": "test", "version": reloads[-1]}]

    return reloads, reload


def compare_with_production(client, csrf: str, candidate: str, timeout: float = 600.0) -> dict:  # noqa: ANN001
    """Start the console's comparison of `candidate` with v-tiny and wait for it; the finished job's JSON
    (its `result`: the comparison)."""
    r = client.post(
        "/console/models/compare",
        data={"candidate": candidate, "production": VERSION, "csrf": csrf},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/console/jobs/{r.json()['job']}").json()
        if job["state"] != "running":
            assert job["state"] == "done", job
            return job
        time.sleep(0.2)
    raise AssertionError(f"comparison of {candidate} still running after {timeout:g} s")
