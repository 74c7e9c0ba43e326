"""What keeps a turn fast without changing it: Rasa's check of action responses compiled once, and
every Rasa call of a turn made on the model version's own thread."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path

import jsonschema
import pytest
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Action

from bot.actions import InProcessActionEndpoint, build_executor, check_responses_fast
from callbot.events import Dtmf, UserText
from tests.bot.runtime_models import shared_bot


class Hello(Action):
    def name(self) -> str:
        return "action_hello"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="안녕하세요")
        return [{"event": "slot", "name": "greeted", "value": True}]


@pytest.fixture
def endpoint() -> InProcessActionEndpoint:
    return InProcessActionEndpoint(build_executor([Hello()]))


@pytest.fixture
def no_schema_check(monkeypatch):
    """Make the slow meta-schema check of Rasa's response schema fail loudly if anything runs it."""
    schema_class = validator_for(RemoteAction.action_response_format_spec())

    def refuse(cls, schema, **kwargs):
        raise AssertionError("the constant response schema was checked again")

    monkeypatch.setattr(schema_class, "check_schema", classmethod(refuse))


def test_a_custom_action_runs_through_rasa_without_checking_the_schema_again(endpoint, no_schema_check):
    tracker = DialogueStateTracker("call-1", slots=[])
    domain = Domain.empty()
    events = asyncio.run(
        RemoteAction("action_hello", endpoint).run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain
        )
    )
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["안녕하세요"]
    assert SlotSet("greeted", True) in events


def test_a_malformed_response_still_fails_with_rasas_error(endpoint):
    action = RemoteAction("action_hello", endpoint)
    assert action._validate_action_result({"events": [], "responses": []})
    with pytest.raises(jsonschema.ValidationError) as failure:
        action._validate_action_result({"events": "not a list"})
    assert "Failed to validate Action server response" in failure.value.message


def test_installing_the_fast_check_twice_keeps_one(endpoint):
    installed = RemoteAction._validate_action_result
    check_responses_fast()
    assert RemoteAction._validate_action_result is installed


def model_cache(request: pytest.FixtureRequest) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("callbot-bot-runtime"))
    return Path(tempfile.gettempdir()) / "callbot-bot-runtime"


@pytest.mark.slow
def test_every_rasa_call_of_a_turn_runs_on_the_versions_thread(request, tmp_path_factory):
    bot, _ = shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))
    models = bot.loaded
    seen: list[tuple[str, str]] = []

    def record(owner, method: str) -> None:
        inner = getattr(owner, method)

        async def recorded(*args, **kwargs):
            seen.append((method, threading.current_thread().name))
            return await inner(*args, **kwargs)

        setattr(owner, method, recorded)

    owners = [models.router, *models.agents.values()]
    for owner in owners:
        record(owner, "parse_message")
        record(owner, "handle_message")
    try:

        async def call():
            session = bot.new_session("call-thread")
            replies = [await bot.greet(session)]
            said = [
                UserText("예약하고 싶어요"),
                Dtmf("4"),
                Dtmf("#"),
                UserText("네"),
                UserText("위치 알려주세요"),
            ]
            for event in said:
                replies.append(await bot.handle(session, event))
            await bot.end_session(session)
            return replies

        replies = asyncio.run(call())
    finally:
        for owner in owners:
            vars(owner).pop("parse_message", None)
            vars(owner).pop("handle_message", None)
    assert replies[1].text == "몇 분이 오시나요?" and replies[3].text == "4명으로 예약할까요?"
    assert replies[4].text == "4명으로 예약했습니다."
    assert replies[5].text == "저희 가게는 강남역 2번 출구 앞에 있습니다."
    assert {m for m, _ in seen} == {"parse_message", "handle_message"}
    assert {name for _, name in seen} == {f"callbot-rasa-{bot.version}"}
