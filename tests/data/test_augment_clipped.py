"""Clipped keyword forms (data.augment.clipped) on real Kiwi analyses."""

from __future__ import annotations

import pytest

from data.augment.analysis import Analyzer, AugmentError
from data.augment.clipped import Clipper


@pytest.fixture(scope="module")
def clipper() -> Clipper:
    return Clipper(Analyzer())


@pytest.mark.parametrize(
    ("text", "clipped"),
    [
        ("환불하고 싶어요", "환불"),
        ("배송 조회 해주세요", "배송 조회"),
        ("강남점 주차 되나요?", "강남점 주차"),
        ("내일 저녁 예약 가능할까요", "내일 저녁 예약"),
        ("몇 시까지 영업하세요?", "몇 시 영업"),
        ("창가 자리로 부탁드립니다", "창가 자리 부탁"),
        ("제 예약 좀 확인해 주시겠어요?", "예약 확인"),
        ("배달 되나요?", "배달"),
        ("어 그 내일 저녁에 예약 좀 하려고 하는데요", "내일 저녁 예약"),
        ("3명이요", "3명"),
        ("카드 결제 돼요?", "카드 결제"),
        ("영업시간이 어떻게 되나요?", "영업시간"),
        ("메뉴판 좀 보여주세요", "메뉴판"),
        ("와이파이 비번 알려줘", "와이파이 비번"),
        ("음 저기 주차장 있어요?", "주차장"),
        ("김치찌개 두 개 포장이요", "김치찌개 두 개 포장"),
        ("예약 취소하고 싶은데요", "예약 취소"),
        ("오늘 7시에 4명 예약할게요", "오늘 7시 4명 예약"),
        ("룸 있나요?", "룸"),
        ("단체 예약 되나요? 20명 정도요", "단체 예약 20명 정도"),
        ("생일 케이크 가져가도 되나요?", "생일 케이크"),
        ("콜키지 비용이 얼마예요?", "콜키지 비용 얼마"),
        ("BBQ 세트 메뉴 있어요?", "BBQ 세트 메뉴"),
        ("영수증 다시 발급해 주세요", "영수증 발급"),
        ("예약 시간 변경하려고요", "예약 시간 변경"),
        ("현금 영수증 발급해 주세요", "현금 영수증 발급"),
        ("반려견 동반 가능한가요?", "반려견 동반"),
        ("택배가 아직 도착하지 않았어요", None),
        ("포인트 적립 되나요?", "포인트 적립"),
        ("비밀번호를 잊어버렸어요", "비밀번호"),
        ("회원 가입은 어떻게 하나요?", "회원 가입"),
        ("3만 원 이하 메뉴 있나요?", "3만 원 이하 메뉴"),
    ],
)
def test_clips_to_the_noun_core(clipper: Clipper, text: str, clipped: str | None) -> None:
    assert clipper.clip(text) == clipped


@pytest.mark.parametrize(
    "text",
    [
        "주차",  # already a keyword: identical to the input
        "배달 조회",
        "네",  # nothing left
        "안녕하세요",
        "고맙습니다",
        "어 음",
        "",
        "배달 안 왔어요",  # a negation would be lost
        "주문한 음식이 아직 안 왔어요",
        "카드 결제 못 해요?",
        "주차 자리 없어요?",
        "강남점 예약을 잠실점으로 옮겨 주세요",  # without the verb it reads as making a reservation
        "토요일 예약 일요일로 바꿀 수 있나요",
        "그 예약 그냥 없애 줘",
    ],
)
def test_returns_none_when_empty_identical_or_negated(clipper: Clipper, text: str) -> None:
    assert clipper.clip(text) is None


def test_rejects_non_text(clipper: Clipper) -> None:
    with pytest.raises(AugmentError, match="str"):
        clipper.clip(None)  # type: ignore[arg-type]
