"""Pure parsing of spoken/typed Korean reservation details: dates, times, party sizes, phones, names.

Everything is relative to a given `now` (the caller's local time, Asia/Seoul) and returns a typed
value or `None`; unparseable text never raises. Korean number words (native 하나/둘/열두/스무 and
Sino 일/이/십이/삼십) are converted by the small converter in this module.

Hour convention for a restaurant: an hour of 1-10 without 오전/아침/새벽 means the afternoon or
evening ("7시" -> 19:00, "오늘 3시" -> 15:00), because nobody books dinner at 7 in the morning.
11 and 12 stay as they are (11:00, 12:00); 13-24 are already 24-hour times.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Numbers

_NATIVE_UNITS = {
    "하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "석": 3, "서": 3,
    "넷": 4, "네": 4, "너": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9,
}  # fmt: skip
_NATIVE_TENS = {"열": 10, "스물": 20, "스무": 20, "서른": 30, "마흔": 40, "쉰": 50}
_SINO_DIGITS = {
    "공": 0, "영": 0, "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5,
    "육": 6, "륙": 6, "칠": 7, "팔": 8, "구": 9,
}  # fmt: skip
_SINO_UNITS = {"십": 10, "백": 100}

# Longest alternatives first so "일곱" wins over the Sino "일" and "스물" over "스무".
_NATIVE_UNIT_RE = "|".join(sorted(_NATIVE_UNITS, key=len, reverse=True))
_NATIVE_TEN_RE = "|".join(sorted(_NATIVE_TENS, key=len, reverse=True))
_NATIVE_RE = rf"(?:(?:{_NATIVE_TEN_RE})\s?(?:{_NATIVE_UNIT_RE})|{_NATIVE_TEN_RE}|{_NATIVE_UNIT_RE})"
_SINO_RE = r"(?:[일이삼사오육륙칠팔구]?[백십])*[일이삼사오육륙칠팔구공영]?"
# A number: digits, or a Korean number word that does not continue a previous Hangul word.
NUM = rf"(?:\d{{1,4}}|(?<![가-힣]){_NATIVE_RE}|(?<![가-힣])(?=[일이삼사오육륙칠팔구십백공영]){_SINO_RE})"


def korean_int(word: str) -> int | None:
    """An int from digits ("12"), native ("열두", "스무") or Sino ("십이", "이십사") words; else None."""
    w = re.sub(r"\s+", "", word or "")
    if not w:
        return None
    if w.isdigit():
        return int(w)
    for tens_word, tens in sorted(_NATIVE_TENS.items(), key=lambda kv: -len(kv[0])):
        if w.startswith(tens_word):
            rest = w[len(tens_word) :]
            if not rest:
                return tens
            return tens + _NATIVE_UNITS[rest] if rest in _NATIVE_UNITS else None
    if w in _NATIVE_UNITS:
        return _NATIVE_UNITS[w]
    return _sino_int(w)


def _sino_int(w: str) -> int | None:
    total, digit = 0, None
    for ch in w:
        if ch in _SINO_DIGITS:
            if digit is not None:
                return None  # two digits in a row is a digit string, not a number word
            digit = _SINO_DIGITS[ch]
        elif ch in _SINO_UNITS:
            total += (1 if digit is None else digit) * _SINO_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def spoken_digits(text: str) -> str:
    """Digits of a digit-by-digit reading ("공일공 일이삼사" -> "0101234"); other characters dropped."""
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(ch)
        elif ch in _SINO_DIGITS:
            out.append(str(_SINO_DIGITS[ch]))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Dates and times

_WEEKDAYS = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}
_RELATIVE_DAYS = (("내일모레", 2), ("내일 모레", 2), ("낼모레", 2), ("오늘", 0), ("금일", 0), ("내일", 1),
                  ("명일", 1), ("모레", 2), ("글피", 3), ("그저께", -2), ("엊그제", -2), ("그제", -2),
                  ("어제", -1))  # fmt: skip
# "낼" (내일) as a word of its own, not the verb stem in 보낼게요 / 낼게요.
_TOMORROW_SHORT_RE = re.compile(r"(?<![가-힣])낼(?![게께])")
_AM_WORDS = ("오전", "아침", "새벽")
_PM_WORDS = ("오후", "저녁", "밤")
_PERIODS = {"아침": "morning", "점심": "lunch", "낮": "afternoon", "오후": "afternoon", "저녁": "dinner",
            "밤": "dinner"}  # fmt: skip

# Fixed-date days people book by name; the next one to come.
_NAMED_DAYS = (("크리스마스 이브", (12, 24)), ("크리스마스이브", (12, 24)), ("크리스마스", (12, 25)),
               ("성탄절", (12, 25)), ("화이트데이", (3, 14)), ("발렌타인데이", (2, 14)), ("밸런타인데이", (2, 14)))  # fmt: skip
_WEEKEND_RE = re.compile(r"(이번|다음)?\s*주말")
_WEEKDAY_RE = re.compile(r"(?:(이번|다음|다다음|담|다담)\s*주\s*)?([월화수목금토일])(?:요일|욜)")
_WEEK_WORDS = {"담": "다음", "다담": "다다음"}  # spoken short forms: 담주 토욜 = 다음 주 토요일
_MONTH_DAY_RE = re.compile(rf"(?:({NUM})\s*월\s*)({NUM})\s*일(?!요)")
_DAY_RE = re.compile(rf"(?:(이번|다음)\s*달\s*)?({NUM})\s*일(?!요)")
_CLOCK_RE = re.compile(r"(?<!\d)([01]?\d|2[0-4])\s*:\s*([0-5]\d)(?!\d)")
_HOUR_RE = re.compile(rf"({NUM})\s*시(?!간|작|켜|키)(?:\s*({NUM})\s*분|\s*(반))?")


@dataclass(frozen=True)
class When:
    """What a phrase said about the reservation moment; any part may be missing.

    `period` is the meal or part of day ("lunch", "dinner", ...) even when no hour was given,
    so "모레 점심" yields a date and `period="lunch"` but no time.
    """

    date: dt.date | None = None
    time: dt.time | None = None
    period: str | None = None


def parse_when(text: str, now: dt.datetime) -> When | None:
    """Date, time and part of day in `text` relative to `now`; None when none of them is there."""
    if not isinstance(text, str):
        return None
    date = parse_date(text, now)
    time = parse_time(text)
    period = next((p for word, p in _PERIODS.items() if word in text), None)
    if date is None and time is None and period is None:
        return None
    return When(date=date, time=time, period=period)


def parse_date(text: str, now: dt.datetime) -> dt.date | None:
    """A calendar date: 오늘/내일(낼)/모레, 어제, (이번|다음|담) 주 X요일(X욜), 주말, 크리스마스, M월 D일,
    (다음 달) D일. Past days (어제, a month-day of the last two months) are returned as they are, so
    the caller can be told that the day has passed."""
    if not isinstance(text, str):
        return None
    today = now.date()
    for word, offset in _RELATIVE_DAYS:
        if word in text:
            return today + dt.timedelta(days=offset)
    if _TOMORROW_SHORT_RE.search(text):
        return today + dt.timedelta(days=1)
    if m := _WEEKDAY_RE.search(text):
        which = _WEEK_WORDS.get(m.group(1) or "", m.group(1))
        return _weekday_date(today, which, _WEEKDAYS[m.group(2)])
    for word, (month, day) in _NAMED_DAYS:
        if word in text:
            return _month_day(today, month, day)
    if m := _WEEKEND_RE.search(text):
        return _weekday_date(today, m.group(1), 5)  # a weekend is booked from its Saturday
    if m := _MONTH_DAY_RE.search(text):
        return _month_day(today, korean_int(m.group(1)), korean_int(m.group(2)))
    if m := _DAY_RE.search(text):
        return _day_of_month(today, m.group(1), korean_int(m.group(2)))
    return None


def _weekday_date(today: dt.date, which: str | None, weekday: int) -> dt.date:
    monday = today - dt.timedelta(days=today.weekday())
    if which == "이번":
        return monday + dt.timedelta(days=weekday)
    if which in ("다음", "다다음"):
        weeks = 1 if which == "다음" else 2
        return monday + dt.timedelta(weeks=weeks, days=weekday)
    # A bare weekday is the next one to come, today included.
    return today + dt.timedelta(days=(weekday - today.weekday()) % 7)


RECENT_PAST_DAYS = 62  # "11월 30일" said on 2 December is that past day, not next year's


def _month_day(today: dt.date, month: int | None, day: int | None) -> dt.date | None:
    if month is None or day is None:
        return None
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= today or (year == today.year and (today - candidate).days <= RECENT_PAST_DAYS):
            return candidate
    return None


def _day_of_month(today: dt.date, which: str | None, day: int | None) -> dt.date | None:
    if day is None or not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    if which == "다음":
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for _ in range(3):  # a day that already passed (or does not exist) this month: the next month
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and (which is not None or candidate >= today):
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def parse_time(text: str) -> dt.time | None:
    """A clock time: "7시 반", "일곱 시 삼십 분", "19시", "18:30", "정오"; 1-10 o'clock means PM."""
    if not isinstance(text, str):
        return None
    if "정오" in text:
        return dt.time(12, 0)
    if "자정" in text:
        return dt.time(0, 0)
    if m := _CLOCK_RE.search(text):
        hour, minute = int(m.group(1)), int(m.group(2))
        return _clock(_adjust_hour(hour, text[: m.start()]), minute)
    if m := _HOUR_RE.search(text):
        hour = korean_int(m.group(1))
        minute = 30 if m.group(3) else (korean_int(m.group(2)) if m.group(2) else 0)
        if hour is None or minute is None:
            return None
        return _clock(_adjust_hour(hour, text[: m.start()]), minute)
    return None


