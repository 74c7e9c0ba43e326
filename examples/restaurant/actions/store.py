"""Answers about a store (location, hours, holidays, parking, kids) from the store table."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.nlu.kiwi_tokenizer import get_analyzer
from bot.stores import Store, StoreDirectory, answer

from .common import question_intent, user_text

logger = logging.getLogger(__name__)
CONTENT_TAGS = ("NNG", "NNP", "SL", "XR")  # nouns, foreign words, roots
STORE_WORDS = {
    "점",
    "지점",
    "매장",
    "가게",
    "곳",
    "데",
    "거기",
    "여기",
    "저기",
    "쪽",
}  # say only "which store"


def asks_more_than_a_store(text: str, stores: StoreDirectory) -> bool:
    """Whether `text` asks something besides naming a store: "명동점 주차 돼?" does, "강남 매장이요" does not."""
    keys = [k for s in stores.stores for k in (s.name, *s.aliases)]
    for m in get_analyzer().morphemes(text):
        if (
            m.tag in CONTENT_TAGS
            and m.form not in STORE_WORDS
            and not any(m.form in k or k in m.form for k in keys)
        ):
            return True
    return False


def _only_store(context: Any) -> Store | None:
    stores = context.stores.stores
    return stores[0] if len(stores) == 1 else None


class ValidateStoreForm(FormValidationAction):
    """Takes the store from the question itself, else the one talked about earlier, else asks."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def name(self) -> str:
        return "validate_store_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return [] if _only_store(self.context) else domain_slots

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("requested_slot") == "store":
            return []  # the answer to "어느 매장?" is validated from its text below
        text = user_text(tracker)
        store = self.context.stores.find_in_text(text) or self.context.stores.find_landmark(text)
        if store is None or store.name == tracker.get_slot("store"):
            return []
        events = [SlotSet("store", store.name)]
        tracker.add_slots(events)
        return events

    def validate_store(self, value: Any, dispatcher: CollectingDispatcher, tracker, domain) -> dict[str, Any]:
        text = str(value or "")
        store = self.context.stores.by_name(text) or self.context.stores.find_in_text(text)
        if store is None:
            dispatcher.utter_message(text="죄송해요, 말씀하신 매장을 찾지 못했어요.")
            return {"store": None}
        return {"store": store.name}


class ActionAskStore(Action):
    """ "어느 매장을 말씀하시는 건가요? 명동점, 강남역점 ..." (asked by store_form and reservation_form)."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def name(self) -> str:
        return "action_ask_store"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        dispatcher.utter_message(text=self.context.stores.which_store_question())
        return []


class ActionStoreAnswer(Action):
    """Answers the latest store question about the store in slot `store`."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def name(self) -> str:
        return "action_store_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        store = self.context.stores.by_name(tracker.get_slot("store")) or _only_store(self.context)
        intent = question_intent(tracker, "store_form", "store_")
        latest = (tracker.latest_message.get("intent") or {}).get("name") or ""
        if (
            latest.startswith("store_")
            and latest != intent
            and asks_more_than_a_store(user_text(tracker), self.context.stores)
        ):
            intent = latest  # the answer to "which store?" asked a new question: "명동점 주차 돼?"
        if store is None or intent is None:
            logger.warning("restaurant.store.unanswered sender=%s intent=%s", tracker.sender_id, intent)
            dispatcher.utter_message(text="죄송해요, 어느 매장의 무엇이 궁금하신지 다시 말씀해 주세요.")
            return [SlotSet("store", None)]
        dispatcher.utter_message(text=answer(intent, store))
        return []
