"""Whether a store can take a reservation, from its row in the store table. Pure functions.

Reads `hours_weekday` / `hours_weekend` ("11:30-22:00"), `break_time` ("평일 15:00-17:00": 평일, 주말
or 매일 before the ranges, none for every day; "없음" for no break), `last_order` ("21:00"), and the
optional `closed` (ISO dates with a name, "2027-02-07 설날", or weekday names) and `max_party`.
Saturday and Sunday are the weekend; public holidays are not known here unless listed in `closed`.
A `Problem` says why in the words the caller hears and what is possible instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.ko_datetime import speak_time
from bot.stores import Store

_RANGE_RE = re.compile(r"(\d{1,2}):(\d{2})\s*[-~–]\s*(\d{1,2}):(\d{2})")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_WEEKDAY_NAMES = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


@dataclass(frozen=True)
class Problem:
    """Why a reservation cannot be taken, as said to the caller, and which detail to ask again."""

    kind: str  # past_date, past_time, closed, before_open, after_last_order, break, too_many
    slot: str  # date, time or party_size
    message: str


def is_weekend(date: dt.date) -> bool:
    return date.weekday() >= 5


def closed_reason(store: Store, date: dt.date) -> str | None:
    """The name of the closure on `date` ("설날", "정기 휴무일"), or None when the store is open."""
    for day in store.closed:
        if day in _WEEKDAY_NAMES:
            if _WEEKDAY_NAMES.index(day) == date.weekday():
                return "정기 휴무일"
            continue
        iso, _, name = day.partition(" ")
        if iso == date.isoformat():
            return name.strip() or "휴무일"
    return None


def opening_hours(store: Store, date: dt.date) -> tuple[dt.time, dt.time] | None:
    """(opens, closes) on `date` from the weekday or weekend hours; None when the table has none."""
    text = store.hours_weekend if is_weekend(date) and store.hours_weekend else store.hours_weekday
    ranges = _ranges(text or "")
    return ranges[0] if ranges else None


def break_times(store: Store, date: dt.date) -> list[tuple[dt.time, dt.time]]:
    text = (store.break_time or "").strip()
    if not text or text in ("없음", "-"):
        return []
    if text.startswith("평일") and is_weekend(date) or text.startswith("주말") and not is_weekend(date):
        return []
    return _ranges(text)


def last_order(store: Store, date: dt.date) -> dt.time | None:
    """The last order time (a reservation may start at it, not after); else the closing time."""
    if m := _CLOCK_RE.search(store.last_order or ""):
        return _time(m[1], m[2])
    hours = opening_hours(store, date)
    return hours[1] if hours else None


def check_date(store: Store | None, date: dt.date, now: dt.datetime) -> Problem | None:
    """A past date or a day the store is closed."""
    if date < now.date():
        return Problem("past_date", "date", "이미 지난 날짜예요. 오늘이나 그 이후 날짜로 말씀해 주세요.")
    if store is None or (reason := closed_reason(store, date)) is None:
        return None
    day = f"{date.month}월 {date.day}일"
    nxt = next_open_day(store, date)
    offer = f" {nxt.month}월 {nxt.day}일에는 영업해요." if nxt else ""
    return Problem(
        "closed",
        "date",
        f"{day}은 {_reason(reason)} {_topic(store.name)} 쉬어요.{offer} 다른 날짜로 말씀해 주세요.",
    )


def check_time(store: Store | None, date: dt.date, time: dt.time, now: dt.datetime) -> Problem | None:
    """A time already past today, before opening, in the break, or after the last order."""
    if dt.datetime.combine(date, time) <= now.replace(tzinfo=None):
        return Problem(
            "past_time", "time", f"{_topic(speak_time(time))} 이미 지났어요. 다른 시간으로 말씀해 주세요."
        )
    if store is None:
        return None
    hours = opening_hours(store, date)
    last = last_order(store, date)
    days = "주말" if is_weekend(date) else "평일"
    if hours and time < hours[0]:
        until = f"부터 {speak_time(last)}" if last else ""
        return Problem(
            "before_open",
            "time",
            f"{_topic(store.name)} {days}에는 {speak_time(hours[0])}에 문을 열어요. "
            f"{speak_time(hours[0])}{until} 사이로 말씀해 주세요.",
        )
    if last and time > last:
        return Problem(
            "after_last_order",
            "time",
            f"{_topic(store.name)} 마지막 주문이 {_reason(speak_time(last))}서 {speak_time(last)}까지 "
            "예약하실 수 있어요. 그 전 시간으로 말씀해 주세요.",
        )
    for start, end in break_times(store, date):
        if start <= time < end:
            return Problem(
                "break",
                "time",
                f"{_topic(store.name)} {days} {speak_time(start)}부터 {speak_time(end)}까지 브레이크 타임이에요. "
                f"{speak_time(start)} 전이나 {speak_time(end)} 이후로 말씀해 주세요.",
            )
    return None


def check_party(store: Store | None, party: int, stores: Sequence[Store] = ()) -> Problem | None:
    """A party larger than the store seats; names stores that can seat it."""
    if store is None or store.max_party is None or party <= store.max_party:
        return None
    bigger = [s.name for s in stores if s.max_party is not None and s.max_party >= party][:2]
    offer = (
        f" {'이나 '.join(bigger)}처럼 더 넓은 매장으로 하실 수도 있어요."
        if bigger
        else " 더 많은 인원은 상담원 연결이라고 말씀해 주시면 도와드릴게요."
    )
    return Problem(
        "too_many",
        "party_size",
        f"{_topic(store.name)} 한 번에 {store.max_party}명까지 예약하실 수 있어요. "
        f"{store.max_party}명 이하로 말씀해 주세요.{offer}",
    )


def next_open_day(store: Store, date: dt.date, horizon: int = 14) -> dt.date | None:
    for i in range(1, horizon + 1):
        candidate = date + dt.timedelta(days=i)
        if closed_reason(store, candidate) is None:
            return candidate
    return None


def _ranges(text: str) -> list[tuple[dt.time, dt.time]]:
    out = []
    for m in _RANGE_RE.finditer(text):
        start, end = _time(m[1], m[2]), _time(m[3], m[4])
        if start is not None and end is not None:
            out.append((start, end))
    return out


def _time(hour: str, minute: str) -> dt.time | None:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return dt.time(23, 59)
    return dt.time(h, m) if h < 24 and m < 60 else None


def _final_consonant(word: str) -> bool:
    code = ord(word[-1]) - 0xAC00 if word else -1
    return 0 <= code < 11172 and code % 28 != 0


def _topic(word: str) -> str:
    return word + ("은" if _final_consonant(word) else "는")


def _reason(word: str) -> str:
    """ "설날" -> "설날이라", "저녁 9시" -> "저녁 9시라" (the copula before -서/-, as in 이라서)."""
    return word + ("이라" if _final_consonant(word) else "라")
