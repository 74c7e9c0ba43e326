"""What the runtime reads from a domain's form turn: the form's state before and after it, the
custom payloads a domain sends, the retry hint of a slot, and slots carried between domains.

Contract with domains (custom payloads in a turn's messages, `{"callbot": ...}`):
- `elsewhere`: this turn is no answer to the form's question; the runtime asks the router whether
  another domain answers it (a digression: "주차 돼?" while booking), else declines politely; the
  domain's other messages of the turn (the question again) follow.
- `handoff` / `hangup`: end the call that way after speaking the turn's text.
A form's question that got no answer twice in a row is followed by the domain's `utter_retry_<slot>`
response (the keypad offer); the third time the call goes to a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PAYLOAD_KEY = "callbot"
ELSEWHERE, HANDOFF, HANGUP = "elsewhere", "handoff", "hangup"
# Slots that describe the form's progress, not the caller's answers.
_BOOKKEEPING = frozenset({"requested_slot", "session_started_metadata"})


@dataclass(frozen=True)
class FormState:
    """A domain tracker's active form, the slot it asks for, and the slot values, at one moment."""

    loop: str | None = None
    requested: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, tracker: Any) -> FormState:
        if tracker is None:
            return cls()
        values = {k: v for k, v in tracker.current_slot_values().items() if k not in _BOOKKEEPING}
        return cls(tracker.active_loop_name, tracker.get_slot("requested_slot"), values)


def is_miss(before: FormState, after: FormState) -> bool:
    """The form asked for a slot and the turn gave nothing: same form, same question, no slot changed."""
    return (
        before.loop is not None
        and before.requested is not None
        and after.loop == before.loop
        and after.requested == before.requested
        and after.slots.get(after.requested) is None
        and after.slots == before.slots
    )


def payloads(messages: Iterable[dict[str, Any]]) -> set[str]:
    """The `callbot` values of the custom messages of a turn."""
    found = set()
    for m in messages:
        custom = m.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(PAYLOAD_KEY), str):
            found.add(custom[PAYLOAD_KEY])
    return found


def response_text(agent: Any, name: str) -> str | None:
    """The first text variation of response `name` in the agent's domain, if it has one."""
    for variation in (agent.domain.responses or {}).get(name) or []:
        if isinstance(variation.get("text"), str) and variation["text"].strip():
            return variation["text"]
    return None


async def share_slots(
    agent: Any, recent: Any, call_id: str, values: dict[str, Any], names: Sequence[str]
) -> None:
    """Carry slot values the caller gave in another domain ("the store already given") into this
    domain's tracker, unless a form of this domain is in progress there (its own answers win)."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.events import SlotSet

    own = {s.name for s in agent.domain.slots}
    wanted = {n: values[n] for n in names if values.get(n) is not None and n in own}
    if not wanted:
        return
    last = recent.get(call_id)
    if last is not None and (last.active_loop_name or all(last.get_slot(n) == v for n, v in wanted.items())):
        return
    tracker = await agent.processor.fetch_tracker_and_update_session(call_id, CollectingOutputChannel())
    if tracker.active_loop_name:
        return
    changed = [SlotSet(n, v) for n, v in wanted.items() if tracker.get_slot(n) != v]
    if changed:
        for event in changed:
            tracker.update(event)
        await agent.processor.save_tracker(tracker)
