"""In-process custom actions: loading a sample's actions package and the endpoint Rasa calls."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa.utils.endpoints import ClientResponseError
from rasa_sdk import Action
from rasa_sdk.interfaces import ActionExecutionRejection

from bot.actions import (
    ACTION_ERROR_TEXT,
    ActionContext,
    ActionLoadError,
    InProcessActionEndpoint,
    build_executor,
    load_actions,
)
from callbot.config import Config


class Greet(Action):
    def name(self):
        return "action_hello"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text=f"{tracker.sender_id} 님 안녕하세요")
        return [{"event": "slot", "name": "greeted", "value": True}]


class Broken(Action):
    def name(self):
        return "action_broken"

    def run(self, dispatcher, tracker, domain):
        raise ZeroDivisionError("boom")


class Refuses(Action):
    def name(self):
        return "validate_form"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("validate_form", "no value")


def call(endpoint, action, sender="call-7"):
    body = {"next_action": action, "sender_id": sender, "tracker": {"sender_id": sender, "events": []}}
    return asyncio.run(endpoint.request(json=body, method="post"))


@pytest.fixture
def endpoint():
    return InProcessActionEndpoint(build_executor([Greet(), Broken(), Refuses()]))


def test_an_action_runs_in_process_and_returns_the_action_server_response(endpoint):
    result = call(endpoint, "action_hello")
    assert result["responses"][0]["text"] == "call-7 님 안녕하세요"
    assert result["events"] == [{"event": "slot", "name": "greeted", "value": True}]
    assert endpoint.action_names == ["action_broken", "action_hello", "validate_form"]


def test_a_failing_action_becomes_a_polite_spoken_error_logged_with_the_call(endpoint, caplog):
    result = call(endpoint, "action_broken", sender="CA123")
    assert result == {"events": [], "responses": [{"text": ACTION_ERROR_TEXT}]}
    assert "bot.action.failed call=CA123 action=action_broken" in caplog.text
    assert call(endpoint, "action_missing")["responses"][0]["text"] == ACTION_ERROR_TEXT


def test_a_rejection_reaches_rasa_as_the_400_it_expects(endpoint):
    with pytest.raises(ClientResponseError) as info:
        call(endpoint, "validate_form")
    assert info.value.status == 400
    assert json.loads(info.value.text) == {"error": "no value", "action_name": "validate_form"}


def test_load_actions_from_a_package_folder_with_the_context(tmp_path):
    folder = tmp_path / "acts"
    (folder / "helpers").mkdir(parents=True)
    (folder / "helpers" / "__init__.py").write_text("PREFIX = '예약 '\n", encoding="utf-8")
    (folder / "__init__.py").write_text(
        "from rasa_sdk import Action\n"
        "from .helpers import PREFIX\n"
        "class A(Action):\n"
        "    def __init__(self, ctx):\n"
        "        self.ctx = ctx\n"
        "    def name(self):\n"
        "        return 'action_a'\n"
        "    def run(self, dispatcher, tracker, domain):\n"
        "        dispatcher.utter_message(text=PREFIX + self.ctx.config.path.name)\n"
        "        return []\n"
        "def create_actions(context):\n"
        "    return [A(context)]\n",
        encoding="utf-8",
    )
    context = ActionContext(config=Config(path=tmp_path / "callbot.yml"))
    actions = load_actions(folder, context)
    endpoint = InProcessActionEndpoint(build_executor(actions))
    assert call(endpoint, "action_a")["responses"][0]["text"] == "예약 callbot.yml"
    assert load_actions(None, context) == []


@pytest.mark.parametrize(
    "source,message",
    [
        (None, "no __init__.py"),
        ("x = 1\n", "defines no create_actions"),
        ("import no_such_module_xyz\n", "import failed: ModuleNotFoundError"),
        ("def create_actions(context):\n    return [object()]\n", "non-Action objects"),
        ("def create_actions(context):\n    raise ValueError('bad')\n", "create_actions failed: ValueError"),
    ],
)
def test_bad_actions_packages_are_named_errors(tmp_path, source, message):
    folder = tmp_path / "broken"
    folder.mkdir()
    if source is not None:
        (folder / "__init__.py").write_text(source, encoding="utf-8")
    with pytest.raises(ActionLoadError, match=message):
        load_actions(folder, ActionContext(config=Config(path=tmp_path / "callbot.yml")))
