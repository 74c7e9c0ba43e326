"""Making a reservation: the form's validation, the read-back, corrections and storing it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.ko_datetime import (
    find_name,
    parse_count,
    parse_name,
    parse_phone,
    parse_when,
    speak_phone,
    speak_time,
)
from bot.reservations import ReservationError

from .common import (
    MAX_PHONE_PARTY,
    Clock,
    as_count,
    as_date,
    as_time,
    describe,
    iso_time,
    seoul_now,
    user_text,
)

logger = logging.getLogger(__name__)

FORM_SLOTS = ("store", "date", "time", "party_size", "name", "phone", "seating")
_SEATING_WORDS = (
    "창가",
    "룸",
    "방으로",
    "테라스",
    "단체석",
    "좌식",
    "입식",
    "조용한 자리",
    "유아 의자",
    "아기 의자",
)


class ReservationSlots:
    """Turns caller words into normalized slot values, with the polite re-ask when they don't parse.

    Shared by the form validation and the correction after the read-back. Normalized values:
    date "YYYY-MM-DD", time "HH:MM", party_size int, phone digits, name and store as said.
    """

    def __init__(self, context: Any, clock: Clock) -> None:
        self.context = context
        self.clock = clock

    def understand(self, text: str) -> dict[str, Any]:
        """Every reservation detail found in one utterance (a name only when introduced: "이름은 김지훈")."""
        found: dict[str, Any] = {}
        if not text:
            return found
        now = self.clock()
        when = parse_when(text, now)
        if when and when.date and when.date >= now.date():
            found["date"] = when.date.isoformat()
        if when and when.time:
            found["time"] = iso_time(when.time)
        if (count := parse_count(text)) is not None and count <= MAX_PHONE_PARTY:
            found["party_size"] = count
        if phone := parse_phone(text):
            found["phone"] = phone
        if name := find_name(text):
            found["name"] = name
        if store := self.context.stores.find_in_text(text):
            found["store"] = store.name
        if seating := [w for w in _SEATING_WORDS if w in text]:
            found["seating"] = ", ".join(seating)
        return found

    def store(self, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        text = str(value or "")
        store = self.context.stores.by_name(text) or self.context.stores.find_in_text(text)
        if store is None:
            dispatcher.utter_message(text="죄송해요, 말씀하신 매장을 찾지 못했어요.")
            return {"store": None}
        return {"store": store.name}

    def date(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        now = self.clock()
        if (date := as_date(value)) is not None:
            extra: dict[str, Any] = {}
        else:
            when = parse_when(str(value or ""), now)
            date = when.date if when else None
            extra = {}
            if when and when.time and tracker.get_slot("time") is None:
                extra["time"] = iso_time(when.time)
        if date is None:
            dispatcher.utter_message(text="죄송해요, 날짜를 정확히 듣지 못했어요.")
            return {"date": None}
        if date < now.date():
            dispatcher.utter_message(text="이미 지난 날짜예요. 오늘 이후 날짜로 말씀해 주세요.")
            return {"date": None}
        return {"date": date.isoformat(), **extra}

    def time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        now = self.clock()
        time = as_time(value)
        if time is None:
            when = parse_when(str(value or ""), now)
            time = when.time if when else None
        if time is None:
            dispatcher.utter_message(
                text="죄송해요, 시간을 정확히 듣지 못했어요. 예를 들어 저녁 일곱 시처럼 말씀해 주세요."
            )
            return {"time": None}
        date = as_date(tracker.get_slot("date"))
        if date is not None and dt.datetime.combine(date, time) <= now.replace(tzinfo=None):
            dispatcher.utter_message(text=f"{speak_time(time)}는 이미 지났어요. 다른 시간으로 말씀해 주세요.")
            return {"time": None}
        return {"time": iso_time(time)}

    def party_size(self, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        count = as_count(value)
        if count is None:
            count = parse_count(str(value or "").strip())
        if count is None:
            dispatcher.utter_message(
                text="죄송해요, 인원을 정확히 듣지 못했어요. 예를 들어 네 명처럼 말씀해 주세요."
            )
            return {"party_size": None}
        if count > MAX_PHONE_PARTY:
            dispatcher.utter_message(
                text=f"{MAX_PHONE_PARTY}명이 넘는 단체 예약은 매장에서 직접 도와드려요. "
                f"{MAX_PHONE_PARTY}명 이하로 말씀하시거나 상담원 연결이라고 말씀해 주세요."
            )
            return {"party_size": None}
        return {"party_size": count}

    def name(self, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        name = parse_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(text="죄송해요, 성함을 정확히 듣지 못했어요.")
            return {"name": None}
        return {"name": name}

    def phone(self, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        phone = parse_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(
                text="죄송해요, 전화번호를 정확히 듣지 못했어요. 숫자를 하나씩 말씀해 주세요."
            )
            return {"phone": None}
        return {"phone": phone}


class ValidateReservationForm(FormValidationAction):
    """Validates reservation_form; any utterance may fill several slots ("내일 저녁 7시 다섯 명")."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.slots = ReservationSlots(context, clock)

    def name(self) -> str:
        return "validate_reservation_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # A company with one store never asks which store.
        if len(self.context.stores.stores) <= 1:
            return [s for s in domain_slots if s != "store"]
        return domain_slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        events = await super().run(dispatcher, tracker, domain)
        # Seating wishes ("창가 자리로") are noted whenever said; the form never asks for them.
        seating = self.slots.understand(user_text(tracker)).get("seating")
        if seating and tracker.get_slot("seating") is None:
            events.append(SlotSet("seating", seating))
        return events

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Fill empty slots from whatever the caller said (the requested slot is validated from its text)."""
        requested = tracker.get_slot("requested_slot")
        found = self.slots.understand(user_text(tracker))
        wanted = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        events = [
            SlotSet(slot, value)
            for slot, value in found.items()
            if slot != requested and slot in wanted and tracker.get_slot(slot) is None
        ]
        tracker.add_slots(events)
        return events

    def validate_store(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.store(value, dispatcher)

    def validate_date(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.date(value, dispatcher, tracker)

    def validate_time(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.time(value, dispatcher, tracker)

    def validate_party_size(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.party_size(value, dispatcher)

    def validate_name(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.name(value, dispatcher)

    def validate_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.slots.phone(value, dispatcher)


def _details(tracker: Tracker) -> dict[str, Any] | None:
    """The validated reservation details in the slots, or None when one is missing."""
    values = {
        "date": as_date(tracker.get_slot("date")),
        "time": as_time(tracker.get_slot("time")),
        "party_size": as_count(tracker.get_slot("party_size")),
        "name": tracker.get_slot("name"),
        "phone": tracker.get_slot("phone"),
    }
    if any(v is None for v in values.values()):
        return None
    return values | {"store": tracker.get_slot("store"), "seating": tracker.get_slot("seating")}


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionConfirmReservation(Action):
    """Reads the reservation back and asks for a yes or no."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def name(self) -> str:
        return "action_confirm_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        details = _details(tracker)
        if details is None:
            dispatcher.utter_message(text="예약 정보가 모두 모이지 않았어요. 처음부터 다시 여쭤볼게요.")
            return [*_reset(), FollowupAction("reservation_form")]
        store = f"{details['store']}에 " if details["store"] else ""
        seating = f" {details['seating']} 자리로" if details["seating"] else ""
        when = describe(details["date"], details["time"], details["party_size"], self.clock().date())
        dispatcher.utter_message(
            text=f"{store}{when},{seating} {details['name']}님 이름으로 예약해 드릴까요? "
            f"연락처는 {speak_phone(details['phone'])}입니다. 맞으면 네, 아니면 아니요라고 말씀해 주세요."
        )
        return []


