"""One turn of a form, judged against the question the form asked (Rasa's `requested_slot`).

Every form of the sample validates the same way (`FormValidation.run`):

- "처음부터 다시" restarts the form, "됐어요" / "그만할게요" / "예약 안 할래" leaves it politely;
- a value that fits the slot asked is taken whatever the intent model thought of it ("김철수" read as
  out of scope is still a name), and other details said with it fill the empty slots;
- when it does not fit, details said instead correct the slots already filled ("아니 8시로");
- when nothing fits: another form's request, a question the domain answers, "다시 말해 주세요" or a
  farewell rejects the form (`ActionExecutionRejected`) so the domain's rules answer it and the form
  asks its question again; out-of-scope words or a question ("몇 시까지 해?") are handed to the
  runtime (`{"callbot": "elsewhere"}`), which lets another domain answer ("주차 돼?") or declines;
  anything else is a miss: "죄송해요, 날짜를 정확히 듣지 못했어요", and the form asks again. The
  runtime counts misses and offers the keypad (`utter_retry_<slot>`) after two, a person after three.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .common import (
    REJECTION_INTENTS,
    Clock,
    asks_question,
    latest_intent,
    says_farewell,
    says_leave,
    says_repeat,
    says_restart,
    seoul_now,
    user_text,
    with_object,
)

# Slots noted along the way ("창가 자리로"): noting one does not make the words an answer.
NOTES = frozenset({"seating"})
SLOT_WORDS = {
    "store": "매장",
    "date": "날짜",
    "time": "시간",
    "party_size": "인원",
    "name": "성함",
    "phone": "전화번호",
    "change_request": "바꾸실 내용",
}


@dataclass
class Turn:
    """What the caller said in this turn and the state the form was in."""

    text: str
    intent: str
    requested: str | None
    slots: dict[str, Any]
    now: dt.datetime
    events: list[EventType] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # slots given a (new) value this turn

    def set(self, slot: str, value: Any) -> None:
        self.events.append(SlotSet(slot, value))
        if value is not None:
            self.changed.add(slot)
        self.slots[slot] = value

    def clear(self, slot: str) -> None:
        self.events.append(SlotSet(slot, None))
        self.changed.discard(slot)
        self.slots[slot] = None

    def say(self, text: str) -> None:
        self.messages.append(text)


_AFTER_USER = frozenset({"action_listen", "action_extract_slots"})


def _answered_since_user(tracker: Tracker, form: str) -> bool:
    """Whether an action besides the form itself (a rule's answer) ran since the caller's words.

    Rasa hands the validation action a tracker that ends with the form's own execution."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in (*_AFTER_USER, form):
            return True
    return False


class FormValidation(Action):
    """The validation action of one form (`validate_<form>`), as one judged turn."""

    form = ""
    slot_names: tuple[str, ...] = ()  # every slot the form reads or writes (reset when it ends)
    switch_intents: frozenset[str] = frozenset()  # requests that leave this form for another (rules)
    questions: frozenset[str] = frozenset()  # the domain's questions its rules answer inside the form
    requests: frozenset[str] = frozenset()  # intents whose words may carry answers even as a question
    restartable = False
    leave_text = "알겠습니다. 더 도와드릴 일이 있으면 말씀해 주세요."

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def name(self) -> str:
        return f"validate_{self.form}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        active = (tracker.active_loop or {}).get("name") == self.form
        if active and _answered_since_user(tracker, self.form):
            return []  # back in the form after a rule answered the caller: the words were judged
        requested = tracker.get_slot("requested_slot") if active else None
        slots = {s: tracker.get_slot(s) for s in self.slot_names}
        if requested:
            slots[requested] = None  # the form asks for it: a value there is only this turn's candidate
        turn = Turn(user_text(tracker), latest_intent(tracker), requested, slots, self.clock())
        if requested and turn.text:
            if self.restartable and says_restart(turn.text):
                return self._finish(dispatcher, self.restart(turn), turn)
            if says_leave(turn.text) and not self.answers(turn):
                return self._finish(dispatcher, self.leave(turn), turn)
            if turn.intent not in self.requests and asks_question(turn.text):
                # "주말엔 몇 시에 열어?" asks, though 주말 is a date
                return self._reject(turn) if self._for_the_rules(turn) else self._elsewhere(dispatcher, turn)
        self.understand(turn)
        if requested and not (turn.changed - NOTES) and not self.progressed(turn):
            if not turn.messages and self._for_the_rules(turn):
                return self._reject(turn)
            if not turn.messages and turn.intent in REJECTION_INTENTS:
                return self._elsewhere(dispatcher, turn)
            self.miss(turn)
        if (
            requested
            and turn.slots.get(requested) is None
            and not any(e.get("name") == requested for e in turn.events)
        ):
            turn.clear(requested)  # drop the raw candidate the slot mapping put there
        return self._finish(dispatcher, turn.events, turn)

    # -- what subclasses provide ----------------------------------------------------------------------

    def understand(self, turn: Turn) -> None:
        """Set the slots this turn's words give (and say why a value is not possible)."""
        raise NotImplementedError

    def answers(self, turn: Turn) -> bool:
        """Whether the words are an answer to the slot asked (then "됐어요" is not a farewell)."""
        return False

    def progressed(self, turn: Turn) -> bool:
        """A turn that moved the form on without giving a slot value (e.g. "아니요" at a read-back)."""
        return False

    def miss_text(self, turn: Turn) -> str:
        word = SLOT_WORDS.get(turn.requested or "", "")
        if not word:
            return "죄송해요, 잘 못 들었어요."
        return f"죄송해요, {with_object(word)} 정확히 듣지 못했어요."

    # -- endings ----------------------------------------------------------------------------------------

    def miss(self, turn: Turn) -> None:
        if not turn.messages:
            turn.say(self.miss_text(turn))

    def leave(self, turn: Turn) -> list[EventType]:
        turn.say(self.leave_text)
        return [*(SlotSet(s, None) for s in self.slot_names), SlotSet("requested_slot", None)]

    def restart(self, turn: Turn) -> list[EventType]:
        turn.say("네, 처음부터 다시 여쭤볼게요.")
        return [SlotSet(s, None) for s in self.slot_names]

    def _for_the_rules(self, turn: Turn) -> bool:
        """Words the domain's rules answer inside the form: another form's request, a question the
        domain answers, a real farewell or request to repeat ("잘 모르겠어" read as goodbye or repeat
        is a miss)."""
        if turn.intent == "common_goodbye":
            return says_farewell(turn.text)
        if turn.intent == "common_repeat":
            return says_repeat(turn.text)
        return turn.intent in self.switch_intents or turn.intent in self.questions

    def _reject(self, turn: Turn) -> list[EventType]:
        """The form steps aside (Rasa's loop rejection) and the domain's rules answer the turn."""
        return [SlotSet(turn.requested, None), ActionExecutionRejected(self.form)]

    @staticmethod
    def _elsewhere(dispatcher: CollectingDispatcher, turn: Turn) -> list[EventType]:
        """No answer for this domain: the runtime offers the words to the other domains (a digression)
        or declines politely; the form then asks its question again."""
        dispatcher.utter_message(json_message={"callbot": "elsewhere"})
        return [SlotSet(turn.requested, None)]

    @staticmethod
    def _finish(
        dispatcher: CollectingDispatcher, events: list[EventType], turn: Turn | None = None
    ) -> list[EventType]:
        for text in turn.messages if turn else []:
            dispatcher.utter_message(text=text)
        return events
