"""Near-duplicate clusters of short Korean texts: the same request said or heard slightly differently.

Operators label one turn and apply the label to the turns like it; drift reports group new refused
turns the same way. Texts are compared as TF-IDF vectors of jamo n-grams (`data.jamo.decompose`), so
"학생 할인 되나요", "학생 활인 되나요" and "학생할인 돼요" land together while "배달 되나요" does not.
Clusters are formed greedily: the most frequent text not yet placed leads a cluster and takes every
unplaced text at least `threshold` similar to it. Deterministic for the same input.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from data.jamo import decompose

DEFAULT_THRESHOLD = 0.6
_NOT_TEXT = re.compile(r"[^\w\s]|_")


@dataclass(frozen=True)
class Cluster:
    """Texts that say the same thing: `leader` (the most frequent), `members` (indices into the input,
    the leader's first) and how many inputs that is."""

    leader: str
    members: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.members)


def normalize(text: str) -> str:
    """The form texts are compared in: NFC, punctuation dropped, spaces collapsed, lower case."""
    text = unicodedata.normalize("NFC", text or "")
    return " ".join(_NOT_TEXT.sub(" ", text).split()).lower()


class NearDuplicates:
    """An index of texts whose near duplicates can be asked for (`similar`) or clustered (`clusters`)."""

    def __init__(self, texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.texts = list(texts)
        self.threshold = threshold
        self._keys = [normalize(t) for t in self.texts]
        self._unique = list(dict.fromkeys(k for k in self._keys))
        self._where = {k: i for i, k in enumerate(self._unique)}
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, preprocessor=decompose
        )
        usable = [k for k in self._unique if k]
        self._matrix = self._vectorizer.fit_transform(self._unique) if usable else None

    def similar(self, text: str, threshold: float | None = None) -> list[tuple[int, float]]:
        """`(index, similarity)` of every input text at least `threshold` similar to `text`, most
        similar first (the text itself, when it is an input, comes first with 1.0)."""
        key = normalize(text)
        if self._matrix is None or not key:
            return []
        limit = self.threshold if threshold is None else threshold
        sims = (self._matrix @ self._vectorizer.transform([key]).T).toarray().ravel()
        if key in self._where:
            sims[self._where[key]] = 1.0
        hits = {u: float(s) for u, s in enumerate(sims) if s >= limit - 1e-9}
        found = [(i, hits[self._where[k]]) for i, k in enumerate(self._keys) if self._where[k] in hits]
        return sorted(found, key=lambda p: (-p[1], p[0]))

    def clusters(self, min_count: int = 1) -> list[Cluster]:
        """Every input in one cluster; the clusters of at least `min_count` texts, largest first."""
        counts = Counter(self._keys)
        members: dict[str, list[int]] = {}
        for i, k in enumerate(self._keys):
            members.setdefault(k, []).append(i)
        order = sorted(self._unique, key=lambda k: (-counts[k], members[k][0]))
        placed: set[str] = set()
        found: list[Cluster] = []
        for key in order:
            if key in placed:
                continue
            group = [key]
            placed.add(key)
            if key and self._matrix is not None:
                row = self._matrix[self._where[key]]
                sims = (self._matrix @ row.T).toarray().ravel()
                for u in np.flatnonzero(sims >= self.threshold - 1e-9):
                    other = self._unique[u]
                    if other not in placed:
                        placed.add(other)
                        group.append(other)
            indices = [i for k in group for i in members[k]]
            found.append(Cluster(self.texts[members[key][0]], tuple(indices)))
        found.sort(key=lambda c: (-c.count, c.members[0]))
        return [c for c in found if c.count >= min_count]
