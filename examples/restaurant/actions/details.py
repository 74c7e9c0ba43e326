"""Reservation details in a caller's words, and the store table's say on them.

`Details.values` finds every detail in an utterance ("모레 저녁 7시 강남점 두 명"); `Details.answer`
reads a bare answer to the one slot asked ("김철수", "공일공 일이삼사 오육칠팔", "1224" keyed as MMDD);
`Details.check` asks the store table whether the reservation is possible and says why not.
Normalized values: date "YYYY-MM-DD", time "HH:MM", party_size int, phone digits, store its name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.ko_datetime import (
    find_name,
    keyed_date,
    keyed_time,
    name_body,
    parse_count,
    parse_date,
    parse_name,
    parse_phone,
    parse_time,
    parse_when,
    speak_date,
    speak_phone,
    speak_time,
)
from bot.nlu.kiwi_tokenizer import get_analyzer
from bot.store_hours import Problem, check_date, check_party, check_time
from bot.stores import Store

from .common import MAX_PHONE_PARTY, Clock, as_count, as_date, as_time, iso_time

SEATING_WORDS = (
    "창가", "룸", "방으로", "테라스", "단체석", "좌식", "입식", "조용한 자리", "유아 의자", "아기 의자",
)  # fmt: skip
PERIOD_WORDS = {"morning": "아침", "lunch": "점심", "afternoon": "오후", "dinner": "저녁"}
# "강남 말고 잠실", "7시 말고 6시 반으로": what comes after the marker is the new value.
_CORRECTION_RE = re.compile(r"말고|아니고|대신에?")
_PHONE_PART_RE = re.compile(r"[0-9공영일이삼사오육륙칠팔구][0-9공영일이삼사오육륙칠팔구\s\-.]{7,}")
SLOT_NAMES = {
    "time": ("시간", "몇 시"),
    "date": ("날짜", "요일", "날로"),
    "party_size": ("인원", "사람 수", "명수", "몇 명"),
    "name": ("이름", "성함", "예약자"),
    "phone": ("번호", "연락처", "전화"),
    "store": ("매장", "지점"),
}


def corrected_part(text: str) -> str:
    """The words after the last "말고" / "아니고" / "대신" ("" when there is none)."""
    parts = _CORRECTION_RE.split(text)
    return parts[-1] if len(parts) > 1 else ""


def slot_named(text: str) -> str | None:
    """The detail a caller names without a value ("시간이요", "날짜를 바꿀게요"), if exactly one."""
    named = [slot for slot, words in SLOT_NAMES.items() if any(w in text for w in words)]
    return named[0] if len(named) == 1 else None


class Details:
    """Caller words -> normalized reservation details, checked against the store table."""

    def __init__(self, context: Any, clock: Clock) -> None:
        self.context = context
        self.clock = clock

    # -- reading --------------------------------------------------------------------------------------

    def store_in(self, text: str) -> Store | None:
        stores = self.context.stores
        after = corrected_part(text)
        return (
            (stores.find_in_text(after) if after else None)
            or stores.by_name(text)
            or stores.find_in_text(text)
        )

    def values(self, text: str, now: dt.datetime) -> dict[str, Any]:
        """Every detail in one utterance (a name only when introduced: "이름은 김지훈")."""
        found: dict[str, Any] = {}
        if not text:
            return found
        after = corrected_part(text)
        if store := self.store_in(text):
            found["store"] = store.name
        when = (parse_when(after, now) if after else None) or parse_when(text, now)
        if when and when.date:
            found["date"] = when.date.isoformat()
        if when and when.time:
            found["time"] = iso_time(when.time)
        elif when and when.period:
            found["period"] = when.period
        count = (parse_count(after) if after else None) or parse_count(text)
        if count is not None:
            found["party_size"] = count
        if phone := parse_phone(text):
            found["phone"] = phone
        if name := find_name(text):
            found["name"] = name
        seating = [w for w in SEATING_WORDS if w in text]
        if seating:
            found["seating"] = ", ".join(seating)
        return found

    def answer(self, slot: str, text: str, now: dt.datetime) -> Any:
        """A bare answer to the slot asked, normalized; None when the words are no such value."""
        text = text.strip()
        digits = text.replace(" ", "").rstrip("#")
        after = corrected_part(text) or text
        if slot == "store":
            store = self.store_in(text)
            return store.name if store else None
        if slot == "date":
            date = (
                keyed_date(digits, now)
                if digits.isdigit()
                else parse_date(after, now) or parse_date(text, now)
            )
            return date.isoformat() if date else None
        if slot == "time":
            time = keyed_time(digits) if digits.isdigit() else parse_time(after) or parse_time(text)
            return iso_time(time) if time else None
        if slot == "party_size":
            return int(digits) if digits.isdigit() and 0 < int(digits) <= 100 else parse_count(after)
        if slot == "phone":
            return parse_phone(text)
        if slot == "name":
            return self.name_answer(text)
        return None

    @staticmethod
    def name_answer(text: str) -> str | None:
        """ "김철수", "김철수입니다", "철수요"; a name said before the phone number ("김래원 공일공 ...")."""
        text = _PHONE_PART_RE.sub(" ", text).strip() if parse_phone(text) else text
        if name := parse_name(text) or find_name(text):
            return name
        given = parse_name(text, surname=False)
        if given is None:
            return None
        morphs = get_analyzer().morphemes(name_body(text))
        return given if len(morphs) == 1 and morphs[0].tag == "NNP" else None

    # -- the store table --------------------------------------------------------------------------------

    def check(self, slots: dict[str, Any], now: dt.datetime) -> Problem | None:
        """The first reason the details in `slots` cannot be booked, or None."""
        stores = self.context.stores
        store = stores.by_name(slots.get("store"))
        date, time, party = (
            as_date(slots.get("date")),
            as_time(slots.get("time")),
            as_count(slots.get("party_size")),
        )
        if date is not None and (problem := check_date(store, date, now)):
            return problem
        if date is not None and time is not None and (problem := check_time(store, date, time, now)):
            return problem
        if party is not None and party > MAX_PHONE_PARTY:
            return Problem(
                "too_many",
                "party_size",
                f"{MAX_PHONE_PARTY}명이 넘는 단체 예약은 매장에서 직접 도와드려요. "
                f"{MAX_PHONE_PARTY}명 이하로 말씀하시거나 상담원 연결이라고 말씀해 주세요.",
            )
        if party is not None and (problem := check_party(store, party, stores.stores)):
            return problem
        return None


def describe_value(slot: str, value: Any, today: dt.date) -> str:
    """How a corrected value is said back: "저녁 8시", "3명", "잠실점", "모레, 12월 4일 금요일"."""
    if slot == "time" and (t := as_time(value)):
        return speak_time(t)
    if slot == "date" and (d := as_date(value)):
        return speak_date(d, today)
    if slot == "party_size":
        return f"{value}명"
    if slot == "phone":
        return speak_phone(str(value))
    if slot == "name":
        return f"{value}님"
    return str(value)
