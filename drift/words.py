"""The words behind a drift: content words of refused turns that the training data never used, and the
near-duplicate clusters those turns form (`data.near_duplicates`), with counts and the turns they
come from, so an operator sees what to label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from data.near_duplicates import NearDuplicates

Tagger = Callable[[str], list[tuple[str, int, int, str, str]]]


@dataclass(frozen=True)
class NewWord:
    word: str
    count: int  # refused turns that use it
    turns: tuple[str, ...]  # "<call SID>#<turn>" of the first few


@dataclass(frozen=True)
class TurnCluster:
    text: str  # the most frequent wording
    count: int
    turns: tuple[str, ...]


@dataclass(frozen=True)
class WordsBehind:
    scope: str
    day: int
    days: int
    refused: int
    words: tuple[NewWord, ...]
    clusters: tuple[TurnCluster, ...]

    def to_json(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def content_words(text: str, tagger: Tagger | None = None) -> list[str]:
    """The content words (nouns, roots, foreign words; two syllables or more) of a text, via Kiwi."""
    from bot.nlu.vocabulary import _content_words

    if tagger is None:
        from bot.nlu.kiwi_tokenizer import tagged_spans as tagger
    return _content_words(tagger(text))


def words_behind(
    turns: Iterable[tuple[str, str, int]],
    known: frozenset[str] | set[str],
    *,
    scope: str,
    day: int,
    days: int,
    top: int = 15,
    examples: int = 5,
    tagger: Tagger | None = None,
) -> WordsBehind:
    """New words and near-duplicate clusters of `(text, call SID, turn)` refused turns."""
    turns = [t for t in turns if t[0]]
    counts: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    for text, sid, turn in turns:
        for word in dict.fromkeys(content_words(text, tagger)):
            if word in known:
                continue
            counts[word] += 1
            where.setdefault(word, []).append(f"{sid}#{turn}")
    words = tuple(
        NewWord(w, n, tuple(where[w][:examples]))
        for w, n in sorted(counts.items(), key=lambda p: (-p[1], p[0]))
    )[:top]
    index = NearDuplicates([t[0] for t in turns])
    clusters = tuple(
        TurnCluster(c.leader, c.count, tuple(f"{turns[i][1]}#{turns[i][2]}" for i in c.members[:examples]))
        for c in index.clusters(min_count=2)[:top]
    )
    return WordsBehind(scope, day, days, len(turns), words, clusters)
