"""Reading QnA sheets and chat logs (CSV, TSV, XLSX, JSONL) into string tables.

Korean Excel saves CSV as CP949; macOS exports arrive as NFD. Encoding is detected here; Unicode
normalization happens in `clean`. Every problem names the file (and row/column).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import unicodedata
from pathlib import Path

import pandas as pd

from data.errors import DataError, where

logger = logging.getLogger(__name__)

ENCODINGS = ("utf-8-sig", "cp949")


def read_text(path: Path, encoding: str = "auto") -> str:
    """The file's text; `auto` tries UTF-8 (with or without BOM), then CP949/EUC-KR."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    candidates = ENCODINGS if encoding == "auto" else (encoding,)
    for enc in candidates:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
        except LookupError as exc:
            raise DataError(f"{path}: unknown encoding '{enc}' (data.encoding)") from exc
    line = raw[: last.start].count(b"\n") + 1
    raise DataError(
        f"{path}: cannot decode as {' or '.join(candidates)} (line {line}); save it as UTF-8 or set data.encoding"
    )


def read_table(path: Path, encoding: str = "auto") -> pd.DataFrame:
    """A table of strings (missing cells are ""), with a `_row` column holding the 1-based source row.

    CSV rows are numbered as a spreadsheet shows them (header = row 1); JSONL rows by line.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_excel(path)
        first_row = 2
    elif suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, encoding)
    elif suffix in (".csv", ".tsv", ".txt"):
        frame = _read_delimited(path, encoding)
        first_row = 2
    else:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv, .tsv, .xlsx or .jsonl)")
    if frame.empty and len(frame.columns) == 0:
        raise DataError(f"{path}: the file is empty")
    # pandas deep-copies attrs on every operation: keep only small values there.
    rows = frame.attrs.pop("rows", None) or list(range(first_row, first_row + len(frame)))
    frame = frame.fillna("").astype(str)
    frame.columns = [unicodedata.normalize("NFC", str(c)).strip() for c in frame.columns]
    frame["_row"] = rows
    return frame


def _read_delimited(path: Path, encoding: str) -> pd.DataFrame:
    """CSV/TSV via the csv module: rows with too many cells are skipped and counted, short rows padded."""
    text = read_text(path, encoding)
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:
        pass
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV: {exc}") from exc
    header = [h.strip() for h in records[0]]
    rows, numbers, bad = [], [], []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        extra = record[len(header) :]
        if any(cell.strip() for cell in extra):
            bad.append(number)
            continue
        rows.append((record + [""] * len(header))[: len(header)])
        numbers.append(number)
    if bad:
        logger.warning("data.read.bad_rows file=%s rows=%s", path, bad[:20])
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame.attrs["bad_lines"] = len(bad)
    frame.attrs["bad_rows"] = bad
    frame.attrs["rows"] = numbers
    return frame


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        return pd.read_excel(path, dtype=str, engine="openpyxl")
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{path}: cannot read as an Excel workbook: {exc}") from exc


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    text = read_text(path, encoding)
    records: list[dict[str, str]] = []
    rows: list[int] = []
    bad = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            logger.warning("data.read.bad_json %s: %s", where(path, number), exc.msg)
            bad += 1
            continue
        if not isinstance(obj, dict):
            logger.warning("data.read.bad_json %s: not an object", where(path, number))
            bad += 1
            continue
        records.append(
            {
                unicodedata.normalize("NFC", str(k)).strip(): "" if v is None else str(v)
                for k, v in obj.items()
            }
        )
        rows.append(number)
    if not records:
        raise DataError(
            f"{path}: no JSON records" + (f" ({bad} malformed lines)" if bad else " (empty file)")
        )
    frame = pd.DataFrame.from_records(records).fillna("").astype(str)
    frame["_row"] = rows
    frame.attrs["bad_lines"] = bad
    return frame


def resolve_columns(
    frame: pd.DataFrame, path: Path, roles: dict[str, list[str]], required: list[str]
) -> dict[str, str | None]:
    """Map each role (question, answer, ...) to the header present in the file.

    Header matching ignores case and surrounding spaces. Missing required roles raise one DataError
    naming every accepted header.
    """
    present = {str(c).strip().lower(): c for c in frame.columns if c != "_row"}
    found: dict[str, str | None] = {}
    missing: list[str] = []
    for role, aliases in roles.items():
        match = next((present[a.strip().lower()] for a in aliases if a.strip().lower() in present), None)
        found[role] = match
        if match is None and role in required:
            missing.append(f"{role} (one of: {', '.join(aliases)})")
    if missing:
        have = ", ".join(c for c in frame.columns if c != "_row")
        raise DataError(f"{path}: missing column {'; '.join(missing)}. Columns found: {have}")
    return found
