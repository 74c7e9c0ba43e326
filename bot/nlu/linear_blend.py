"""A Rasa 3.6 intent classifier that blends DIET's intent distribution with a linear model's.

DIET over bags of n-grams and a logistic regression over TF-IDF n-grams make different mistakes on
small intent data: DIET generalises casual and clipped speech better, the linear model keeps long
polite questions on their content words. Averaging the two distributions is a cheap ensemble: on the
sample's eval sets it was right more often than either model alone (see the README).

The component runs after DIET (configure DIET with `ranking_length: 0` so that its whole distribution is
there), trains its own vectorizers and classifier on the same training examples, and rewrites `intent`
and `intent_ranking` as `(1 - linear_weight) * DIET + linear_weight * linear`. Features: character
n-grams within word boundaries and the tokenizer's tokens with their POS tag (Kiwi), both TF-IDF.

Refer to it in a Rasa config as `bot.nlu.linear_blend.LinearBlendClassifier` (after DIETClassifier).
"""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse
import scipy.special
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.kiwi_tokenizer import POS
from data.jamo import decompose

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_blend.pkl"


def token_string(message: Message) -> str:
    """The message's tokens as `text/POS` words (`text` alone without a tag), space separated."""
    words = []
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        tag = token.get(POS)
        words.append(f"{token.text.lower()}/{tag}" if tag else token.text.lower())
    return " ".join(words)


