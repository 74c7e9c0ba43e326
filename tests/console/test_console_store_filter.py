"""The inbox's store filter: the call log keeps the store a turn was about (`turns.store`), the inbox
finds those turns (and keeps the filter with the others), and a call log of an older version, without
the column, gets it on start (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from callbot.config import load_config
from callbot.database import create_engine
from console.app import ConsoleServices, create_console_app
from console.auth import add_user
from console.settings import read_console_settings
from telephony.calllog import CallLog, TurnRecord, turns_table
from telephony.calllog import metadata as calllog_metadata
from tests.console.conftest import PASSWORD, login
from tests.console.seed import build_company, write_company

AT = 1_765_000_000.0


def _log_turns(url: str, sid: str, stores: list[str | None]) -> None:
    """A call whose caller turns were about `stores` (None: no store known), each refused."""
    log = CallLog(url)
    try:
        log.start_call(sid, bot_version="v1", at=AT)
        for n, store in enumerate(stores, start=1):
            text = f"{store or '어디'} 주차 돼요 {n}"
            log.add_turn(
                TurnRecord(sid, n, "speech", AT + n, caller_text=text, intent="store_parking", store=store)
            )
    finally:
        log.close()


def _client(services: ConsoleServices) -> TestClient:
    app = Starlette(routes=[Mount("/console", app=create_console_app(services))])
    return TestClient(app, follow_redirects=False)


def _texts(page: str) -> list[str]:
    return sorted(re.findall(r'data-text="([^"]*)"', page))


def test_a_turn_logged_with_a_store_is_found_by_the_store_filter(client, services):
    _log_turns(services.settings.database_url, "CAstore", ["강남점", "잠실점", None, "강남점"])
    csrf = login(client, "anna")
    page = client.get("/console/?store=강남점").text
    assert _texts(page) == ["강남점 주차 돼요 1", "강남점 주차 돼요 4"]
    assert 'value="강남점"' in page  # the field shows the filter
    assert _texts(client.get("/console/?store=잠실점").text) == ["잠실점 주차 돼요 2"]
    assert _texts(client.get("/console/?store=판교점").text) == []
    # The filter's choices are the stores the call log names.
    assert '<option value="강남점">' in page and '<option value="잠실점">' in page
    # Saved with the other filters.
    query = "store=강남점&outcome=&status=unlabelled"
    r = client.post("/console/filters", data={"name": "gangnam", "query": query, "csrf": csrf})
    assert r.status_code == 303
    link = "/console/?store=강남점&amp;outcome=&amp;status=unlabelled"
    assert f'<a href="{link}">gangnam</a>' in client.get("/console/").text
    assert _texts(client.get(link.replace("&amp;", "&")).text) == ["강남점 주차 돼요 1", "강남점 주차 돼요 4"]


def _old_call_log(url: str) -> None:
    """The call log as a version before `turns.store` made it, with one turn in it."""
    old = sa.MetaData()
    for table in calllog_metadata.sorted_tables:
        columns = [
            sa.Column(c.name, c.type, primary_key=c.primary_key)
            for c in table.columns
            if (table.name, c.name) != ("turns", "store")
        ]
        sa.Table(table.name, old, *columns)
    engine = create_engine(url)
    try:
        old.create_all(engine)
        with engine.begin() as db:
            db.execute(
                sa.text(
                    "INSERT INTO calls (call_sid, started_at, status) VALUES ('CAold', :at, 'completed')"
                ),
                {"at": AT},
            )
            db.execute(
                sa.text(
                    "INSERT INTO turns (call_sid, turn, kind, at, caller_text) "
                    "VALUES ('CAold', 1, 'speech', :at, '예전 통화')"
                ),
                {"at": AT},
            )
            have = {c["name"] for c in sa.inspect(db).get_columns("turns")}
        assert "store" not in have
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_call_log_without_the_store_column_is_migrated_on_start(tmp_path, request, backend):
    url = ""
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_schema").url()
    config = write_company(tmp_path, database_url=url)
    settings = read_console_settings(load_config(config))
    _old_call_log(settings.database_url)
    build_company(config)
    services = ConsoleServices.open(settings, "test-secret")  # what a console or server does on start
    try:
        with services.engine.connect() as db:
            assert "store" in {c["name"] for c in sa.inspect(db).get_columns("turns")}
            assert db.execute(sa.select(turns_table.c.caller_text, turns_table.c.store)).all() == [
                ("예전 통화", None)
            ]
        _log_turns(settings.database_url, "CAnew", ["홍대점"])
        add_user(services.engine, "anna", PASSWORD, "annotator")
        client = _client(services)
        login(client, "anna")
        assert _texts(client.get("/console/?store=홍대점").text) == ["홍대점 주차 돼요 1"]
        assert _texts(client.get("/console/?status=all").text) == ["예전 통화", "홍대점 주차 돼요 1"]
    finally:
        services.close()
