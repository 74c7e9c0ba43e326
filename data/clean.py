"""Text cleaning shared by the build and the call logs: Unicode NFC, whitespace, length bounds."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Zero-width and BOM characters that Excel and chat tools leave behind.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
# Characters that Rasa's training-data syntax would read as entity markup.
_MARKUP = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")"})


def normalize(text: str) -> str:
    """NFC (macOS exports arrive as decomposed jamo), invisible characters out, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", text).strip()


def for_training(text: str) -> str:
    """A normalized text made safe for Rasa's YAML examples (no entity markup brackets)."""
    return normalize(text.translate(_MARKUP))


def dedupe_key(text: str) -> str:
    """Texts differing only in spacing or final punctuation count as duplicates."""
    return re.sub(r"[\s.?!~,]+", "", text)
