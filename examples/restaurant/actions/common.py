"""Helpers shared by the restaurant sample's actions: the clock, slot values, spoken summaries."""

from __future__ import annotations

import datetime as dt
import re
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


# -- what the caller's words mean besides slot values ------------------------------------------------

_LEAVE_RE = re.compile(
    r"됐어|됐고|됐습니다|그만|안\s*할래|안\s*할게|안\s*해도|안\s*하려고|필요\s*없|관둘|관두"
)
_RESTART_RE = re.compile(r"처음부터|다시\s*처음|처음으로|새로\s*할")
_FAREWELL_RE = re.compile(r"끊|안녕|수고|들어가세요|이만")
_REPEAT_RE = re.compile(r"다시|뭐라고|한\s*번\s*더|못\s*들|못\s*알아|안\s*들려|잘\s*안\s*들")
_YES_RE = re.compile(
    # "네네 맞습니다", "예 예 그렇게 해 주세요", "넵넵": a yes may come said twice or three times
    r"^(?:아\s*)?(?:(?:네|예|넵|응)\s*){0,3}"
    r"(?:네|예|응|어|넵|맞아|맞습니다|맞아요|좋아|좋아요|그래|그래요|그렇게|오케이|ㅇㅇ)(?![가-힣])"
)
_NO_RE = re.compile(r"^(?:아\s*)?(?:아니|아뇨|노|틀렸|틀려)")
_KEEP_RE = re.compile(r"그대로|그냥\s*둘|유지|놔\s*둘|놔둘|취소\s*안|안\s*바꿀|안\s*할")
# A content question ("몇 시까지 해?", "주차는 어떻게 돼?") asks; it does not answer the form's question.
_QUESTION_RE = re.compile(
    r"몇|어디|언제|얼마|뭐|무슨|무엇|어떻게|어때|어떤|있어\?|있나요|되나요|돼요\?|돼\?|되죠|하나요"
)

REJECTION_INTENTS = frozenset({"common_out_of_scope"})


def says_leave(text: str) -> bool:
    return bool(_LEAVE_RE.search(text))


def says_restart(text: str) -> bool:
    return bool(_RESTART_RE.search(text))


def says_farewell(text: str) -> bool:
    return bool(_FAREWELL_RE.search(text))


def says_repeat(text: str) -> bool:
    return bool(_REPEAT_RE.search(text))


def says_yes(text: str) -> bool:
    return bool(_YES_RE.search(text.strip()))


def says_no(text: str) -> bool:
    return bool(_NO_RE.search(text.strip()))


def says_keep(text: str) -> bool:
    return bool(_KEEP_RE.search(text))


def asks_question(text: str) -> bool:
    return bool(_QUESTION_RE.search(text))


def latest_intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def with_object(word: str) -> str:
    """ "날짜" -> "날짜를", "성함" -> "성함을"."""
    code = ord(word[-1]) - 0xAC00 if word else -1
    return word + ("을" if 0 <= code < 11172 and code % 28 else "를")
