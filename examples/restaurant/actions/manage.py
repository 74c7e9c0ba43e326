"""Changing, cancelling and looking up a reservation found by the caller's phone number.

Each is a form: the phone number first (said, keyed, or said with the request), then for a change
what to change, and a read-back before anything is changed or cancelled. A change is checked against
the store table like a new reservation.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.ko_datetime import parse_phone
from bot.reservations import Reservation, ReservationError

from .common import Clock, as_date, as_time, describe, iso_time, says_keep, says_no, says_yes, seoul_now
from .details import Details
from .forms import FormValidation, Turn

logger = logging.getLogger(__name__)

LOOKUP_SLOTS = ("phone", "reservation_id", "change_request", "change_confirmed", "cancel_confirmed")
KEPT = "알겠습니다. 예약은 그대로 유지됩니다."
CHANGEABLE = ("store", "date", "time", "party_size")


def _phone_in(text: str) -> str | None:
    digits = text.replace(" ", "").rstrip("#")
    if digits.isdigit() and 9 <= len(digits) <= 11 and digits.startswith("0"):
        return digits
    return parse_phone(text)


def _after(current: Reservation, changes: dict[str, Any]) -> dict[str, Any]:
    """The reservation's details with `changes` applied (normalized slot values)."""
    return {
        "store": changes.get("store", current.store),
        "date": changes.get("date", current.date.isoformat()),
        "time": changes.get("time", iso_time(current.time)),
        "party_size": changes.get("party_size", current.party_size),
    }


def spoken(reservation: Reservation, today: dt.date, changes: dict[str, Any] | None = None) -> str:
    """ "강남점, 12월 5일 토요일 저녁 6시 반에 3명" (with the changes applied, when given)."""
    new = _after(reservation, changes or {})
    when = describe(as_date(new["date"]), as_time(new["time"]), int(new["party_size"]), today)
    return f"{new['store']}, {when}" if new["store"] else when


class _LookupForm(FormValidation):
    """Finds the caller's latest active reservation from the phone number said or keyed."""

    slot_names = LOOKUP_SLOTS
    announce = False  # say what was found as soon as it is found

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        super().__init__(context, clock)
        self.details = Details(context, clock)

    def answers(self, turn: Turn) -> bool:
        if turn.requested == "phone":
            return _phone_in(turn.text) is not None
        return says_yes(turn.text)

    def found(self, turn: Turn) -> Reservation | None:
        rid = turn.slots.get("reservation_id")
        found = self.context.reservations.get(rid) if rid is not None else None
        return found if found is not None and found.active else None

    def understand(self, turn: Turn) -> None:
        phone = _phone_in(turn.text) if turn.text else None
        if phone is None and turn.slots.get("phone") and self.found(turn) is None:
            phone = turn.slots["phone"]  # known from earlier in the call (a look-up, then "취소해 줘")
        if phone is not None:
            self._look_up(turn, phone)
        if self.found(turn) is not None:
            self.understand_found(turn)

    def _look_up(self, turn: Turn, phone: str) -> None:
        found = self.context.reservations.find_by_phone(phone)
        if found is None:
            turn.clear("phone")
            turn.clear("reservation_id")
            turn.say("그 번호로 된 예약을 찾지 못했어요. 예약하실 때 남기신 번호가 맞는지 확인해 주세요.")
            return
        turn.set("phone", phone)
        turn.set("reservation_id", found.id)
        if self.announce:
            turn.say(f"{found.name}님, {spoken(found, turn.now.date())} 예약을 찾았습니다.")

    def understand_found(self, turn: Turn) -> None:
        """What the caller said once the reservation is known (the change, the yes or no)."""

    def confirm(self, turn: Turn, slot: str) -> None:
        if says_yes(turn.text) or (not turn.text and turn.intent == "common_affirm"):  # or keypad 1
            turn.set(slot, True)
        elif says_no(turn.text) or says_keep(turn.text) or (not turn.text and turn.intent == "common_deny"):
            turn.set(slot, False)
            turn.say(KEPT)


