"""Errors of the data build, each naming the file (and row/column) a user must fix."""

from __future__ import annotations


class DataError(Exception):
    """Input data that cannot be used: unreadable file, missing column, empty sheet."""


def where(path: object, row: int | None = None, column: str | None = None) -> str:
    """`file`, `file:row 12`, or `file:row 12, column '질문'` for messages."""
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts) if len(parts) < 2 else f"{parts[0]}: " + ", ".join(parts[1:])
