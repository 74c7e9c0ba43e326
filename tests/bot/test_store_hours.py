"""Checks of a visit against the store table (issue 13, 2.6): hours, break, last order, closed days,
party size, past dates; each problem says why and what is possible."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.store_hours import check_date, check_party, check_time, closed_reason, next_open_day
from bot.stores import COLUMNS, StoreDirectory
from data.errors import DataError

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "restaurant" / "stores.csv"
NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))  # a Wednesday morning
D, T = dt.date, dt.time


@pytest.fixture(scope="module")
def stores() -> StoreDirectory:
    return StoreDirectory.from_csv(SAMPLE)


@pytest.mark.parametrize(
    ("store", "date", "time", "kind", "said"),
    [
        ("강남점", D(2026, 12, 3), T(21, 30), "after_last_order", "강남점은 마지막 주문이 저녁 9시라서 저녁 9시까지"),
        ("강남점", D(2026, 12, 3), T(10, 0), "before_open", "강남점은 평일에는 오전 11시 반에 문을 열어요."),
        ("강남점", D(2026, 12, 3), T(16, 0), "break", "평일 오후 3시부터 오후 5시까지 브레이크 타임이에요."),
        ("판교점", D(2026, 12, 4), T(16, 0), "break", "오후 4시 반 이후로"),
        ("강남점", D(2026, 12, 2), T(9, 30), "past_time", "오전 9시 반은 이미 지났어요."),
    ],
)  # fmt: skip
def test_a_time_the_store_cannot_take(
    stores, store: str, date: dt.date, time: dt.time, kind: str, said: str
) -> None:
    problem = check_time(stores.by_name(store), date, time, NOW)
    assert problem is not None and problem.kind == kind and problem.slot == "time" and said in problem.message


@pytest.mark.parametrize(
    ("store", "date", "time"),
    [("강남점", D(2026, 12, 5), T(11, 0)),  # weekend hours open at 11:00
     ("강남점", D(2026, 12, 3), T(21, 0)),  # the last order itself
     ("판교점", D(2026, 12, 4), T(16, 30)),  # the break ends at 16:30
     ("명동점", D(2026, 12, 3), T(15, 30))],  # no break time
)  # fmt: skip
def test_a_time_the_store_takes(stores, store: str, date: dt.date, time: dt.time) -> None:
    assert check_time(stores.by_name(store), date, time, NOW) is None


def test_closed_days_and_past_dates(stores) -> None:
    gangnam, myeongdong = stores.by_name("강남점"), stores.by_name("명동점")
    assert (
        closed_reason(gangnam, D(2027, 2, 7)) == "설날" and closed_reason(myeongdong, D(2027, 2, 7)) is None
    )
    problem = check_date(gangnam, D(2027, 2, 7), NOW)
    assert problem.kind == "closed" and problem.message.startswith(
        "2월 7일은 설날이라 강남점은 쉬어요. 2월 8일에는 영업해요."
    )
    assert next_open_day(gangnam, D(2027, 2, 7)) == D(2027, 2, 8)
    assert check_date(gangnam, D(2026, 12, 1), NOW).kind == "past_date"
    assert check_date(None, D(2026, 12, 3), NOW) is None


def test_a_party_larger_than_the_store_seats_names_stores_that_can(stores) -> None:
    problem = check_party(stores.by_name("홍대점"), 10, stores.stores)
    assert problem.slot == "party_size" and "홍대점은 한 번에 8명까지" in problem.message
    assert "종로점이나 강남점처럼 더 넓은 매장" in problem.message
    assert check_party(stores.by_name("판교점"), 25, stores.stores) is None


def test_the_optional_columns_are_checked_with_file_row_and_column(tmp_path: Path) -> None:
    header = ",".join([*COLUMNS, "max_party", "closed"])
    row = "s1,명동점,,,,,,,11:00-22:00,,,,,,,,{party},{closed}"
    for party, closed, message in [("열", "", "column 'max_party'"), ("4", "설날", "column 'closed'")]:
        path = tmp_path / "stores.csv"
        path.write_text(header + "\n" + row.format(party=party, closed=closed) + "\n", encoding="utf-8")
        with pytest.raises(DataError, match=f"row 2, {message}"):
            StoreDirectory.from_csv(path)
    path.write_text(
        header + "\n" + row.format(party="4", closed="월요일|2027-02-07 설날") + "\n", encoding="utf-8"
    )
    store = StoreDirectory.from_csv(path).stores[0]
    assert store.max_party == 4 and closed_reason(store, D(2026, 12, 7)) == "정기 휴무일"
