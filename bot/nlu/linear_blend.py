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
from typing import Any

import scipy.sparse
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
    """TF-IDF character and token n-grams -> multinomial logistic regression."""

    def __init__(self, config: dict[str, Any]) -> None:
        lo, hi = config["char_ngrams"]
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True)
        self.tokens = TfidfVectorizer(
            analyzer="word", token_pattern=r"\S+", lowercase=False, sublinear_tf=True
        )
        self.classifier = LogisticRegression(C=float(config["C"]), max_iter=int(config["max_iter"]))

    def fit(self, texts: list[str], tokens: list[str], labels: list[str]) -> None:
        features = scipy.sparse.hstack([self.chars.fit_transform(texts), self.tokens.fit_transform(tokens)])
        self.classifier.fit(features.tocsr(), labels)

    def probabilities(self, text: str, tokens: str) -> dict[str, float]:
        features = scipy.sparse.hstack([self.chars.transform([text]), self.tokens.transform([tokens])])
        row = self.classifier.predict_proba(features.tocsr())[0]
        return {str(label): float(p) for label, p in zip(self.classifier.classes_, row, strict=True)}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearBlendClassifier(IntentClassifier, GraphComponent):
    """Blend DIET's intent ranking with a logistic regression's; rewrites `intent` and `intent_ranking`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"linear_weight": 0.5, "char_ngrams": [1, 4], "C": 10.0, "max_iter": 3000}

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
