"""Out-of-scope examples that share a word with the business: a check of the build, for operators.

Chit-chat that names a business word ("영화관 주차 몇 시간 무료예요?" next to the store's 주차 questions)
teaches the models that the word alone is no reason to answer. That is wanted for a contrast the
company means (another shop's parking), and harmful where the chit-chat is really the company's own
question or where a caller's business sentence then leans on that word. The build cannot tell which, so it
lists them: `build/out_of_scope_overlap.csv`, one row per out-of-scope example with the business words it
contains and the business intents that use each word most; the build report counts them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from data.jamo import is_syllable

if TYPE_CHECKING:
    from data.augment.analysis import Analyzer, Morph
    from data.build import Example

FILE_NAME = "out_of_scope_overlap.csv"
COLUMNS = ["text", "intent", "kind", "source", "words", "business_intents"]
CONTENT_TAGS = frozenset({"NNG", "NNP", "SL", "XR"})
TELLING_WORDS = 5  # an intent's most telling words are checked (as the runtime's business evidence is)
MIN_USES = 2  # ... among the words at least this many of the intent's real examples use


@dataclass(frozen=True)
class Overlap:
    """An out-of-scope example and the business words in it, each with the intents using it most."""

    example: Example
    words: tuple[str, ...]
    intents: dict[str, tuple[str, ...]]

    def row(self) -> dict[str, str]:
        e = self.example
        return {
            "text": e.text,
            "intent": e.intent,
            "kind": e.kind,
            "source": e.source,
            "words": " ".join(self.words),
            "business_intents": "; ".join(f"{w}: {', '.join(self.intents[w])}" for w in self.words),
        }


def is_out_of_scope(intent: str) -> bool:
    """The sample's naming: `out_of_scope` or `<domain>_out_of_scope` (bot.out_of_scope_intents)."""
    return intent == "out_of_scope" or intent.endswith("_out_of_scope")


def content_words(morphs: Sequence[Morph]) -> set[str]:
    """Nouns, roots and foreign words of two syllables or more (one Hangul syllable is too common)."""
    words = set()
    for m in morphs:
        if m.tag not in CONTENT_TAGS:
            continue
        if m.tag == "SL" or sum(1 for c in m.form if is_syllable(c)) >= 2:
            words.add(m.form.lower())
    return words


def telling_words(
    business: Mapping[str, Mapping[str, int]],
    totals: Mapping[str, int],
    min_uses: int = MIN_USES,
    top: int = TELLING_WORDS,
) -> dict[str, list[str]]:
    """Each intent's most telling words (Hangul, two syllables or more, `min_uses` examples or more),
    best first: the harmonic mean of how many of the intent's examples use the word and how much of the
    word's use is this intent's. `business`: word -> intent -> examples using it; `totals`: intent ->
    examples."""
    scored: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for word, counts in business.items():
        if not all(is_syllable(c) for c in word):
            continue
        uses = sum(counts.values())
        for intent, count in counts.items():
            if count < min_uses:
                continue
            coverage, precision = count / max(1, totals.get(intent, 0)), count / uses
            scored[intent].append((2 * coverage * precision / (coverage + precision), word))
    return {
        intent: [w for _, w in sorted(words, key=lambda sw: (-sw[0], sw[1]))[:top]]
        for intent, words in sorted(scored.items())
    }


def find_overlaps(examples: Iterable[Example], analyzer: Analyzer) -> list[Overlap]:
    """Out-of-scope examples (real and generated) containing one of a business intent's most telling
    words (from its real examples), in the examples' order."""
    examples = list(examples)
    uses: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for e in examples:
        if e.kind == "real" and not is_out_of_scope(e.intent):
            totals[e.intent] += 1
            for word in content_words(analyzer.morphs(e.text)):
                uses[word][e.intent] += 1
    told: dict[str, list[str]] = defaultdict(list)
    for intent, words in telling_words(uses, totals).items():
        for word in words:
            told[word].append(intent)
    found = []
    for e in examples:
        if not is_out_of_scope(e.intent):
            continue
        words = tuple(sorted(content_words(analyzer.morphs(e.text)) & told.keys()))
        if words:
            found.append(Overlap(e, words, {w: tuple(told[w]) for w in words}))
    return found


def summary(overlaps: Sequence[Overlap], top: int = 10) -> dict[str, object]:
    """For the build report: how many examples, and the business words they share most."""
    words = Counter(w for o in overlaps for w in o.words)
    return {
        "examples": len(overlaps),
        "real": sum(1 for o in overlaps if o.example.kind == "real"),
        "top_words": dict(words.most_common(top)),
        "file": FILE_NAME,
    }
