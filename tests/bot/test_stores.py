"""Store lookup in caller sentences and the spoken answers built from stores.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.stores import COLUMNS, Store, StoreDirectory, answer, hours_answer, location_answer, speak_times
from data.errors import DataError

ROWS = [
    ["S01", "명동점", "명동|명동 본점", "서울 중구 명동길 14", "명동역", "6", "출구에서 직진 100미터, 눈스퀘어 맞은편입니다",
     "02-111-2222", "11:00-22:00", "10:30-22:00", "15:00-17:00", "21:00", "설날과 추석 당일만 휴무합니다",
     "건물 지하 주차장 2시간 무료", "유아 의자와 수유실이 있습니다", "중구 전역"],
    ["S02", "강남역점", "강남|강남 매장", "서울 강남구 테헤란로 5", "강남역", "11", "", "02-333-4444",
     "11:30-23:00", "11:30-23:00", "없음", "22:00", "명절에도 정상 영업합니다", "", "", ""],
    ["S03", "종로점", "종로", "서울 종로구 종로 1", "종각역", "", "", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    lines = [",".join(header)] + [",".join(f'"{v}"' for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def directory(tmp_path: Path) -> StoreDirectory:
    return StoreDirectory.from_csv(_write(tmp_path / "stores.csv", list(COLUMNS), ROWS))


@pytest.mark.parametrize(
    ("text", "store_id"),
    [
        ("명동점 주차 돼?", "S01"),
        ("명동 주차 돼요?", "S01"),
        ("강남 매장 몇 시까지 해요", "S02"),
        ("강남역점 위치 알려주세요", "S02"),
        ("강남역 점 어디예요", "S02"),
        ("종로 점이요", "S03"),
        ("종로점", "S03"),
        ("주차 돼요?", None),
        ("", None),
    ],
)
def test_find_in_text(directory: StoreDirectory, text: str, store_id: str | None) -> None:
    found = directory.find_in_text(text)
    assert (found.store_id if found else None) == store_id


def test_aliases_are_split_and_by_name(directory: StoreDirectory) -> None:
    assert directory.stores[0].aliases == ("명동", "명동 본점")
    assert directory.by_name("강남").store_id == "S02"
    assert directory.by_name("종로점").store_id == "S03"
    assert directory.by_name("부산점") is None


def test_location_answer_names_station_exit_and_directions(directory: StoreDirectory) -> None:
    text = location_answer(directory.find_in_text("명동점"))
    assert text == (
        "명동점은 서울 중구 명동길 14에 있습니다. 명동역 6번 출구에서 가까워요. "
        "출구에서 직진 100미터, 눈스퀘어 맞은편입니다."
    )


def test_hours_answer_speaks_times(directory: StoreDirectory) -> None:
    text = hours_answer(directory.find_in_text("명동"))
    assert "평일 오전 11시부터 저녁 10시까지 영업합니다" in text
    assert "주말에는 오전 10시 반부터 저녁 10시까지" in text
    assert "브레이크 타임은 오후 3시부터 오후 5시까지입니다" in text
    assert "마지막 주문은 저녁 9시까지 받습니다" in text
    gangnam = hours_answer(directory.find_in_text("강남"))
    assert "브레이크" not in gangnam and gangnam.startswith("강남역점은 평일 오전 11시 반부터 저녁 11시까지")


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("store_parking", "명동점 주차 안내입니다. 건물 지하 주차장 2시간 무료."),
        ("store_holiday_hours", "명동점 휴일 영업 안내입니다. 설날과 추석 당일만 휴무합니다."),
        ("store_family", "명동점 아이 동반 안내입니다. 유아 의자와 수유실이 있습니다."),
        ("store_delivery_area", "명동점 배달 가능 지역은 중구 전역입니다."),
    ],
)
def test_answers_per_intent(directory: StoreDirectory, intent: str, expected: str) -> None:
    assert answer(intent, directory.find_in_text("명동점")) == expected


def test_missing_information_points_to_store_phone(directory: StoreDirectory) -> None:
    text = answer("store_parking", directory.find_in_text("강남"))
    assert (
        text
        == "죄송합니다. 강남역점 주차 정보는 아직 준비되어 있지 않습니다. 매장 전화 02-333-4444번으로 문의해 주세요."
    )
    assert "준비되어 있지 않습니다." in answer("store_hours", directory.find_in_text("종로"))


def test_topic_particle_follows_last_syllable() -> None:
    store = Store("X", "홍대", (), "마포구 1", "", "", "", "", "", "", "", "", "", "", "", "")
    assert location_answer(store) == "홍대는 마포구 1에 있습니다."


def test_which_store_question(directory: StoreDirectory) -> None:
    assert directory.which_store_question() == (
        "어느 매장을 말씀하시는 건가요? 명동점, 강남역점, 종로점 중에서 말씀해 주세요."
    )
    assert directory.which_store_question(limit=2) == (
        "어느 매장을 말씀하시는 건가요? 명동점, 강남역점 같은 매장 이름으로 말씀해 주세요."
    )


def test_bundled_sample_store_table_answers_every_store() -> None:
    sample = StoreDirectory.from_csv(Path(__file__).resolve().parents[2] / "examples/restaurant/stores.csv")
    assert len(sample.stores) >= 2
    for store in sample.stores:
        assert sample.find_in_text(f"{store.name} 주차 돼요?") == store
        for alias in store.aliases:
            assert sample.find_in_text(f"{alias} 매장 몇 시까지 해요") == store, alias
        assert "준비되어 있지 않습니다" not in hours_answer(store) + location_answer(store)


def test_speak_times_leaves_other_text() -> None:
    assert speak_times("평일 09:00~12:30, 주말 휴무") == "평일 오전 9시부터 낮 12시 반까지, 주말 휴무"


def test_missing_columns_name_file_and_columns(tmp_path: Path) -> None:
    header = [c for c in COLUMNS if c not in ("parking", "exit")]
    path = _write(tmp_path / "stores.csv", header, [])
    with pytest.raises(DataError, match=r"stores\.csv: missing column\(s\) exit, parking"):
        StoreDirectory.from_csv(path)


def test_missing_file_empty_table_and_empty_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="store table not found"):
        StoreDirectory.from_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no stores"):
        StoreDirectory.from_csv(_write(tmp_path / "a.csv", list(COLUMNS), []))
    bad = [["S9", ""] + [""] * (len(COLUMNS) - 2)]
    with pytest.raises(DataError, match="row 2, column 'name'"):
        StoreDirectory.from_csv(_write(tmp_path / "b.csv", list(COLUMNS), bad))


def test_a_store_name_heard_one_letter_wrong_is_still_found() -> None:
    sample = StoreDirectory.from_csv(Path(__file__).resolve().parents[2] / "examples/restaurant/stores.csv")
    assert sample.find_in_text("강남전으로 예약해 줘").name == "강남점"  # final ㅁ heard as ㄴ
    assert sample.find_in_text("홍대입꾸 쪽이요").name == "홍대점"  # initial ㄱ heard as ㄲ
    assert sample.find_in_text("판교저 몇 시까지 해요").name == "판교점"  # final dropped
    assert sample.find_in_text("명동 점").name == "명동점"  # spacing does not matter


def test_the_near_match_leaves_short_words_and_two_letter_errors_alone() -> None:
    sample = StoreDirectory.from_csv(Path(__file__).resolve().parents[2] / "examples/restaurant/stores.csv")
    for text in (
        "잠시만요",
        "종료해 줘",
        "네 맞아요",
        "감사합니다",
        "오늘 저녁 일곱 시",
        "강난전이요",
        "예약 취소할게요",
    ):
        assert sample.find_in_text(text) is None, text


def test_the_near_match_gives_up_when_two_stores_are_as_close() -> None:
    def store(store_id: str, name: str) -> Store:
        return Store(store_id, name, (), "", "", "", "", "", "", "", "", "", "", "", "", "")

    directory = StoreDirectory([store("A", "강남점"), store("B", "강난점")])
    assert directory.find_in_text("강남전").store_id == "A"  # one letter from 강남점, two from 강난점
    assert directory.find_in_text("강남점").store_id == "A"
    assert StoreDirectory([store("A", "강남점"), store("B", "강감점")]).find_in_text("강담점") is None
