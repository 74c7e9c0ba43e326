"""Where the console is served: under /console of `callbot serve`'s app, and its users from the CLI."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.testclient import TestClient
from typer.testing import CliRunner

from callbot.cli.main import app as cli
from callbot.config import load_config
from telephony.app import create_app
from telephony.server import Secrets, _console_app
from tests.console.conftest import PASSWORD


def test_serve_mounts_the_console_over_the_call_log(company, monkeypatch):
    monkeypatch.setenv("CALLBOT_CONSOLE_PASSWORD", PASSWORD)
    result = CliRunner().invoke(cli, ["--config", str(company), "console", "add-user", "boss", "--admin"])
    assert result.exit_code == 0, result.output
    assert "user boss (admin) saved" in result.output

    services = SimpleNamespace(closers=[], settings=None)
    app = create_app(
        SimpleNamespace(
            console_app=_console_app(load_config(company), Secrets(console_secret="s3cret"), services)
        )
    )
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/console/").status_code == 401
        r = client.post("/console/login", data={"name": "boss", "password": PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/console/"
        page = client.get("/console/")
        assert page.status_code == 200 and "주차 되나요 거기" in page.text
    for close in services.closers:
        close()


def test_add_user_explains_a_bad_password(company, monkeypatch):
    monkeypatch.setenv("CALLBOT_CONSOLE_PASSWORD", "short")
    result = CliRunner().invoke(cli, ["--config", str(company), "console", "add-user", "bo ss"])
    assert result.exit_code == 1
    assert "user name 'bo ss'" in result.output and "password: at least 8 characters" in result.output
