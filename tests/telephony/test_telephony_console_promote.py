"""A promotion from the console reloads every replica, one after another (telephony.rollout), and a
replica's own console shows the turns it logged."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.models import read_current_version
from callbot.config import Config
from console.app import ConsoleServices
from console.models import promote, rollback
from console.settings import read_console_settings
from tests.telephony.telephony_fakes import ADMIN_TOKEN, FakeBot


class VersionedBot(FakeBot):
    """Reloading reads models/current, as the real bot does."""

    def __init__(self, models_dir) -> None:  # noqa: ANN001
        super().__init__()
        self.models_dir = models_dir
        self.version = read_current_version(models_dir)

    async def reload(self) -> str:
        self.version = read_current_version(self.models_dir)
        return self.version


def _models(tmp_path):  # noqa: ANN001, ANN202
    from bot.models import switch_current, write_manifest

    models_dir = tmp_path / "models"
    for version in ("v1", "v2"):
        (models_dir / version).mkdir(parents=True)
        write_manifest(models_dir / version, {"version": version, "models": {}})
    switch_current(models_dir, "v1")
    return models_dir


def test_promotion_and_rollback_reload_both_replicas(fake_server, tmp_path) -> None:  # noqa: ANN001
    models_dir = _models(tmp_path)
    with (
        fake_server(bot=VersionedBot(models_dir), models_dir=models_dir) as a,
        fake_server(bot=VersionedBot(models_dir), models_dir=models_dir) as b,
    ):
        config = Config(path=tmp_path / "callbot.yml", raw={"console": {"replicas": [a.url, b.url]}})
        settings = read_console_settings(config)
        settings = type(settings)(**{**settings.__dict__, "models_dir": models_dir})
        console = ConsoleServices.open(settings, "secret", ADMIN_TOKEN)
        try:
            steps = asyncio.run(promote(console.engine, models_dir, "v2", "admin", console.reload_replicas))
            assert [(s["replica"], s["version"]) for s in steps] == [(a.url, "v2"), (b.url, "v2")]
            for url in (a.url, b.url):
                assert httpx.get(url + "/healthz").json()["version"] == "v2"
            steps = asyncio.run(rollback(console.engine, models_dir, "admin", console.reload_replicas))
            assert [(s["replica"], s["version"]) for s in steps] == [(a.url, "v1"), (b.url, "v1")]
        finally:
            console.close()


class LoadingBot(VersionedBot):
    """Reloading loads the model set models/current names (manifest and archives checked), as the
    real bot does; a replica whose folder lacks it fails its reload."""

    async def reload(self) -> str:
        from bot.models import current_model_set

        self.version = current_model_set(self.models_dir).version
        return self.version


def _loadable_models(tmp_path):  # noqa: ANN001, ANN202
    """v1 (current) and v2 with a router archive each, which `LoadingBot` loads."""
    from bot.models import write_manifest

    models_dir = _models(tmp_path)
    for version in ("v1", "v2"):
        (models_dir / version / "router.tar.gz").write_bytes(version.encode() * 1000)
        write_manifest(models_dir / version, {"version": version, "models": {"router": "router.tar.gz"}})
    return models_dir


def _wait_version(url: str, version: str) -> None:
    deadline = time.monotonic() + 30
    while httpx.get(url + "/healthz").json()["version"] != version:
        assert time.monotonic() < deadline, f"{url} never served {version}"
        time.sleep(0.05)


def test_a_watching_replica_follows_the_stores_promotions(fake_server, tmp_path) -> None:  # noqa: ANN001
    from bot.model_store import FolderStore
    from bot.models import list_versions

    store = FolderStore(tmp_path / "store")
    console_models = _loadable_models(tmp_path)
    for version in ("v1", "v2"):
        store.publish(console_models, version)
    own = tmp_path / "own-models"  # shares nothing: only the store
    with fake_server(bot=LoadingBot(own), models_dir=own, reload_watch_seconds=0.05) as srv:
        srv.services.model_store = store
        store.set_current("v1")  # what a console without console.replicas does on promotion
        _wait_version(srv.url, "v1")
        store.set_current("v2")
        _wait_version(srv.url, "v2")
        assert list_versions(own) == ["v1", "v2"] and read_current_version(own) == "v2"


@pytest.mark.parametrize("kind", ["folder", "postgresql"])
def test_a_replica_with_its_own_empty_models_folder_fetches_the_promoted_version(
    fake_server, tmp_path, kind, request
) -> None:  # noqa: ANN001
    from bot.model_store import FolderStore, PostgresStore
    from bot.models import list_versions, write_manifest

    console_models = _loadable_models(tmp_path)
    if kind == "folder":
        store_value = str(tmp_path / "store")
        store = FolderStore(tmp_path / "store")
    else:
        store_value = request.getfixturevalue("postgres_schema").url()
        store = PostgresStore(store_value)
    own = tmp_path / "replica-b-models"  # empty: replica b shares nothing with the console
    with (
        fake_server(bot=LoadingBot(console_models), models_dir=console_models) as a,
        fake_server(bot=LoadingBot(own), models_dir=own) as b,
    ):
        a.services.model_store = b.services.model_store = store
        config = Config(
            path=tmp_path / "callbot.yml",
            raw={"console": {"replicas": [a.url, b.url]}, "models": {"store": store_value}},
        )
        settings = read_console_settings(config)
        settings = type(settings)(**{**settings.__dict__, "models_dir": console_models})
        console = ConsoleServices.open(settings, "secret", ADMIN_TOKEN)
        try:
            steps = asyncio.run(
                promote(
                    console.engine,
                    console_models,
                    "v2",
                    "admin",
                    console.reload_replicas,
                    store=console.model_store,
                )
            )
            assert [(s["replica"], s["version"]) for s in steps] == [(a.url, "v2"), (b.url, "v2")]
            assert httpx.get(b.url + "/healthz").json()["version"] == "v2"
            assert list_versions(own) == ["v2"] and read_current_version(own) == "v2"
            assert (own / "v2" / "router.tar.gz").read_bytes() == b"v2" * 1000
            assert store.current() == "v2"  # a replica starting later without models/current serves it

            # A version the store does not hold: the replica says which and keeps serving v2.
            r = httpx.post(
                b.url + "/admin/reload",
                json={"version": "v9"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert r.status_code == 409 and r.json()["version"] == "v2"
            assert (
                "v9 is not in the model store" in r.json()["error"] and store.describe() in r.json()["error"]
            )
            assert httpx.get(b.url + "/healthz").json()["version"] == "v2"
            assert list_versions(own) == ["v2"] and read_current_version(own) == "v2"

            # A version that is fetched but does not load: models/current goes back, v2 serves on.
            (console_models / "v3").mkdir()
            write_manifest(console_models / "v3", {"version": "v3", "models": {"router": "router.tar.gz"}})
            store.publish(console_models, "v3")
            r = httpx.post(
                b.url + "/admin/reload",
                json={"version": "v3"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert r.status_code == 500 and r.json()["version"] == "v2"
            assert r.json()["error"].startswith("version v3 did not load: ")
            assert httpx.get(b.url + "/healthz").json()["version"] == "v2"
            assert list_versions(own) == ["v2", "v3"] and read_current_version(own) == "v2"

            # Rolling back publishes v1 too: replica b fetches it as well.
            steps = asyncio.run(
                rollback(
                    console.engine,
                    console_models,
                    "admin",
                    console.reload_replicas,
                    store=console.model_store,
                )
            )
            assert [(s["replica"], s["version"]) for s in steps] == [(a.url, "v1"), (b.url, "v1")]
            assert list_versions(own) == ["v1", "v2", "v3"] and read_current_version(own) == "v1"
        finally:
            console.close()
            store.close()


def test_the_served_console_reads_the_servers_own_call_log(fake_server) -> None:  # noqa: ANN001
    from console.auth import add_user
    from telephony.calllog import TurnRecord

    with fake_server() as srv:
        log = srv.services.calllog
        log.start_call("CA" + "7" * 32, bot_version="v1")
        log.add_turn(
            TurnRecord("CA" + "7" * 32, 1, "speech", 1.0, caller_text="주차 되나요", outcome="refused")
        )
        add_user(log.engine, "mina", "a long password", "annotator")
        with httpx.Client(base_url=srv.url) as http:
            assert http.get("/console/").status_code == 401
            r = http.post("/console/login", data={"name": "mina", "password": "a long password"})
            assert r.status_code == 303 and r.headers["location"] == "/console/"
            page = http.get("/console/")
            assert page.status_code == 200 and "주차 되나요" in page.text
