"""Korean text -> the recognizer's word units.

The model vocabulary is not made of eojeols (space-separated words): "주차" is a word, "주차는" is not.
Each eojeol is kept when it is a vocabulary word, else split by dynamic programming into the fewest
vocabulary words (ties: the longest first piece, which keeps stems whole: "주차"+"는", not "주"+"차는").
Characters no vocabulary word covers are dropped and counted.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from stt.lm.numbers import spell_numbers
from stt.lm.vocab import Vocabulary

logger = logging.getLogger(__name__)

# Symbols with a spoken form in call-center text; every other punctuation or symbol becomes a space.
_SPOKEN_SYMBOLS = {"%": " 퍼센트 ", "&": " 앤 ", "+": " 플러스 "}
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_SPACES = re.compile(r"\s+")
_MAX_PIECE = 24  # longest vocabulary unit tried inside an eojeol (the table's longest is 56)


@dataclass
class SegmentStats:
    """Running counts over the texts a `Segmenter` has seen."""

    sentences: int = 0
    tokens: int = 0
    eojeols: int = 0
    split_eojeols: int = 0
    oov: int = 0
    oov_strings: Counter[str] = field(default_factory=Counter)


def normalize(text: str) -> str:
    """NFC, full-width ASCII folded, digits spelled out as spoken Korean, punctuation out, Latin upper case."""
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH)
    text = spell_numbers(text)
    chars = []
    for ch in text:
        if ch in _SPOKEN_SYMBOLS:
            chars.append(_SPOKEN_SYMBOLS[ch])
        elif unicodedata.category(ch)[0] in "PSZC":
            chars.append(" ")
        else:
            chars.append(ch.upper() if "a" <= ch <= "z" else ch)
    return _SPACES.sub(" ", "".join(chars)).strip()


class Segmenter:
    """Splits text into vocabulary words and counts what could not be covered."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.max_piece = min(_MAX_PIECE, vocab.max_word_length)
        self.stats = SegmentStats()

    def words(self, text: str) -> list[str]:
        """The vocabulary words of one sentence, in order (empty when nothing is left)."""
        out: list[str] = []
        for eojeol in normalize(text).split():
            self.stats.eojeols += 1
            pieces = self.split(eojeol)
            if len(pieces) > 1:
                self.stats.split_eojeols += 1
            out.extend(pieces)
        self.stats.sentences += 1
        self.stats.tokens += len(out)
        return out

    def split(self, eojeol: str) -> list[str]:
        """One eojeol as the fewest vocabulary words; uncovered characters are dropped and counted."""
        if eojeol in self.vocab:
            return [eojeol]
        n = len(eojeol)
        # best[i]: (dropped characters, pieces, negated first-piece length) for eojeol[i:]; choice[i]: next cut
        best: list[tuple[int, int, int]] = [(0, 0, 0)] * (n + 1)
        choice = [0] * (n + 1)
        ids = self.vocab.ids
        for i in range(n - 1, -1, -1):
            # dropping one character is always possible; any covering split beats it
            cand = (best[i + 1][0] + 1, best[i + 1][1], 0)
            cut = -(i + 1)  # negative: drop eojeol[i]
            for j in range(min(n, i + self.max_piece), i, -1):
                if eojeol[i:j] in ids:
                    rest = best[j]
                    score = (rest[0], rest[1] + 1, -(j - i))
                    if score < cand:
                        cand, cut = score, j
            best[i], choice[i] = cand, cut
        pieces: list[str] = []
        dropped: list[str] = []
        i = 0
        while i < n:
            j = choice[i]
            if j < 0:
                dropped.append(eojeol[i])
                i = -j
            else:
                pieces.append(eojeol[i:j])
                i = j
        if dropped:
            lost = "".join(dropped)
            self.stats.oov += 1
            self.stats.oov_strings[lost] += 1
            logger.debug("stt.lm.segment.oov eojeol=%s dropped=%s", eojeol, lost)
        return pieces

    def log_summary(self) -> None:
        """One warning when some text could not be covered by the vocabulary."""
        s = self.stats
        if s.oov:
            common = ", ".join(f"{w!r} x{c}" for w, c in s.oov_strings.most_common(5))
            logger.warning(
                "stt.lm.segment.oov eojeols=%d of %d had characters outside the vocabulary (dropped): %s",
                s.oov,
                s.eojeols,
                common,
            )
