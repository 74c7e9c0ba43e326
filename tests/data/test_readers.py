import json
import unicodedata

import pandas as pd
import pytest

from data.errors import DataError
from data.readers import read_table, resolve_columns

ROLES = {"question": ["question", "질문"], "answer": ["answer", "답변"]}


def test_cp949_csv_from_korean_excel(tmp_path):
    path = tmp_path / "qna.csv"
    path.write_bytes("질문,답변\n주차 돼요?,네 가능합니다\n".encode("cp949"))
    frame = read_table(path)
    assert list(frame["질문"]) == ["주차 돼요?"]
    assert list(frame["_row"]) == [2]


def test_utf8_bom_and_tsv(tmp_path):
    path = tmp_path / "qna.tsv"
    path.write_bytes("\ufeff질문\t답변\n영업시간 알려주세요\t10시부터요\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["질문", "답변", "_row"]
    assert frame.iloc[0]["답변"] == "10시부터요"


def test_undecodable_file_names_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"question,answer\nok,ok\n\xff\xfe\xfa broken\n")
    with pytest.raises(DataError, match=r"bad\.csv: cannot decode .* \(line 3\)"):
        read_table(path, encoding="utf-8")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_unsupported_type(tmp_path):
    path = tmp_path / "qna.pdf"
    path.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.pdf'"):
        read_table(path)


def test_missing_required_column_names_accepted_headers(tmp_path):
    path = tmp_path / "qna.csv"
    path.write_text("질문,비고\n주차 돼요?,x\n", encoding="utf-8")
    frame = read_table(path)
    with pytest.raises(DataError) as err:
        resolve_columns(frame, path, ROLES, required=["question", "answer"])
    message = str(err.value)
    assert (
        "qna.csv" in message
        and "answer (one of: answer, 답변)" in message
        and "Columns found: 질문, 비고" in message
    )


def test_header_match_ignores_case_and_spaces(tmp_path):
    path = tmp_path / "qna.csv"
    path.write_text(" Question , ANSWER\nq,a\n", encoding="utf-8")
    frame = read_table(path)
    assert resolve_columns(frame, path, ROLES, ["question", "answer"]) == {
        "question": "Question",
        "answer": "ANSWER",
    }


def test_xlsx(tmp_path):
    path = tmp_path / "qna.xlsx"
    pd.DataFrame({"질문": ["배달 되나요?", "주차 돼요?"], "답변": ["네", None]}).to_excel(path, index=False)
    frame = read_table(path)
    assert list(frame["질문"]) == ["배달 되나요?", "주차 돼요?"]
    assert list(frame["답변"]) == ["네", ""]
    assert list(frame["_row"]) == [2, 3]


def test_broken_xlsx(tmp_path):
    path = tmp_path / "qna.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="qna.xlsx: cannot read as an Excel workbook"):
        read_table(path)


def test_jsonl_skips_malformed_lines_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "logs.jsonl"
    lines = [
        json.dumps({"text": "안녕하세요", "speaker": "customer"}, ensure_ascii=False),
        "{broken",
        "",
        "[1,2]",
    ]
    lines.append(
        json.dumps({"text": unicodedata.normalize("NFD", "주차"), "speaker": "customer"}, ensure_ascii=False)
    )
    path.write_text("\n".join(lines), encoding="utf-8")
    frame = read_table(path)
    assert list(frame["_row"]) == [1, 5]
    assert frame.attrs["bad_lines"] == 2


def test_csv_with_ragged_rows_counts_them(tmp_path):
    path = tmp_path / "qna.csv"
    path.write_text('question,answer\n"a",b\nc,d,e,f\ng,h\n', encoding="utf-8")
    frame = read_table(path)
    assert list(frame["question"]) == ["a", "g"]
    assert frame.attrs["bad_lines"] == 1