def _adjust_hour(hour: int, before: str) -> int:
    if hour > 12:
        return hour
    if any(w in before for w in _AM_WORDS):
        return 0 if hour == 12 else hour
    if any(w in before for w in _PM_WORDS):
        return hour if hour == 12 else hour + 12
    return hour + 12 if 1 <= hour <= 10 else hour


def _clock(hour: int, minute: int) -> dt.time | None:
    if hour == 24 and minute == 0:
        return dt.time(0, 0)
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return dt.time(hour, minute)
    return None


# ---------------------------------------------------------------------------------------------
# Party size

MAX_PARTY = 100
_TIME_PART_RE = re.compile(rf"{NUM}\s*시(?:\s*{NUM}\s*분|\s*반)?|\d{{1,2}}\s*:\s*\d{{2}}")
_COUNT_RE = re.compile(rf"({NUM})\s*(?:명|분|인|사람)")
_GROUP_RE = re.compile(
    rf"(?:성인|어른|대인|아이|애기|아기|애들|애|어린이|유아|소인|학생)(?:은|는|이|가)?\s*({NUM})(?:\s*(?:명|분))?"
)
_ENDINGS_RE = re.compile(r"\s*(?:이서요|이서|이요|요|입니다|이에요|예요|이고요|이랑)?\s*[.?!~]*\s*$")
_ALONE_RE = re.compile(r"혼자|한\s*사람")
_WORD_ENDINGS_RE = re.compile(r"(?:이고요|이고|이서요|이서|이요|이에요|이랑|이)$")
_STANDALONE_NATIVE = {w for w in _NATIVE_UNITS if w not in ("한", "두", "세", "석", "서", "네", "너")}


