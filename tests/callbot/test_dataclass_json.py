"""Dataclasses stored as JSON by their type hints: a call's DialogueSession, whatever its fields."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.session import DialogueSession
from callbot import dataclass_json
from callbot.events import BotAction, BotReply


def test_a_dialogue_session_round_trips_with_every_field() -> None:
    session = DialogueSession(
        "CA1",
        failures=2,
        sticky_domain="reservation",
        requested_slot="party_size",
        numeric_slot=True,
        digits="12",
        turns=5,
        last_reply=BotReply("몇 분이 오시나요?", "reservation", "reservation_make", 0.9, {"store": "강남점"}),
        form_prompt="몇 분이 오시나요?",
        pending_end=BotReply("감사합니다.", "common", "common_goodbye", 0.6, action=BotAction.HANGUP),
        domains_used={"reservation", "common"},
    )
    restored = dataclass_json.loads(DialogueSession, dataclass_json.dumps(session))
    for f in dataclasses.fields(DialogueSession):
        if f.name != "lock":
            assert getattr(restored, f.name) == getattr(session, f.name), f.name
    assert isinstance(restored.lock, asyncio.Lock) and restored.lock is not session.lock  # process-local
    assert restored.last_reply is not None and restored.last_reply.action is BotAction.NONE
    assert restored.pending_end is not None and restored.pending_end.action is BotAction.HANGUP


def test_fields_added_later_are_stored_without_a_field_list() -> None:
    @dataclasses.dataclass
    class Later(DialogueSession):
        pending: list[str] = dataclasses.field(default_factory=list)
        when: dt.date | None = None
        scores: dict[str, float] = dataclasses.field(default_factory=dict)
        last_action: BotAction = BotAction.NONE

    session = Later("CA2", pending=["a", "b"], when=dt.date(2026, 12, 2), scores={"x": 0.5})
    session.last_action = BotAction.HANDOFF
    restored = dataclass_json.loads(Later, dataclass_json.dumps(session))
    assert restored.pending == ["a", "b"] and restored.when == dt.date(2026, 12, 2)
    assert restored.scores == {"x": 0.5} and restored.last_action is BotAction.HANDOFF
    # Stored by an older version (a field it did not know, one it had and was since removed):
    old = dataclass_json.loads(Later, '{"call_id": "CA3", "failures": 1, "removed_field": 7}')
    assert (old.call_id, old.failures, old.pending) == ("CA3", 1, [])


def test_values_that_do_not_fit_are_clear_errors() -> None:
    with pytest.raises(dataclass_json.CodecError, match="expected int"):
        dataclass_json.loads(DialogueSession, '{"call_id": "CA4", "failures": "two"}')
    with pytest.raises(dataclass_json.CodecError, match="cannot store"):
        dataclass_json.dumps(DialogueSession("CA5", last_reply=object()))  # type: ignore[arg-type]
