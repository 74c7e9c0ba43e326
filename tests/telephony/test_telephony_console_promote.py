"""A promotion from the console reloads every replica, one after another (telephony.rollout), and a
replica's own console shows the turns it logged."""

from __future__ import annotations

import asyncio

import httpx

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
        fake_server(bot=VersionedBot(models_dir)) as a,
        fake_server(bot=VersionedBot(models_dir)) as b,
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
