"""Labelling unlabelled chat-log turns with the intent of the most similar QnA question.

Character n-gram TF-IDF with cosine similarity: robust to Korean spacing and endings without a
tokenizer. Turns whose best similarity is under the threshold are returned unlabelled for review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

CHUNK = 4096


@dataclass(frozen=True)
class Match:
    intent: str | None
    domain: str | None
    score: float
    best_intent: str
    best_question: str


class IntentMatcher:
    """Index of labelled questions; `match` finds each text's nearest question."""

    def __init__(self, questions: list[str], intents: list[str], domains: list[str]) -> None:
        if not questions:
            raise ValueError("IntentMatcher needs at least one labelled question")
        self.questions = questions
        self.intents = intents
        self.domains = domains
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(questions).T.tocsr()

    def match(self, texts: list[str], threshold: float) -> list[Match]:
        """Best question per text; below `threshold` the match carries no intent."""
        unique = list(dict.fromkeys(texts))
        best: dict[str, Match] = {}
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            sims = (self.vectorizer.transform(chunk) @ self.matrix).toarray()
            idx = sims.argmax(axis=1)
            scores = sims[np.arange(len(chunk)), idx]
            for text, i, s in zip(chunk, idx, scores, strict=True):
                ok = float(s) >= threshold
                best[text] = Match(
                    intent=self.intents[i] if ok else None,
                    domain=self.domains[i] if ok else None,
                    score=round(float(s), 4),
                    best_intent=self.intents[i],
                    best_question=self.questions[i],
                )
        return [best[t] for t in texts]