def parse_count(text: str) -> int | None:
    """Number of people: "다섯 명", "4인", "두 분", "어른 둘 애 하나" (3), "혼자요" (1), a bare "4" or "다섯이요"."""
    if not isinstance(text, str):
        return None
    rest = _TIME_PART_RE.sub(" ", text)
    groups = [korean_int(g) for g in _GROUP_RE.findall(rest)]
    if groups and all(n is not None for n in groups):
        return _valid_count(sum(groups))  # type: ignore[arg-type]
    counts = [korean_int(c) for c in _COUNT_RE.findall(rest)]
    if counts:
        return _valid_count(counts[-1])  # the last one wins: "다섯 명, 아니 여섯 명"
    bare = _ENDINGS_RE.sub("", text.strip())
    if bare.isdigit() or bare in _STANDALONE_NATIVE or _is_native_standalone(bare):
        return _valid_count(korean_int(bare))
    if _ALONE_RE.search(rest):
        return 1
    # "명동점 금요일 저녁 7시 셋", "판교 토요일 7시 셋 예약", "7시 넷이고 이름은 ...": a native count word
    # standing as a word of its own (its counter-less forms: 셋, not 세), the last one said
    words = [_WORD_ENDINGS_RE.sub("", w) for w in _ENDINGS_RE.sub("", rest.strip()).split()]
    natives = [
        w
        for w, after in zip(words, [*words[1:], ""], strict=False)
        if (w in _STANDALONE_NATIVE - {"하나"} or _is_native_standalone(w)) and after != "다"  # 둘 다: both
    ]
    if len(words) > 1 and natives:
        return _valid_count(korean_int(natives[-1]))
    return None