class ActionCorrectReservation(Action):
    """After a "no" at the read-back: apply what the caller corrected, or start the questions over."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.slots = ReservationSlots(context, clock)

    def name(self) -> str:
        return "action_correct_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        text = user_text(tracker)
        found = self.slots.understand(text)
        if not found:
            dispatcher.utter_message(text="알겠습니다. 처음부터 다시 여쭤볼게요.")
            return [*_reset(), FollowupAction("reservation_form")]
        events: list[EventType] = [SlotSet(slot, value) for slot, value in found.items()]
        tracker.add_slots(events)
        # The new time must still be in the future on the (possibly new) date.
        if "time" in found and self.slots.time(found["time"], dispatcher, tracker)["time"] is None:
            events.append(SlotSet("time", None))
            return [*events, FollowupAction("reservation_form")]
        dispatcher.utter_message(text="네, 고쳐서 다시 확인해 드릴게요.")
        return [*events, FollowupAction("action_confirm_reservation")]


class ActionSubmitReservation(Action):
    """Stores the confirmed reservation and tells its number."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def name(self) -> str:
        return "action_submit_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        details = _details(tracker)
        if details is None:
            dispatcher.utter_message(text="예약 정보가 모두 모이지 않았어요. 처음부터 다시 여쭤볼게요.")
            return [*_reset(), FollowupAction("reservation_form")]
        try:
            reservation = self.context.reservations.make(**details)
        except ReservationError:
            logger.exception("restaurant.reservation.store_failed sender=%s", tracker.sender_id)
            dispatcher.utter_message(
                text="죄송합니다. 지금 예약을 저장하지 못했어요. 상담원에게 연결해 드릴게요."
            )
            return []
        when = describe(reservation.date, reservation.time, reservation.party_size, self.clock().date())
        dispatcher.utter_message(
            text=f"예약이 완료되었습니다. 예약 번호는 {reservation.id}번입니다. {when}, {reservation.name}님 "
            "이름으로 예약되었어요. 감사합니다."
        )
        return [*_reset(), SlotSet("reservation_id", reservation.id)]
