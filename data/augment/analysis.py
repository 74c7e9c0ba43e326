"""One shared Kiwi morphological analyzer with a per-text cache.

Kiwi takes about a second to load, so every generator reuses the same instance, and the casual and
clipped generators share the analysis of a sentence instead of tokenizing it twice.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiwipiepy import Kiwi

from data.errors import DataError

logger = logging.getLogger(__name__)

# Tags that separate word segments: punctuation and symbols (Latin, Hanja and digits stay in the word).
_WORD_TAGS = {"SL", "SH", "SN"}


class AugmentError(DataError, ValueError):
    """Invalid input to an augmentation generator (not a string, bad seed, ...)."""


@dataclass(frozen=True)
class Morph:
    """One morpheme: its dictionary form, Sejong-style tag and character span in the analysed text."""

    form: str
    tag: str
    start: int
    end: int

    @property
    def is_punct(self) -> bool:
        return (self.tag.startswith("S") and self.tag not in _WORD_TAGS) or self.tag.startswith("W_")


class Analyzer:
    """Kiwi plus an LRU cache of analyses keyed by the exact text."""

    def __init__(self, *, cache_size: int = 100_000, kiwi: Kiwi | None = None) -> None:
        if cache_size < 0:
            raise AugmentError(f"cache_size must be >= 0, got {cache_size}")
        # The multi-word dictionary triples analysis time and adds nothing for short utterances.
        self.kiwi = kiwi if kiwi is not None else Kiwi(model_type="cong", load_multi_dict=False)
        self.kiwi.tokenize("모델을 미리 읽어 둡니다.")  # the first call loads the model lazily (~1 s)
        self._cache: OrderedDict[str, tuple[Morph, ...]] = OrderedDict()
        self._cache_size = cache_size

    def morphs(self, text: str) -> tuple[Morph, ...]:
        """The morphemes of `text` (cached)."""
        if not isinstance(text, str):
            raise AugmentError(f"expected a str to analyse, got {type(text).__name__}")
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        result = _convert(self.kiwi.tokenize(text)) if text.strip() else ()
        self._remember(text, result)
        return result

    def warm(self, texts: Iterable[str]) -> None:
        """Analyse many texts at once (Kiwi spreads a batch over its worker threads)."""
        todo = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()))
        todo = [t for t in todo if t not in self._cache]
        if not todo:
            return
        for text, tokens in zip(todo, self.kiwi.tokenize(todo), strict=True):
            self._remember(text, _convert(tokens))

    def join(self, morphs: Sequence[tuple[str, str]]) -> str:
        """Kiwi's inflection of a morpheme list (handles irregular stems and vowel harmony)."""
        return self.kiwi.join(list(morphs))

    def _remember(self, text: str, morphs: tuple[Morph, ...]) -> None:
        if self._cache_size == 0:
            return
        self._cache[text] = morphs
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _convert(tokens: Iterable) -> tuple[Morph, ...]:
    return tuple(Morph(t.form, t.tag, t.start, t.start + t.len) for t in tokens)


def segments(text: str, morphs: Sequence[Morph]) -> list[list[Morph]]:
    """Split morphemes into word segments: runs inside one eojeol, cut at spaces and punctuation."""
    out: list[list[Morph]] = []
    current: list[Morph] = []
    last_end = -1
    for m in morphs:
        if m.is_punct:
            if current:
                out.append(current)
            current, last_end = [], -1
            continue
        if current and m.start > last_end:  # a space (or unanalysed text) ends the word
            out.append(current)
            current = []
        current.append(m)
        last_end = max(last_end, m.end)
    if current:
        out.append(current)
    return out
