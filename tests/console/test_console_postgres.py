"""The console on a PostgreSQL call log (what several replicas share): its tables are made beside the
call log's, the inbox ranks and pages there, labels are stored and read back by `data build`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from callbot.config import load_config
from console.app import ConsoleServices, create_console_app
from console.auth import add_user
from console.labels import labels_for_build
from console.settings import read_console_settings
from tests.console.conftest import PASSWORD, login
from tests.console.seed import build_company, seed_calls, write_company


def test_inbox_and_labels_on_postgresql(tmp_path, postgres_schema):
    url = postgres_schema.url()
    config = write_company(tmp_path, database_url=url)
    build_company(config)
    seed_calls(config)
    # Two console processes on one database (two replicas): one schema, one cookie key.
    first = ConsoleServices.open(read_console_settings(load_config(config)))
    second = ConsoleServices.open(read_console_settings(load_config(config)))
    try:
        assert first.signer._key == second.signer._key
        add_user(first.engine, "anna", PASSWORD, "annotator")
        client = TestClient(
            Starlette(routes=[Mount("/console", app=create_console_app(first))]), follow_redirects=False
        )
        csrf = login(client, "anna")
        page = client.get("/console/").text
        assert page.index("주차 돼요") < page.index("영업 시간 알려 주세요") and "8 turns" in page
        assert client.get("/console/?page=1&outcome=refused&conf_max=0.5").text.count('<tr class="turn') == 4
        r = client.post("/console/label", data={"turn_id": "3", "intent": "store_parking", "csrf": csrf})
        assert r.status_code == 200, r.text
        other = TestClient(
            Starlette(routes=[Mount("/console", app=create_console_app(second))]), follow_redirects=False
        )
        login(other, "anna")
        assert 'data-turn-id="3"' in other.get("/console/?status=labelled").text
        assert [(label["turn_id"], label["intent"]) for label in labels_for_build(url)] == [
            (3, "store_parking")
        ]
    finally:
        first.close()
        second.close()
