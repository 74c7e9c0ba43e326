"""Making a reservation: the form's turns, the read-back (the form's last question), storing it."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.ko_datetime import speak_phone
from bot.reservations import ReservationError

from .common import (
    Clock,
    as_count,
    as_date,
    as_time,
    describe,
    latest_intent,
    says_no,
    says_yes,
    seoul_now,
)
from .details import PERIOD_WORDS, Details, describe_value, slot_named
from .forms import FormValidation, Turn

logger = logging.getLogger(__name__)

REQUIRED = ("store", "date", "time", "party_size", "name", "phone", "confirmed")
# Every slot of the reservation: cleared when the reservation is stored, left or restarted.
FORM_SLOTS = (*REQUIRED, "seating", "period", "wanted_party_size", "correcting")
DETAILS = ("store", "date", "time", "party_size", "name", "phone")
WHEN = {"store", "date", "time", "party_size"}  # details said together: one may change the others


class ValidateReservationForm(FormValidation):
    """reservation_form: store, date, time, party size, name, phone, then the read-back (`confirmed`).

    Any utterance may fill several slots ("모레 저녁 7시 강남점 두 명"); a value that does not fit the
    question but names another detail corrects it ("아니 8시로"); every change is checked against
    the store table (hours, break, last order, closed days, party size, past dates).
    """

    form = "reservation_form"
    slot_names = FORM_SLOTS
    switch_intents = frozenset({"reservation_cancel", "reservation_check"})
    questions = frozenset({"reservation_seating", "reservation_group", "reservation_takeout"})
    requests = frozenset({"reservation_make", "reservation_change"})
    restartable = True
    leave_text = "알겠습니다. 예약은 진행하지 않을게요. 더 도와드릴 일이 있으면 말씀해 주세요."

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        super().__init__(context, clock)
        self.details = Details(context, clock)

    def answers(self, turn: Turn) -> bool:
        if turn.requested == "confirmed":
            return says_yes(turn.text)
        return bool(turn.requested) and self.details.answer(turn.requested, turn.text, turn.now) is not None

    def understand(self, turn: Turn) -> None:
        if turn.requested == "confirmed":
            self._read_back_answer(turn)
            return
        found = self.details.values(turn.text, turn.now)
        answer = self.details.answer(turn.requested, turn.text, turn.now) if turn.requested else None
        if answer is not None:
            found[turn.requested] = answer
        # The question answered: the rest only fills what is empty. Not answered: it corrects. The
        # request itself overrides what was carried over ("잠실점 토요일 ..." after talking about 강남점).
        corrects = turn.requested is None or answer is None
        corrected = self._apply(turn, found, overwrite=corrects)
        if len(self.context.stores.stores) == 1 and turn.slots.get("store") is None:
            turn.set("store", self.context.stores.stores[0].name)  # one store: never asked
        if self._check(turn) or not corrected or turn.requested is None:
            return
        said = ", ".join(describe_value(s, turn.slots[s], turn.now.date()) for s in corrected)
        turn.say(f"네, {said}{_ro(said)} 바꿨어요.")

    def _apply(self, turn: Turn, found: dict[str, Any], overwrite: bool) -> list[str]:
        """Set the found details; returns the slots whose earlier value was replaced."""
        corrected = []
        for slot, value in found.items():
            current = turn.slots.get(slot)
            if slot == "period":
                if turn.slots.get("time") is None and current != value:
                    turn.set("period", value)
                continue
            if current is None or slot == turn.requested:
                turn.set(slot, value)
            elif (overwrite or {slot, turn.requested} <= WHEN) and value != current:
                # "그럼 내일 9시" asked the time: the date said with it is the new date
                turn.set(slot, value)
                if slot in DETAILS:
                    corrected.append(slot)
        wanted = as_count(turn.slots.get("wanted_party_size"))
        if turn.slots.get("party_size") is None and wanted and "store" in turn.changed:
            turn.set("party_size", wanted)  # 열두 명 at 홍대점 (8 seats) -> "그럼 잠실점으로": 12 there
        return corrected

    def _check(self, turn: Turn) -> bool:
        """Say why the details cannot be booked (clearing that detail); True when one cannot."""
        if not turn.changed & set(DETAILS):
            return False
        problem = self.details.check(turn.slots, turn.now)
        if problem is None:
            if turn.slots.get("party_size") is not None and turn.slots.get("wanted_party_size") is not None:
                turn.clear("wanted_party_size")
            return False
        if problem.kind == "too_many":
            turn.set("wanted_party_size", turn.slots.get("party_size"))
        turn.clear(problem.slot)
        turn.say(problem.message)
        return True

    def _read_back_answer(self, turn: Turn) -> None:
        """The answer to "...예약해 드릴까요?": yes, a correction, the detail to change, or no."""
        found = {
            k: v
            for k, v in self.details.values(turn.text, turn.now).items()
            if k in DETAILS and v != turn.slots.get(k)
        }
        if found:
            self._apply(turn, found, overwrite=True)
            turn.set("correcting", None)
            self._check(turn)
            return
        slot = slot_named(turn.text)
        if says_yes(turn.text) or (not turn.text and turn.intent == "common_affirm"):  # keypad 1
            turn.set("confirmed", True)
            return
        if slot is not None:
            turn.clear(slot)  # "시간이요": the form asks for it again, then reads everything back
            turn.set("correcting", None)
            return
        if says_no(turn.text) or (not turn.text and turn.intent == "common_deny"):  # keypad 2
            turn.set("correcting", True)  # the read-back question becomes "어느 부분을 바꿔 드릴까요?"

    def progressed(self, turn: Turn) -> bool:
        return turn.requested == "confirmed" and any(e.get("name") != "confirmed" for e in turn.events)


def _ro(word: str) -> str:
    """로 after a vowel or ㄹ, 으로 after other final consonants."""
    code = ord(word[-1]) - 0xAC00 if word else -1
    final = code % 28 if 0 <= code < 11172 else 0
    return "으로" if final not in (0, 8) else "로"


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


class ActionAskConfirmed(Action):
    """The read-back, asked as the form's last question; after a plain "아니요", what to change."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        if tracker.get_slot("correcting"):
            dispatcher.utter_message(
                text="어느 부분을 바꿔 드릴까요? 예를 들어 8시로, 세 명으로처럼 말씀해 주세요."
            )
            return []
        details = _details(tracker)
        if details is None:  # cannot happen while the form asks in order; say something useful
            dispatcher.utter_message(text="예약 정보를 다시 확인할게요.")
            return []
        store = f"{details['store']}에 " if details["store"] else ""
        seating = f" {details['seating']} 자리로" if details["seating"] else ""
        when = describe(details["date"], details["time"], details["party_size"], self.clock().date())
        dispatcher.utter_message(
            text=f"{store}{when},{seating} {details['name']}님 이름으로 예약해 드릴까요? "
            f"연락처는 {speak_phone(details['phone'])}입니다. 맞으면 네, 아니면 아니요라고 말씀해 주세요."
        )
        return []