def _is_native_standalone(word: str) -> bool:
    for tens_word in _NATIVE_TENS:
        if word == tens_word and tens_word != "스무":
            return True
        if word.startswith(tens_word) and word[len(tens_word) :] in _STANDALONE_NATIVE:
            return True
    return False


def _valid_count(n: int | None) -> int | None:
    return n if n is not None and 1 <= n <= MAX_PARTY else None


# ---------------------------------------------------------------------------------------------
# Phone numbers and names

_PHONE_RUN_RE = re.compile(r"[0-9공영일이삼사오육륙칠팔구][0-9공영일이삼사오육륙칠팔구\s\-.]*")
_PHONE_OK_RE = re.compile(r"^0\d{8,10}$")
_COPULA_RE = re.compile(r"(?:(이)?(?:요|에요)|예요|입니다)\s*[.?!]*\s*$")


_GROUP_JOINER_RE = re.compile(r"(?<=[0-9공영일이삼사오육륙칠팔구])에(?=\s|$)")


def parse_phone(text: str) -> str | None:
    """A Korean phone number as digits ("010-1234-5678", "공일공 일이삼사 오육칠팔" -> "01012345678").

    "...일이일이요" may end in the digit 2 + 요 or in the copula 이요: the reading that gives a whole
    mobile number (010 and 8 digits) wins."""
    if not isinstance(text, str):
        return None
    found = [d for body in _copula_readings(text.strip()) if (d := _phone_digits(body))]
    mobile = [d for d in found if len(d) == 11 and d.startswith("01")]
    return (mobile or found or [None])[0]


def _phone_digits(body: str) -> str | None:
    body = _GROUP_JOINER_RE.sub(" ", body)  # "공일공에 팔팔팔팔에 구구구구": 에 only joins the groups
    for run in _PHONE_RUN_RE.findall(body):
        if typed := re.search(r"^.*\d", run):
            run = typed.group(0)  # "010-2345-6789이고": the 이 after typed digits is a particle
        digits = spoken_digits(run)
        if _PHONE_OK_RE.match(digits):
            return digits
    return None


def _copula_readings(text: str) -> list[str]:
    """The text without its polite ending, both ways when a 이 before it may be a digit."""
    m = _COPULA_RE.search(text)
    if m is None:
        return [text]
    if m.group(1):
        return [text[: m.start()], text[: m.start() + 1]]
    return [text[: m.start()]]


_NAME_PREFIX_RE = re.compile(
    r"^(?:(?:제|저의|예약자|예약자분)\s*)?(?:(?:이름은|이름이|성함은|명의는|저는|예약자는)\s*|전\s+)"
)  # "전 김철수예요" (= 저는), but "전지현" is a name
_NAME_SUFFIX_RE = re.compile(
    r"\s*(?:이라고\s*합니다|라고\s*합니다|이라고\s*해요|라고\s*해요|입니다|이에요|예요|이고요|요)?\s*[.?!~]*\s*$"
)
_NAME_RE = re.compile(r"^[가-힣]{2,5}$")


def parse_name(text: str, *, surname: bool = True) -> str | None:
    """A person's name from "김철수요", "이름은 박민지입니다", "김 철수"; None for anything else.

    With `surname=False` a two- or three-syllable given name ("철수요") is accepted too: callers
    answer "성함이요?" that way, and the caller of this parser checks the word is a name.
    """
    if not isinstance(text, str):
        return None
    body = name_body(text)
    if not _NAME_RE.match(body) or body in _NOT_NAMES:
        return None
    if _has_surname(body) or (not surname and len(body) <= 3):
        return body
    return None


def name_body(text: str) -> str:
    """What is left of an answer to "성함이요?" without its frame: "제 이름은 김철수예요" -> "김철수"."""
    body = _NAME_SUFFIX_RE.sub("", _NAME_PREFIX_RE.sub("", text.strip()))
    body = re.sub(r"\s+", "", body)
    # "최지훈이요": after a final consonant the 이 is the copula, not part of the name.
    if len(body) >= 3 and body.endswith("이") and _has_final_consonant(body[-2]):
        body = body[:-1]
    return body


