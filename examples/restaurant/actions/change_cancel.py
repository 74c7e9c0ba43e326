"""Changing and cancelling a reservation found by the caller's phone number."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.ko_datetime import parse_count, parse_phone, parse_when
from bot.reservations import Reservation, ReservationError

from .common import MAX_PHONE_PARTY, Clock, as_date, as_time, describe, iso_time, seoul_now, user_text

logger = logging.getLogger(__name__)

_LOOKUP_SLOTS = ("phone", "change_request", "reservation_id")


class _ValidateLookupForm(FormValidationAction):
    """Finds the caller's latest active reservation from the phone number they say or key in."""

    announce_found = False

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # "010-1234-5678로 예약한 거 취소해 주세요": the number said with the request is used right away.
        if tracker.get_slot("phone") is None and tracker.get_slot("requested_slot") != "phone":
            if phone := parse_phone(user_text(tracker)):
                events = [SlotSet("phone", phone)]
                tracker.add_slots(events)
                return events
        return []

    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker, domain) -> dict[str, Any]:
        phone = parse_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(
                text="죄송해요, 전화번호를 정확히 듣지 못했어요. 숫자를 하나씩 말씀해 주세요."
            )
            return {"phone": None, "reservation_id": None}
        found = self.context.reservations.find_by_phone(phone)
        if found is None:
            dispatcher.utter_message(
                text="그 번호로 된 예약을 찾지 못했어요. 예약하실 때 남기신 번호가 맞는지 확인해 주세요."
            )
            return {"phone": None, "reservation_id": None}
        if self.announce_found:
            when = describe(found.date, found.time, found.party_size, self.clock().date())
            dispatcher.utter_message(text=f"{found.name}님, {when} 예약을 찾았습니다.")
        return {"phone": phone, "reservation_id": found.id}


class ValidateCancelForm(_ValidateLookupForm):
    def name(self) -> str:
        return "validate_cancel_form"


class ValidateChangeForm(_ValidateLookupForm):
    """Also turns "8시로 바꿔 주세요" / "여섯 명으로요" into the requested changes."""

    announce_found = True

    def name(self) -> str:
        return "validate_change_form"

    def validate_change_request(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if isinstance(value, dict):
            return {"change_request": value}
        text = str(value or "")
        now = self.clock()
        when = parse_when(text, now)
        changes: dict[str, Any] = {}
        if when and when.date:
            changes["date"] = when.date.isoformat()
        if when and when.time:
            changes["time"] = iso_time(when.time)
        count = parse_count(text)
        if count is not None and count <= MAX_PHONE_PARTY:
            changes["party_size"] = count
        if not changes:
            dispatcher.utter_message(text="죄송해요, 바꾸실 내용을 정확히 듣지 못했어요.")
            return {"change_request": None}
        current = self.context.reservations.get(tracker.get_slot("reservation_id"))
        if current is not None and _when(current, changes) <= now.replace(tzinfo=None):
            dispatcher.utter_message(
                text="이미 지난 시간으로는 바꿀 수 없어요. 다른 날짜나 시간으로 말씀해 주세요."
            )
            return {"change_request": None}
        return {"change_request": changes}


def _when(current: Reservation, changes: dict[str, Any]) -> dt.datetime:
    date = as_date(changes.get("date")) or current.date
    time = as_time(changes.get("time")) or current.time
    return dt.datetime.combine(date, time)


def _found(context: Any, tracker: Tracker) -> Reservation | None:
    rid = tracker.get_slot("reservation_id")
    found = context.reservations.get(rid) if rid is not None else None
    return found if found is not None and found.active else None


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in _LOOKUP_SLOTS]


class _LookupAction(Action):
    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def _not_found(self, dispatcher: CollectingDispatcher) -> list[EventType]:
        dispatcher.utter_message(text="확인된 예약이 없어요. 다시 도와드릴까요?")
        return _reset()


class ActionConfirmChange(_LookupAction):
    def name(self) -> str:
        return "action_confirm_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        changes = tracker.get_slot("change_request") or {}
        if found is None or not changes:
            return self._not_found(dispatcher)
        new = _when(found, changes)
        party = changes.get("party_size", found.party_size)
        when = describe(new.date(), new.time(), party, self.clock().date())
        dispatcher.utter_message(
            text=f"{found.name}님 예약을 {when}으로 변경할까요? 맞으면 네라고 말씀해 주세요."
        )
        return []


class ActionChangeReservation(_LookupAction):
    def name(self) -> str:
        return "action_change_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        changes = tracker.get_slot("change_request") or {}
        if found is None or not changes:
            return self._not_found(dispatcher)
        values: dict[str, Any] = {}
        if "date" in changes:
            values["date"] = as_date(changes["date"])
        if "time" in changes:
            values["time"] = as_time(changes["time"])
        if "party_size" in changes:
            values["party_size"] = int(changes["party_size"])
        try:
            changed = self.context.reservations.change(found.id, **values)
        except ReservationError:
            logger.exception("restaurant.reservation.change_failed id=%s", found.id)
            dispatcher.utter_message(
                text="죄송합니다. 지금 예약을 변경하지 못했어요. 상담원에게 연결해 드릴게요."
            )
            return _reset()
        when = describe(changed.date, changed.time, changed.party_size, self.clock().date())
        dispatcher.utter_message(
            text=f"변경되었습니다. 예약 번호 {changed.id}번, {when}으로 예약되어 있습니다."
        )
        return _reset()


class ActionConfirmCancel(_LookupAction):
    def name(self) -> str:
        return "action_confirm_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        if found is None:
            return self._not_found(dispatcher)
        when = describe(found.date, found.time, found.party_size, self.clock().date())
        dispatcher.utter_message(
            text=f"{found.name}님의 {when} 예약을 취소할까요? 맞으면 네라고 말씀해 주세요."
        )
        return []


class ActionCancelReservation(_LookupAction):
    def name(self) -> str:
        return "action_cancel_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        if found is None:
            return self._not_found(dispatcher)
        try:
            self.context.reservations.cancel(found.id)
        except ReservationError:
            logger.exception("restaurant.reservation.cancel_failed id=%s", found.id)
            dispatcher.utter_message(
                text="죄송합니다. 지금 예약을 취소하지 못했어요. 상담원에게 연결해 드릴게요."
            )
            return _reset()
        dispatcher.utter_message(
            text=f"예약 번호 {found.id}번 예약이 취소되었습니다. 이용해 주셔서 감사합니다."
        )
        return _reset()


class ActionKeepReservation(_LookupAction):
    def name(self) -> str:
        return "action_keep_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        dispatcher.utter_message(text="알겠습니다. 예약은 그대로 유지됩니다.")
        return _reset()
