"""Helpers shared by the restaurant sample's actions: the clock, slot values, spoken summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker

from bot.ko_datetime import speak_date, speak_time

SEOUL = ZoneInfo("Asia/Seoul")
Clock = Callable[[], dt.datetime]

# Phone reservations above this size are groups: the store arranges them (reservation_group intent).
MAX_PHONE_PARTY = 20


def seoul_now() -> dt.datetime:
    return dt.datetime.now(SEOUL)


def user_text(tracker: Tracker) -> str:
    """The caller's latest words; empty for keyed `/intent{...}` messages (their values are entities)."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text


def as_date(value: Any) -> dt.date | None:
    """A slot value that is already a normalized ISO date ("2026-12-24"), else None."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def as_time(value: Any) -> dt.time | None:
    """A slot value that is already a normalized "HH:MM" time, else None."""
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            return None
    return None


def as_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and float(value).is_integer():
        return int(value)
    return None


def iso_time(time: dt.time) -> str:
    return time.strftime("%H:%M")


def describe(date: dt.date, time: dt.time, party_size: int, today: dt.date | None = None) -> str:
    """ "내일, 11월 28일 토요일 저녁 7시에 4명" """
    return f"{speak_date(date, today)} {speak_time(time)}에 {party_size}명"


def question_intent(tracker: Tracker, loop: str, prefix: str) -> str | None:
    """The `prefix*` intent of the question that started the latest run of form `loop`.

    The caller's answer to the form's question ("강남이요") gets an intent of its own, so the question
    is the user turn just before the form was activated; without an activation, the latest such turn.
    """
    events = tracker.events
    start = next(
        (i for i in range(len(events) - 1, -1, -1)
         if events[i].get("event") == "active_loop" and events[i].get("name") == loop),
        len(events),
    )  # fmt: skip
    for event in reversed(events[:start]):
        if event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            if name.startswith(prefix):
                return name
    return None