class ValidateChangeForm(_LookupForm):
    """change_form: phone, what to change ("8시로", "여섯 명으로", "잠실점으로"), then the read-back."""

    form = "change_form"
    requests = frozenset({"reservation_change"})
    switch_intents = frozenset({"reservation_make", "reservation_cancel", "reservation_check"})
    announce = True

    def answers(self, turn: Turn) -> bool:
        if turn.requested == "change_request":
            return bool(self._changes(turn))
        return super().answers(turn)

    def _changes(self, turn: Turn) -> dict[str, Any]:
        return {k: v for k, v in self.details.values(turn.text, turn.now).items() if k in CHANGEABLE}

    def understand_found(self, turn: Turn) -> None:
        found = self.found(turn)
        changes = self._changes(turn) if turn.text else {}
        if turn.requested == "change_confirmed" and not changes:
            self.confirm(turn, "change_confirmed")
            return
        if not changes:
            return
        request = {**(turn.slots.get("change_request") or {}), **changes}
        problem = self.details.check(_after(found, request), turn.now)
        if problem is not None:
            turn.say(problem.message)
            turn.clear("change_request")
            return
        turn.set("change_request", request)
        turn.clear("change_confirmed")


class ValidateCancelForm(_LookupForm):
    form = "cancel_form"
    switch_intents = frozenset({"reservation_make", "reservation_change", "reservation_check"})

    def understand_found(self, turn: Turn) -> None:
        if turn.requested == "cancel_confirmed":
            self.confirm(turn, "cancel_confirmed")


class ValidateCheckForm(_LookupForm):
    form = "check_form"
    switch_intents = frozenset({"reservation_make", "reservation_change", "reservation_cancel"})


def _found(context: Any, tracker: Tracker) -> Reservation | None:
    rid = tracker.get_slot("reservation_id")
    found = context.reservations.get(rid) if rid is not None else None
    return found if found is not None and found.active else None


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in LOOKUP_SLOTS]


class _LookupAction(Action):
    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock


class ActionAskChangeConfirmed(_LookupAction):
    def name(self) -> str:
        return "action_ask_change_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        changes = tracker.get_slot("change_request") or {}
        if found is not None:
            new = spoken(found, self.clock().date(), changes)
            dispatcher.utter_message(
                text=f"{found.name}님 예약을 {new}으로 변경할까요? 맞으면 네라고 말씀해 주세요."
            )
        return []


class ActionAskCancelConfirmed(_LookupAction):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        if found is not None:
            dispatcher.utter_message(
                text=f"{found.name}님의 {spoken(found, self.clock().date())} 예약을 취소할까요? "
                "맞으면 네라고 말씀해 주세요."
            )
        return []


class ActionChangeReservation(_LookupAction):
    """Applies the change the caller confirmed (change_form's end)."""

    def name(self) -> str:
        return "action_change_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        changes = tracker.get_slot("change_request") or {}
        if tracker.get_slot("change_confirmed") is not True or found is None or not changes:
            return _reset()
        values: dict[str, Any] = {}
        if "store" in changes:
            values["store"] = changes["store"]
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
                text="죄송합니다. 지금 예약을 변경하지 못했어요. 상담원에게 연결해 드릴게요.",
                json_message={"callbot": "handoff"},
            )
            return _reset()
        dispatcher.utter_message(
            text=f"변경되었습니다. 예약 번호 {changed.id}번, {spoken(changed, self.clock().date())}으로 "
            "예약되어 있습니다."
        )
        return _reset()


class ActionCancelReservation(_LookupAction):
    """Cancels the reservation the caller confirmed (cancel_form's end)."""

    def name(self) -> str:
        return "action_cancel_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        if tracker.get_slot("cancel_confirmed") is not True or found is None:
            return _reset()
        try:
            self.context.reservations.cancel(found.id)
        except ReservationError:
            logger.exception("restaurant.reservation.cancel_failed id=%s", found.id)
            dispatcher.utter_message(
                text="죄송합니다. 지금 예약을 취소하지 못했어요. 상담원에게 연결해 드릴게요.",
                json_message={"callbot": "handoff"},
            )
            return _reset()
        dispatcher.utter_message(
            text=f"예약 번호 {found.id}번 예약이 취소되었습니다. 이용해 주셔서 감사합니다."
        )
        return _reset()


class ActionTellReservation(_LookupAction):
    """Reads the reservation found back (check_form's end); the number is kept for a change or cancel."""

    def name(self) -> str:
        return "action_tell_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        found = _found(self.context, tracker)
        if found is None:
            return []
        dispatcher.utter_message(
            text=f"{found.name}님 예약은 {spoken(found, self.clock().date())}입니다. "
            "변경이나 취소가 필요하시면 말씀해 주세요."
        )
        return []
