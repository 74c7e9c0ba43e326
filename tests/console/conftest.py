"""Console fixtures: a company with its data build and two seeded calls, an app client, logged-in users."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from callbot.config import load_config
from console.app import ConsoleServices, create_console_app
from console.auth import add_user
from console.settings import read_console_settings
from tests.console.seed import build_company, seed_calls, write_company

PASSWORD = "correct horse battery"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    config = write_company(tmp_path)
    build_company(config)
    seed_calls(config)
    return config


@pytest.fixture
def services(company: Path):
    s = ConsoleServices.open(read_console_settings(load_config(company)), "test-secret")
    add_user(s.engine, "admin", PASSWORD, "admin")
    add_user(s.engine, "anna", PASSWORD, "annotator")
    yield s
    s.close()


@pytest.fixture
def client(services: ConsoleServices) -> TestClient:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/console", app=create_console_app(services))])
    return TestClient(app, follow_redirects=False)


def login(client: TestClient, name: str) -> str:
    """Log `name` in; returns the page's CSRF token."""
    r = client.post("/console/login", data={"name": name, "password": PASSWORD, "next": "/console/"})
    assert r.status_code == 303, r.text
    page = client.get("/console/", headers={"accept": "text/html"})
    assert page.status_code == 200
    return re.search(r'csrf: "([^"]+)"', page.text).group(1)
