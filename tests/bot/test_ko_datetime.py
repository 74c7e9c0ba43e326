"""Korean date/time/count/phone/name parsing for reservations, relative to a fixed `now`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.ko_datetime import (
    When,
    find_name,
    korean_int,
    parse_count,
    parse_date,
    parse_name,
    parse_phone,
    parse_time,
    parse_when,
    speak_date,
    speak_phone,
    speak_time,
    spoken_digits,
)

SEOUL = ZoneInfo("Asia/Seoul")
# Friday 27 November 2026, 10:00 in Seoul.
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=SEOUL)
D = dt.date
T = dt.time


@pytest.mark.parametrize(
    ("text", "date", "time"),
    [
        ("내일 저녁 일곱 시", D(2026, 11, 28), T(19, 0)),
        ("이번 주 토요일 12시 반", D(2026, 11, 28), T(12, 30)),
        ("이번주 토요일 12시 반", D(2026, 11, 28), T(12, 30)),
        ("다음 주 금요일 오후 6시", D(2026, 12, 4), T(18, 0)),
        ("다음주 월요일 저녁 여섯 시", D(2026, 11, 30), T(18, 0)),
        ("다다음 주 수요일 7시", D(2026, 12, 9), T(19, 0)),
        ("12월 24일 저녁 7시", D(2026, 12, 24), T(19, 0)),
        ("십이월 이십사일 일곱 시", D(2026, 12, 24), T(19, 0)),
        ("1월 3일 점심 12시", D(2027, 1, 3), T(12, 0)),
        ("오늘 7시", D(2026, 11, 27), T(19, 0)),
        ("오늘 저녁 8시 반에 가능할까요", D(2026, 11, 27), T(20, 30)),
        ("내일모레 여섯 시 반", D(2026, 11, 29), T(18, 30)),
        ("내일 모레 6시", D(2026, 11, 29), T(18, 0)),
        ("글피 저녁 7시", D(2026, 11, 30), T(19, 0)),
        ("일요일 점심 열두 시", D(2026, 11, 29), T(12, 0)),
        ("금요일 7시", D(2026, 11, 27), T(19, 0)),
        ("다음 달 3일 정오", D(2026, 12, 3), T(12, 0)),
        ("이번 달 30일 오후 1시", D(2026, 11, 30), T(13, 0)),
        ("3일 오후 2시 반", D(2026, 12, 3), T(14, 30)),
        ("28일 저녁 7시 30분", D(2026, 11, 28), T(19, 30)),
        ("내일 18:30", D(2026, 11, 28), T(18, 30)),
        ("내일 오전 11시", D(2026, 11, 28), T(11, 0)),
    ],
)
def test_date_and_time_from_one_phrase(text: str, date: dt.date, time: dt.time) -> None:
    when = parse_when(text, NOW)
    assert when is not None
    assert (when.date, when.time) == (date, time)


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("7시요", T(19, 0)),
        ("일곱시 삼십분", T(19, 30)),
        ("일곱 시 삼십 분이요", T(19, 30)),
        ("19시", T(19, 0)),
        ("저녁 6시 반", T(18, 30)),
        ("정오", T(12, 0)),
        ("정오에 갈게요", T(12, 0)),
        ("12시", T(12, 0)),
        ("열두 시 반", T(12, 30)),
        ("11시", T(11, 0)),
        ("오전 10시", T(10, 0)),
        ("아침 9시", T(9, 0)),
        ("오후 12시", T(12, 0)),
        ("10시", T(22, 0)),
        ("세 시", T(15, 0)),
        ("다섯시 십오분", T(17, 15)),
        ("여섯 시 사십오 분", T(18, 45)),
        ("6시 5분", T(18, 5)),
        ("20시 30분", T(20, 30)),
        ("7:45", T(19, 45)),
        ("저녁 7:45", T(19, 45)),
        ("한 시", T(13, 0)),
        ("두시 반", T(14, 30)),
    ],
)
def test_time(text: str, time: dt.time) -> None:
    assert parse_time(text) == time


@pytest.mark.parametrize(
    "text",
    ["이 시간에 가능해요?", "시작할게요", "몇 시까지 해요", "", "네", "아니요", "25시", "7시 75분"],
)
def test_no_time(text: str) -> None:
    assert parse_time(text) is None


def test_meal_without_hour_gives_date_and_period_but_no_time() -> None:
    assert parse_when("모레 점심", NOW) == When(date=D(2026, 11, 29), time=None, period="lunch")
    assert parse_when("내일 저녁에요", NOW) == When(date=D(2026, 11, 28), time=None, period="dinner")


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("오늘", D(2026, 11, 27)),
        ("내일이요", D(2026, 11, 28)),
        ("모레", D(2026, 11, 29)),
        ("토요일", D(2026, 11, 28)),
        ("목요일", D(2026, 12, 3)),
        ("이번 주 수요일", D(2026, 11, 25)),
        ("다음 주 일요일", D(2026, 12, 6)),
        ("11월 30일", D(2026, 11, 30)),
        ("11월 1일", D(2026, 11, 1)),  # a recent past day stays past: the caller is told it has passed
        ("9월 1일", D(2027, 9, 1)),  # a month-day long gone is next year's
        ("2월 30일", None),
        ("12일", D(2026, 12, 12)),
        ("삼십일일", D(2026, 12, 31)),
        ("그냥 아무 때나", None),
        ("일요일이요", D(2026, 11, 29)),
        ("크리스마스 이브 저녁 예약", D(2026, 12, 24)),
        ("크리스마스에", D(2026, 12, 25)),
        ("이번 주말에 예약 돼요?", D(2026, 11, 28)),
        ("다음 주말", D(2026, 12, 5)),
        ("낼", D(2026, 11, 28)),
        ("낼 저녁에 4명 자리 있어?", D(2026, 11, 28)),
        ("낼모레", D(2026, 11, 29)),
        ("담주 토욜", D(2026, 12, 5)),
        ("다음주 금욜", D(2026, 12, 4)),
        ("토욜이요", D(2026, 11, 28)),
        ("어제", D(2026, 11, 26)),
        ("그저께 예약했는데", D(2026, 11, 25)),
        ("문자 보낼게요", None),
    ],
)
def test_date(text: str, date: dt.date | None) -> None:
    assert parse_date(text, NOW) == date


def test_nothing_about_time_is_none() -> None:
    assert parse_when("김철수요", NOW) is None
    assert parse_when(None, NOW) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("다섯 명", 5),
        ("5명", 5),
        ("열 명", 10),
        ("두 명이요", 2),
        ("성인 둘 아이 하나", 3),
        ("어른 두 명 아이 한 명", 3),
        ("4인", 4),
        ("네 명", 4),
        ("스무 명", 20),
        ("스물두 명", 22),
        ("열두 명", 12),
        ("4", 4),
        ("다섯이요", 5),
        ("둘이요", 2),
        ("열하나", 11),
        ("세 분이요", 3),
        ("한 명", 1),
        ("혼자요 한 사람", 1),
        ("내일 7시 30분 네 명", 4),
        ("다섯 명 아니 여섯 명", 6),
        ("12명 예약할게요", 12),
        ("어른 둘 애 하나", 3),
        ("성인 두 명이랑 아이 두 명이요", 4),
        ("혼자요", 1),
        ("둘이서요", 2),
        ("저 포함해서 네 명이요", 4),
        # a native count word standing alone in the middle of a sentence
        ("판교 토요일 저녁 7시 셋 예약", 3),
        ("잠실 금요일 7시 넷이고 이름은 김강우", 4),
        ("토요일 저녁 6시 반 셋 강남점", 3),
    ],
)
def test_count(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize(
    "text", ["네", "아니요", "몇 명이요?", "0명", "500명", "", "7시", "둘 다 좋아요", "하나 더 물어볼게요"]
)
def test_no_count(text: str) -> None:
    assert parse_count(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "010-1234-5678",
        "공일공 일이삼사 오육칠팔",
        "010 1234 5678",
        "01012345678",
        "제 번호는 공일공 일이삼사 오육칠팔이에요",
        "영일영 일이삼사 오육칠팔이요",
        "010.1234.5678 입니다",
        "제 번호는 010-1234-5678이고 이름은 김지훈입니다",
        "공일공에 일이삼사에 오육칠팔",
        "공일공 일이삼사 오육칠팔이에요",
    ],
)
def test_phone(text: str) -> None:
    assert parse_phone(text) == "01012345678"


@pytest.mark.parametrize("text", ["일이삼", "내일 7시", "12345", "번호 모르겠어요", ""])
def test_no_phone(text: str) -> None:
    assert parse_phone(text) is None


@pytest.mark.parametrize(
    ("text", "digits"),
    [("공일공 칠칠칠칠 이이이이요", "01077772222"), ("공일공 삼사삼사 일이일이입니다", "01034341212"),
     ("공일공 팔팔팔팔 일일일일이요", "01088881111"), ("공일공 구팔칠육 오사삼이입니다", "01098765432"),
     ("공일공 일이일이 일이일이요", "01012121212")],  # 일이요: the digit 2 + 요, as 11 digits tell
)  # fmt: skip
def test_the_digit_two_before_a_polite_ending_is_kept(text: str, digits: str) -> None:
    assert parse_phone(text) == digits


def test_landline_phone() -> None:
    assert parse_phone("02-123-4567") == "021234567"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("김철수요", "김철수"),
        ("이름은 박민지입니다", "박민지"),
        ("제 이름은 이영희예요", "이영희"),
        ("박민지라고 합니다", "박민지"),
        ("김 철수", "김철수"),
        ("예약자는 최지훈이요", "최지훈"),
        ("남궁민수", "남궁민수"),
    ],
)
def test_name(text: str, name: str) -> None:
    assert parse_name(text) == name


@pytest.mark.parametrize(
    ("text", "name"), [("철수요", "철수"), ("지민이에요", "지민"), ("김철수입니다", "김철수")]
)
def test_given_name_when_no_surname_is_required(text: str, name: str) -> None:
    assert parse_name(text, surname=False) == name
    assert parse_name("철수요") is None  # by default a name starts with a surname


def test_keyed_date_and_time() -> None:
    from bot.ko_datetime import keyed_date, keyed_time

    assert keyed_date("1224", NOW) == D(2026, 12, 24)
    assert keyed_date("0105", NOW) == D(2027, 1, 5)
    assert keyed_date("105", NOW) == D(2027, 1, 5)
    assert keyed_date("1345", NOW) is None and keyed_date("12", NOW) is None
    assert keyed_time("1930") == T(19, 30) and keyed_time("730") == T(7, 30)
    assert keyed_time("2560") is None and keyed_time("19") is None


@pytest.mark.parametrize(
    "text", ["아니요", "내일 7시요", "010-1234-5678", "", "그 이름은 말하기 좀 곤란한데요"]
)
def test_no_name(text: str) -> None:
    assert parse_name(text) is None


@pytest.mark.parametrize(
    ("word", "value"),
    [("열두", 12), ("스무", 20), ("스물다섯", 25), ("십이", 12), ("이십사", 24), ("삼십", 30), ("백", 100),
     ("일곱", 7), ("42", 42), ("뭐", None), ("일이", None)],
)  # fmt: skip
def test_korean_int(word: str, value: int | None) -> None:
    assert korean_int(word) == value


def test_spoken_digits() -> None:
    assert spoken_digits("공일공 구팔칠") == "010987"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("예약하려는데 제 번호는 010-2345-6789이고 이름은 김지훈입니다", "김지훈"),
        ("예약자 박민호, 010-5555-1234로 된 예약 취소해 주세요", "박민호"),
        ("예약자명 이수진으로 되어 있는데 시간 좀 바꿀게요", "이수진"),
        ("이름은 김민수고 번호는 010-2345-6789예요", "김민수"),
        ("제 이름으로 예약된 거 날짜 바꾸려고요", None),
        ("내일 저녁 7시 두 명이요", None),
    ],
)
def test_name_inside_a_sentence(text: str, name: str | None) -> None:
    assert find_name(text) == name


@pytest.mark.parametrize(
    ("time", "spoken"),
    [(T(19, 0), "저녁 7시"), (T(12, 30), "낮 12시 반"), (T(11, 0), "오전 11시"), (T(15, 15), "오후 3시 15분"),
     (T(0, 0), "밤 12시")],
)  # fmt: skip
def test_speak_time(time: dt.time, spoken: str) -> None:
    assert speak_time(time) == spoken


def test_speak_date_and_phone() -> None:
    assert speak_date(D(2026, 12, 24)) == "12월 24일 목요일"
    assert speak_date(D(2026, 11, 28), today=NOW.date()) == "내일, 11월 28일 토요일"
    assert speak_phone("01012345678") == "010-1234-5678"
    assert speak_phone("0212345678") == "02-1234-5678"
    assert speak_phone("021234567") == "02-123-4567"
