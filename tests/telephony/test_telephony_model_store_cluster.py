"""Two real replicas that share no models folder, only a model store (models.store, a folder): replica b
starts with an empty models folder and serves the version last promoted; a promotion from the console
publishes the new version and both replicas reload it, b fetching it from the store.

Real processes (tests/cluster.py, tests/telephony/replica_main.py): the real server and the real Bot over
the tiny test models; speech recognition is the tone double.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from bot.model_store import FolderStore
from bot.models import list_versions, read_current_version, switch_current
from callbot.config import Config
from console.app import ConsoleServices
from console.models import promote
from console.settings import read_console_settings
from tests.bot.runtime_models import VERSION, copy_version, link_models, train_tiny_models, write_config
from tests.bot.test_runtime import model_cache
from tests.cluster import Cluster
from tests.services import unavailable

pytestmark = pytest.mark.slow
ADMIN = "store-admin"


def _replica_config(folder: Path, models_dir: Path, store: Path) -> Path:
    """The tiny bot's callbot.yml with its own models folder, state folder and the shared store."""
    path = write_config(folder, models_dir)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["models"] = {"store": str(store)}
    raw["telephony"] = {"warm_recognizers": 0}
    raw["drift"] = {"enabled": False}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_replica_with_an_empty_models_folder_starts_and_reloads_from_the_store(request, tmp_path) -> None:  # noqa: ANN001
    if shutil.which("haproxy") is None:
        unavailable("haproxy not installed (make install installs it)")
    models_a = link_models(train_tiny_models(model_cache(request)), tmp_path / "a" / "models")
    copy_version(models_a, "v-next")  # the candidate: the same archives under a new version
    switch_current(models_a, VERSION)
    store_dir = tmp_path / "store"
    store = FolderStore(store_dir)
    store.publish(models_a, VERSION)  # what the promotion of v-tiny left in the store
    store.set_current(VERSION)
    models_b = tmp_path / "b" / "models"  # empty: replica b has nothing of its own
    configs = [
        _replica_config(tmp_path / "a", models_a, store_dir),
        _replica_config(tmp_path / "b", models_b, store_dir),
    ]
    script = str(Path(__file__).with_name("replica_main.py"))
    env = {"CALLBOT_ADMIN_TOKEN": ADMIN, "TWILIO_AUTH_TOKEN": "store-auth", "TWILIO_ACCOUNT_SID": ""}
    group = Cluster(
        tmp_path,
        lambda port: [sys.executable, script, "--config", str(configs.pop(0)), "--port", str(port)],
        env,
    )
    a, b = group.replicas["a"], group.replicas["b"]
    try:
        group.start()
        assert httpx.get(b.url + "/healthz").json()["version"] == VERSION  # adopted from the store
        assert list_versions(models_b) == [VERSION] and read_current_version(models_b) == VERSION

        raw = {"console": {"replicas": [a.url, b.url]}, "models": {"store": str(store_dir)}}
        settings = read_console_settings(Config(path=tmp_path / "console.yml", raw=raw))
        settings = type(settings)(**{**settings.__dict__, "models_dir": models_a})
        console = ConsoleServices.open(settings, "secret", ADMIN)
        try:
            steps = asyncio.run(
                promote(
                    console.engine,
                    models_a,
                    "v-next",
                    "admin",
                    console.reload_replicas,
                    store=console.model_store,
                )
            )
        finally:
            console.close()
        assert [(s["replica"], s["version"]) for s in steps] == [(a.url, "v-next"), (b.url, "v-next")]
        for replica in (a, b):
            assert httpx.get(replica.url + "/readyz").json()["version"] == "v-next"
        assert (
            set(list_versions(models_b)) == {VERSION, "v-next"} and read_current_version(models_b) == "v-next"
        )
        assert store.current() == "v-next"
    except Exception:
        print(group.tail("a"), group.tail("b"), sep="\n----\n")
        raise
    finally:
        group.stop()
