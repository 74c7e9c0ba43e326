import pytest

from data.pii import mask_pii


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("제 번호는 010-1234-5678이에요", "제 번호는 <PHONE>이에요", "PHONE"),
        ("01012345678로 연락 주세요", "<PHONE>로 연락 주세요", "PHONE"),
        ("010 9876 5432 입니다", "<PHONE> 입니다", "PHONE"),
        ("011-234-5678", "<PHONE>", "PHONE"),
        ("+82 10 1234 5678 로 주세요", "<PHONE> 로 주세요", "PHONE"),
        ("매장 번호 02-123-4567 맞나요", "매장 번호 <LANDLINE> 맞나요", "LANDLINE"),
        ("(02) 1234-5678 입니다", "<LANDLINE> 입니다", "LANDLINE"),
        ("031-987-6543으로 전화했어요", "<LANDLINE>으로 전화했어요", "LANDLINE"),
        ("070-1234-5678", "<LANDLINE>", "LANDLINE"),
        ("주민번호 900101-1234567 불러드릴게요", "주민번호 <RRN> 불러드릴게요", "RRN"),
        ("8512252345678", "<RRN>", "RRN"),
        ("카드 1234-5678-9012-3456 로 결제", "카드 <CARD> 로 결제", "CARD"),
        ("카드번호 1234 5678 9012 3456", "카드번호 <CARD>", "CARD"),
        ("4111111111111111", "<CARD>", "CARD"),
        ("계좌 110-123-456789로 보내주세요", "계좌 <ACCOUNT>로 보내주세요", "ACCOUNT"),
        ("국민 123456-01-123456 입니다", "국민 <ACCOUNT> 입니다", "ACCOUNT"),
        ("메일은 kim.cs@naver.com 이에요", "메일은 <EMAIL> 이에요", "EMAIL"),
        ("hong_gildong+1@company.co.kr", "<EMAIL>", "EMAIL"),
    ],
)
def test_masks_each_type(text, masked, kind):
    out, counts = mask_pii(text)
    assert out == masked
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "내일 저녁 7시에 4명 예약할게요",
        "12월 24일 7시 30분",
        "2024-12-24 예약",
        "3만 5천원짜리 코스",
        "예약번호 12345 확인해 주세요",
        "1588-1234 대표번호 맞죠",  # a business number, not personal data
        "스테이크 2개랑 파스타 1개요",
    ],
)
def test_leaves_ordinary_numbers(text):
    assert mask_pii(text) == (text, {})


def test_counts_several_kinds_in_one_text():
    out, counts = mask_pii("010-1111-2222 또는 kim@a.com, 카드 1234-5678-9012-3456")
    assert out == "<PHONE> 또는 <EMAIL>, 카드 <CARD>"
    assert counts == {"PHONE": 1, "EMAIL": 1, "CARD": 1}
