"""PII masking for Korean text: numbers and addresses replaced by typed placeholders before anything is written.

Order matters: resident registration numbers and card numbers are matched before phone and account
numbers, so a longer number is never half-masked as a shorter type.
"""

from __future__ import annotations

import re
from collections import Counter

# (?<![\d]) / (?![\d]) keep us from matching inside a longer digit run.
_D0 = r"(?<![\d])"
_D1 = r"(?![\d])"
_SEP = r"[-.\s]?"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    # 주민등록번호 / 외국인등록번호: YYMMDD-GNNNNNN (G = 1-8)
    ("RRN", re.compile(_D0 + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-–]?\s?[1-8]\d{6}" + _D1)),
    # Card numbers: 4-4-4-4 (or 4-6-5 Amex), or 15-16 digits in a row.
    (
        "CARD",
        re.compile(
            _D0 + r"(?:\d{4}[-\s]\d{4}[-\s]\d{4}[-\s]\d{4}|\d{4}[-\s]\d{6}[-\s]\d{5}|\d{15,16})" + _D1
        ),
    ),
    # Mobile: 010/011/016/017/018/019, optionally written +82 10 ...
    (
        "PHONE",
        re.compile(
            r"(?:\+82[-\s]?1[016789]|" + _D0 + r"01[016789])" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _D1
        ),
    ),
    # Landline: Seoul 02, area codes 031-064, 070 internet phones; (02) 123-4567 style too.
    (
        "LANDLINE",
        re.compile(
            _D0 + r"\(?0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)\)?" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _D1
        ),
    ),
    # Bank accounts: 2-4 dash-separated groups of digits, 10-14 digits in all (checked below).
    ("ACCOUNT", re.compile(_D0 + r"\d{2,6}-\d{2,6}-\d{2,7}(?:-\d{1,3})?" + _D1)),
    ("ACCOUNT", re.compile(_D0 + r"\d{11,14}" + _D1)),
]

PLACEHOLDERS = {kind: f"<{kind}>" for kind, _ in PATTERNS}


def mask_pii(text: str) -> tuple[str, Counter[str]]:
    """Replace PII with `<EMAIL>`, `<RRN>`, `<CARD>`, `<PHONE>`, `<LANDLINE>`, `<ACCOUNT>`; count each type."""
    counts: Counter[str] = Counter()
    for kind, pattern in PATTERNS:
        if kind == "ACCOUNT":
            text = pattern.sub(lambda m, k=kind: _account(m, k, counts), text)
        else:
            text, n = pattern.subn(PLACEHOLDERS[kind], text)
            if n:
                counts[kind] += n
    return text, counts


def _account(match: re.Match[str], kind: str, counts: Counter[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    if not 10 <= digits <= 14:
        return match.group(0)
    counts[kind] += 1
    return PLACEHOLDERS[kind]