class ActionAskTime(Action):
    """ "몇 시로 예약해 드릴까요?", or "저녁 몇 시로..." when the caller said only 저녁 / 점심."""

    def name(self) -> str:
        return "action_ask_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        period = PERIOD_WORDS.get(tracker.get_slot("period") or "")
        dispatcher.utter_message(text=f"{period + ' ' if period else ''}몇 시로 예약해 드릴까요?")
        return []


class ActionSubmitReservation(Action):
    """Stores the reservation the caller confirmed (the form's end); a form left unconfirmed stores nothing."""

    def __init__(self, context: Any, clock: Clock = seoul_now) -> None:
        self.context = context
        self.clock = clock

    def name(self) -> str:
        return "action_submit_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        details = _details(tracker)
        if tracker.get_slot("confirmed") is not True or details is None:
            return _reset()
        try:
            reservation = self.context.reservations.make(**details)
        except ReservationError:
            logger.exception("restaurant.reservation.store_failed sender=%s", tracker.sender_id)
            dispatcher.utter_message(
                text="죄송합니다. 지금 예약을 저장하지 못했어요. 상담원에게 연결해 드릴게요.",
                json_message={"callbot": "handoff"},
            )
            return _reset()
        when = describe(reservation.date, reservation.time, reservation.party_size, self.clock().date())
        dispatcher.utter_message(
            text=f"예약이 완료되었습니다. 예약 번호는 {reservation.id}번입니다. {when}, {reservation.name}님 "
            "이름으로 예약되었어요. 감사합니다."
        )
        return [*_reset(), SlotSet("reservation_id", reservation.id)]


class ActionStopReservation(Action):
    """Leaves a reservation in progress for another request ("예약 취소하고 싶어" while booking)."""

    def name(self) -> str:
        return "action_stop_reservation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        if latest_intent(tracker) == "reservation_cancel":
            dispatcher.utter_message(
                text="진행하던 예약은 멈출게요. 이미 해 두신 예약을 취소하시려는 거면 도와드릴게요."
            )
        else:
            dispatcher.utter_message(text="진행하던 예약은 멈출게요.")
        return [*_reset(), SlotSet("requested_slot", None), ActiveLoop(None)]
