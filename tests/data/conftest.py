"""A tiny second company (a bakery-cafe chain) so data tests do not depend on the bundled sample."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callbot.config import load_config
from data.settings import DataSettings

QNA_ROWS = [
    ("질문", "답변", "의도", "분야"),
    ("케이크 예약하고 싶어요", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("생일 케이크 주문 가능한가요?", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("홀케이크 미리 주문할 수 있나요", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("케이크 픽업 날짜 정하고 싶어요", "케이크 예약은 3일 전까지 가능합니다.", "cake_order", "order"),
    ("주문 취소하고 싶어요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("케이크 주문 취소할게요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("예약한 케이크 취소 가능한가요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("주문한 거 취소해 주세요", "주문 취소는 하루 전까지 가능합니다.", "order_cancel", "order"),
    ("몇 시에 문 여세요?", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("영업시간이 어떻게 되나요", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("밤 늦게도 하시나요?", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("몇 시까지 영업하세요", "매일 오전 8시부터 밤 10시까지 영업합니다.", "store_hours", "store"),
    ("안녕하세요", "안녕하세요, 밀빛 베이커리입니다.", "common_greet", "common"),
    ("여보세요", "안녕하세요, 밀빛 베이커리입니다.", "common_greet", "common"),
    ("네 맞아요", "네, 알겠습니다.", "common_affirm", "common"),
    ("네", "네, 알겠습니다.", "common_affirm", "common"),
    (
        "오늘 날씨 어때요",
        "죄송하지만 베이커리 관련 문의만 도와드릴 수 있어요.",
        "common_out_of_scope",
        "common",
    ),
    (
        "주식 추천해 주세요",
        "죄송하지만 베이커리 관련 문의만 도와드릴 수 있어요.",
        "common_out_of_scope",
        "common",
    ),
    (
        "빵 만드는 법 알려줘",
        "죄송하지만 베이커리 관련 문의만 도와드릴 수 있어요.",
        "common_out_of_scope",
        "common",
    ),
    (
        "택시 불러 주세요",
        "죄송하지만 베이커리 관련 문의만 도와드릴 수 있어요.",
        "common_out_of_scope",
        "common",
    ),
    ("마카롱 택배 되나요", "택배는 하지 않습니다.", "parcel", "galaxy"),  # unknown domain
    ("", "빈 질문", "store_hours", "store"),  # empty question
]

CHAT_ROWS = [
    ("conversation_id", "turn", "speaker", "text", "intent", "domain"),
    ("c1", "1", "customer", "안녕하세요", "common_greet", "common"),
    ("c1", "2", "agent", "네 밀빛 베이커리입니다", "", ""),
    ("c1", "3", "customer", "생일 케이크 예약하려고요 제 번호는 010-1234-5678이에요", "cake_order", "order"),
    ("c1", "4", "agent", "네 예약 도와드릴게요", "", ""),
    ("c2", "2", "customer", "아침 몇 시에 문 여시나요", "", ""),  # unlabelled, close to a QnA question
    ("c2", "1", "customer", "여보세요", "common_greet", "common"),  # out of order on purpose
    ("c2", "3", "customer", "고양이가 밥을 안 먹어요", "", ""),  # unlabelled, matches nothing -> review
    ("c3", "1", "customer", "케이크 예약하고 싶어요", "cake_order", "order"),  # duplicate of a QnA question
    ("c3", "2", "bystander", "누구세요", "", ""),  # unknown speaker
    ("", "1", "customer", "대화 번호가 없어요", "", ""),  # malformed
    ("c4", "1", "customer", "카드 1234-5678-9012-3456 로 결제한 주문 취소해 주세요", "order_cancel", "order"),
]


def write_csv(path: Path, rows, encoding: str = "utf-8") -> Path:
    import csv

    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture
def company(tmp_path: Path):
    """Write the bakery's files and a callbot.yml; return a factory of DataSettings."""
    qna = write_csv(tmp_path / "qna.csv", QNA_ROWS)
    logs = write_csv(tmp_path / "logs.csv", CHAT_ROWS)

    def settings(**data_overrides) -> DataSettings:
        data = {
            "qna": [str(qna)],
            "chat_logs": [str(logs)],
            "overlay_dir": str(tmp_path / "overlay"),
            "domains": ["order", "store", "common"],
            "test_share": 0.25,
            "augment": {"casual": False, "clipped": False, "asr": False, "asr_errors": None},
        }
        data.update(data_overrides)
        cfg = tmp_path / "callbot.yml"
        cfg.write_text(
            yaml.safe_dump(
                {"paths": {"build_dir": str(tmp_path / "build")}, "data": data}, allow_unicode=True
            ),
            encoding="utf-8",
        )
        return DataSettings.from_config(load_config(cfg))

    return settings