# Common Korean surnames (about 99% of the population); two-syllable ones first.
_SURNAMES_2 = ("남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방")
_SURNAMES_1 = set(
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현함"
    "변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌"
    "라란진계"
)


def _has_surname(body: str) -> bool:
    """Names start with a surname: keeps "끊을게요" or "수고하세요" from passing as a name."""
    return body.startswith(_SURNAMES_2) or (body[0] in _SURNAMES_1 and len(body) <= 4)


# A lookahead, so that overlapping introductions are all tried: "예약자 이름은 정해인입니다".
_NAME_IN_SENTENCE_RE = re.compile(
    r"(?=(?:이름은|이름이|성함은|예약자명은?|예약자는?|명의는)\s*([가-힣]{2,4}?)(?:이고|이구요|입니다|이에요|예요|이요|으로|로|요|고(?=[,\s]|$)|[,.\s]|$))"
)


def find_name(text: str) -> str | None:
    """A name introduced inside a longer sentence: "... 이름은 김지훈입니다", "예약자 박민호, 010..."."""
    if not isinstance(text, str):
        return None
    for m in _NAME_IN_SENTENCE_RE.finditer(text):
        if name := parse_name(m.group(1)):
            return name
    return None


# Answers that look like a short Hangul word but are not a name.
_NOT_NAMES = {
    "아니요",
    "아니오",
    "아니",
    "네네",
    "그래요",
    "맞아요",
    "몰라요",
    "글쎄요",
    "모르겠어요",
    "잠시만",
}


def _has_final_consonant(syllable: str) -> bool:
    code = ord(syllable) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


# ---------------------------------------------------------------------------------------------
# Values keyed on the phone's keypad


def keyed_date(digits: str, now: dt.datetime) -> dt.date | None:
    """A date keyed as MMDD or MDD ("1224"; "105" or "0105" next January): the next such day, or a
    recent past one."""
    if not isinstance(digits, str) or not re.fullmatch(r"\d{3,4}", digits.strip()):
        return None
    digits = digits.strip()
    month, day = int(digits[:-2]), int(digits[-2:])
    return _month_day(now.date(), month, day) if 1 <= month <= 12 else None


def keyed_time(digits: str) -> dt.time | None:
    """A time keyed as HHMM on a 24-hour clock ("1930" = 19:30, "730" = 07:30)."""
    if not isinstance(digits, str) or not re.fullmatch(r"\d{3,4}", digits.strip()):
        return None
    digits = digits.strip()
    return _clock(int(digits[:-2]), int(digits[-2:]))


# ---------------------------------------------------------------------------------------------
# Speaking values back to the caller

_WEEKDAY_NAMES = "월화수목금토일"


def speak_time(time: dt.time) -> str:
    """A clock time as said on the phone: 19:00 -> "저녁 7시", 12:30 -> "낮 12시 반"."""
    hour, minute = time.hour, time.minute
    if hour == 0:
        part, h = "밤", 12
    elif hour < 12:
        part, h = "오전", hour
    elif hour == 12:
        part, h = "낮", 12
    elif hour < 18:
        part, h = "오후", hour - 12
    else:
        part, h = "저녁", hour - 12
    tail = "" if minute == 0 else (" 반" if minute == 30 else f" {minute}분")
    return f"{part} {h}시{tail}"


def speak_date(date: dt.date, today: dt.date | None = None) -> str:
    """A date as said on the phone: "12월 24일 목요일", or "내일, 11월 28일 토요일" near `today`."""
    text = f"{date.month}월 {date.day}일 {_WEEKDAY_NAMES[date.weekday()]}요일"
    if today is not None:
        near = {0: "오늘", 1: "내일", 2: "모레"}.get((date - today).days)
        if near:
            return f"{near}, {text}"
    return text


def speak_phone(digits: str) -> str:
    """ "01012345678" -> "010-1234-5678" (grouped so text-to-speech reads digit groups)."""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10:
        head = 2 if digits.startswith("02") else 3
        return f"{digits[:head]}-{digits[head:-4]}-{digits[-4:]}"
    if len(digits) == 9 and digits.startswith("02"):
        return f"02-{digits[2:5]}-{digits[5:]}"
    return digits