class _LinearModel:
    """TF-IDF character and token n-grams -> multinomial logistic regression.

    `probabilities` scores one text with the fitted vocabularies, IDF weights and coefficients directly
    (about 0.1 ms); going through sklearn's `transform` and `predict_proba` costs ~1.2 ms per call, twice
    per caller turn (router and domain). `features` is the sklearn path, for checks.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        lo, hi = config["char_ngrams"]
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True)
        self.tokens = TfidfVectorizer(
            analyzer="word", token_pattern=r"\S+", lowercase=False, sublinear_tf=True
        )
        jamo = config.get("jamo_ngrams")
        self.jamo = (
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=tuple(jamo), sublinear_tf=True, preprocessor=decompose
            )
            if jamo
            else None
        )
        # Newton-CG reaches the (unique) optimum of this convex problem in ~17 steps where L-BFGS took
        # 90-160, 2-3x less CPU on the sample's models, and closer to it (docs/benchmarks.md).
        self.classifier = LogisticRegression(
            C=float(config["C"]), max_iter=int(config["max_iter"]), solver=str(config["solver"])
        )

    def vectorizers(self) -> list[tuple[TfidfVectorizer, int]]:
        """Each vectorizer with the input it reads: 0 the text, 1 the tokens."""
        parts = [(self.chars, 0), (self.tokens, 1)]
        return [*parts, (self.jamo, 0)] if getattr(self, "jamo", None) is not None else parts

    def fit(self, texts: list[str], tokens: list[str], labels: list[str]) -> None:
        inputs = (texts, tokens)
        features = scipy.sparse.hstack([v.fit_transform(inputs[i]) for v, i in self.vectorizers()])
        self.classifier.fit(features.tocsr(), labels)

    def features(self, text: str, tokens: str) -> scipy.sparse.csr_matrix:
        inputs = (text, tokens)
        return scipy.sparse.hstack([v.transform([inputs[i]]) for v, i in self.vectorizers()]).tocsr()

    def probabilities(self, text: str, tokens: str) -> dict[str, float]:
        if not hasattr(self, "_lean"):
            self._lean = _LeanScorer(self)
        return self._lean.probabilities(text, tokens)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lean"}  # rebuilt after loading


class _LeanScorer:
    """The fitted vectorizers and classifier as plain lookups: the same numbers for one text, less overhead."""

    def __init__(self, model: _LinearModel) -> None:
        self._parts = []
        offset = 0
        for vectorizer, which in model.vectorizers():
            analyzer = vectorizer.build_analyzer()
            self._parts.append((analyzer, vectorizer.vocabulary_, vectorizer.idf_, offset, which))
            offset += len(vectorizer.vocabulary_)
        clf = model.classifier
        self._coef = clf.coef_
        self._intercept = clf.intercept_
        self._labels = [str(c) for c in clf.classes_]

    def probabilities(self, text: str, tokens: str) -> dict[str, float]:
        columns: list[int] = []
        values: list[float] = []
        for analyze, vocabulary, idf, offset, which in self._parts:
            doc = (text, tokens)[which]
            counts = Counter(i for i in map(vocabulary.get, analyze(doc)) if i is not None)
            if not counts:
                continue
            ids = np.fromiter(counts.keys(), dtype=np.int64)
            weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * idf[ids]
            weights /= np.sqrt(weights @ weights)  # l2 norm per vectorizer, as TfidfVectorizer does
            columns.extend((ids + offset).tolist())
            values.extend(weights.tolist())
        scores = self._coef[:, columns] @ np.asarray(values) + self._intercept
        if len(self._labels) == 2:  # binary: one logistic unit for the second class
            p = float(scipy.special.expit(scores[0]))
            return {self._labels[0]: 1.0 - p, self._labels[1]: p}
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return {label: float(p) for label, p in zip(self._labels, probs, strict=True)}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearBlendClassifier(IntentClassifier, GraphComponent):
    """Blend DIET's intent ranking with a logistic regression's; rewrites `intent` and `intent_ranking`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "linear_weight": 0.5,
            "char_ngrams": [1, 4],
            "jamo_ngrams": None,
            "C": 10.0,
            "max_iter": 3000,
            "solver": "newton-cg",
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: _LinearModel | None = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._weight = float(config["linear_weight"])
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearBlendClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearBlendClassifier:
        try:
            with model_storage.read_from(resource) as folder:
                model = pickle.loads((folder / MODEL_FILE).read_bytes())
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f"{cls.__name__}: no linear model in the trained model ({exc})") from exc
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        labels = [e.get(INTENT) for e in examples]
        if len(set(labels)) < 2:
            raise ValueError(f"{type(self).__name__}: needs at least two intents, got {sorted(set(labels))}")
        model = _LinearModel(self.component_config)
        model.fit([e.get(TEXT) for e in examples], [token_string(e) for e in examples], labels)
        self.model = model
        with self._model_storage.write_to(self._resource) as folder:
            (folder / MODEL_FILE).write_bytes(pickle.dumps(model))
        logger.debug("bot.nlu.linear_blend.trained examples=%d intents=%d", len(examples), len(set(labels)))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if self.model is not None and message.get(TEXT):
                self._blend(message)
        return messages

    def blended(self, message: Message) -> list[tuple[str, float]]:
        """(intent, blended confidence) pairs, best first, for a message DIET has classified."""
        assert self.model is not None
        diet = {
            r[INTENT_NAME_KEY]: float(r[PREDICTED_CONFIDENCE_KEY])
            for r in message.get(INTENT_RANKING_KEY) or []
        }
        linear = self.model.probabilities(message.get(TEXT), token_string(message))
        w = self._weight
        mixed = {
            name: (1 - w) * diet.get(name, 0.0) + w * linear.get(name, 0.0)
            for name in diet.keys() | linear.keys()
        }
        return sorted(mixed.items(), key=lambda item: (-item[1], item[0]))

    def _blend(self, message: Message) -> None:
        ranking = self.blended(message)
        best, confidence = ranking[0]
        message.set(INTENT, {INTENT_NAME_KEY: best, PREDICTED_CONFIDENCE_KEY: confidence}, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY,
            [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c} for n, c in ranking],
            add_to_output=True,
        )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not 0.0 <= float(config.get("linear_weight", 0.5)) <= 1.0:
            raise ValueError("LinearBlendClassifier: linear_weight must be between 0 and 1")
