"""Augmentation of real examples into what callers actually say: casual, clipped and ASR-style.

The build calls `Augmenter.variants(text)` for each real example; each generator is pure and
deterministic (ASR randomness is seeded from the augmenter's seed and the text). One Kiwi analysis per
distinct sentence is shared by the casual and clipped generators and cached, together with the
variants themselves, since chat logs repeat sentences a lot.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from data.augment.analysis import Analyzer, AugmentError
from data.augment.asr import asr_variants, without_punctuation
from data.augment.asr_errors import ErrorModel, noisy
from data.augment.casual import CasualRewriter
from data.augment.clipped import clip_morphs

__all__ = ["KINDS", "Augmenter", "AugmentError", "Variant", "casual_of"]

logger = logging.getLogger(__name__)
LEARNED_TRIES = 3

KINDS = ("casual", "clipped", "asr", "asr_learned")


@dataclass(frozen=True)
class Variant:
    """One generated example: its text and which generator made it (casual, clipped or asr)."""

    text: str
    kind: str


class Augmenter:
    """Generates the enabled kinds of variants for a sentence, deterministically for a given seed."""

    def __init__(
        self,
        *,
        casual: bool = True,
        clipped: bool = True,
        asr: bool = True,
        seed: int = 0,
        asr_limit: int = 2,
        analyzer: Analyzer | None = None,
        cache_size: int = 100_000,
        errors: ErrorModel | None = None,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise AugmentError(f"seed must be an int, got {seed!r}")
        if asr_limit < 0:
            raise AugmentError(f"asr_limit must be >= 0, got {asr_limit}")
        self.casual, self.clipped, self.asr = casual, clipped, asr
        self.seed, self.asr_limit = seed, asr_limit
        self.errors = errors  # learned recognition errors: one asr_learned variant per sentence
        needs_kiwi = casual or clipped
        self.analyzer = (
            analyzer if analyzer is not None or not needs_kiwi else Analyzer(cache_size=cache_size)
        )
        self._rewriter = CasualRewriter(self.analyzer) if self.analyzer is not None else None
        self._cache: OrderedDict[str, tuple[Variant, ...]] = OrderedDict()
        self._cache_size = cache_size

    def variants(self, text: str) -> list[Variant]:
        """Distinct variants of `text` (never `text` itself), in the order casual, clipped, asr."""
        if not isinstance(text, str):
            raise AugmentError(f"Augmenter.variants expects a str, got {type(text).__name__}")
        cached = self._cache.get(text)
        if cached is None:
            cached = tuple(self._generate(text))
            if self._cache_size:
                self._cache[text] = cached
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return list(cached)

    def warm(self, texts: Iterable[str]) -> None:
        """Analyse many sentences in one Kiwi batch before calling `variants` on them."""
        if self.analyzer is not None:
            self.analyzer.warm(texts)

    def casual_of(self, text: str) -> str | None:
        """The casual form of `text`, or None when it has nothing polite (see data.augment.casual)."""
        if self._rewriter is None:
            raise AugmentError("this Augmenter was built with casual=False and clipped=False: no analyzer")
        return self._rewriter.rewrite(text)

    def _generate(self, text: str) -> list[Variant]:
        stripped = text.strip()
        if not stripped:
            return []
        out: list[Variant] = []
        seen = {stripped}

        def add(candidate: str | None, kind: str) -> None:
            if candidate and candidate.strip() and candidate not in seen:
                seen.add(candidate)
                out.append(Variant(candidate, kind))

        casual = None
        if self._rewriter is not None and self.analyzer is not None:
            morphs = self.analyzer.morphs(stripped)
            if self.casual:
                casual = self._rewriter.rewrite(stripped, morphs)
                add(casual, "casual")
            if self.clipped:
                add(clip_morphs(stripped, morphs), "clipped")
        if self.asr and self.asr_limit:
            # Callers speak casually, so the recognizer hears the casual form when there is one.
            rng = random.Random(zlib.crc32(f"{self.seed}\x00{stripped}".encode()))
            for v in asr_variants(casual or stripped, rng, limit=self.asr_limit + 1):
                if len([x for x in out if x.kind == "asr"]) < self.asr_limit:
                    add(v, "asr")
        if self.errors is not None:
            rng = random.Random(zlib.crc32(f"{self.seed}\x01{stripped}".encode()))
            heard = casual or stripped
            for _ in range(LEARNED_TRIES):  # a short sentence often comes through unchanged
                noisy_text = noisy(without_punctuation(heard), self.errors, rng)
                if noisy_text != without_punctuation(heard):
                    add(noisy_text, "asr_learned")
                    break
        return out


@lru_cache(maxsize=1)
def _shared_rewriter() -> CasualRewriter:
    # The Kiwi model is loaded once per process, like the other models (Vosk, Rasa) are.
    return CasualRewriter(Analyzer())


def casual_of(text: str) -> str | None:
    """The casual (반말) form of a polite sentence, or None when it has nothing polite.

    Convenience for one-off use; loads Kiwi on first call (~1 s) and reuses it afterwards.
    """
    return _shared_rewriter().rewrite(text)
