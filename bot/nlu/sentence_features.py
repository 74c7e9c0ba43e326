"""A Rasa 3.6 pipeline step that leaves DIET only the features it reads: the sentence's.

Every featurizer gives a message two kinds of features: one row per token (sequence) and one for the
whole text (sentence). DIET without transformer layers classifies the intent from the sentence
position alone: each position goes through its own dense layers, nothing mixes positions, so the token
rows matter only to entity recognition. Yet DIET packs, densifies and multiplies every token row of
every example, every batch of every epoch; for bags of word, character and jamo n-grams that is as much
input again as the sentences. Where the training data has no entity examples (DIET then turns entity
recognition off itself), this step replaces the text's token features before DIET, in training and
when parsing, by one column of ones per token (DIET's layers need some token features), and the model
learns and predicts from the same sentence features with about half the work: on the sample, the whole
training took a third less CPU and every parse came out the same (docs/benchmarks.md). With entity
examples it changes nothing: DIET reads the tokens then. `bot.pipeline` puts it in only without
transformer layers (a transformer mixes the tokens into the sentence position).

Refer to it in a Rasa config as `bot.nlu.sentence_features.SentenceFeaturesOnly` (right before DIET).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

STATE_FILE = "sentence_features.json"


def drop_token_features(message: Message, origin: str) -> None:
    """Replace the text's token-level (sequence) features of `message` by one column of ones (DIET's
    layers need some token features; one column per token costs nothing); the rest keeps its order."""
    tokens = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SEQUENCE]
    if not tokens:
        return
    kept = [f for f in message.features if not (f.attribute == TEXT and f.type == FEATURE_TYPE_SEQUENCE)]
    ones = scipy.sparse.coo_matrix(np.ones((tokens[0].features.shape[0], 1), dtype=np.float32))
    message.features = [*kept, Features(ones, FEATURE_TYPE_SEQUENCE, TEXT, origin)]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceFeaturesOnly(GraphComponent):
    """Replaces the text's token features when the training data has no entities to recognise."""

    def __init__(
        self, model_storage: ModelStorage, resource: Resource, name: str, drop: bool = False
    ) -> None:
        self._model_storage = model_storage
        self._name = name
        self._resource = resource
        self.drop = drop

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceFeaturesOnly:
        return cls(model_storage, resource, execution_context.node_name)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceFeaturesOnly:
        try:
            with model_storage.read_from(resource) as folder:
                state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f"{cls.__name__}: no {STATE_FILE} in the trained model ({exc})") from exc
        return cls(
            model_storage, resource, execution_context.node_name, drop=bool(state["drop_token_features"])
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Decide once, from the training data: replace the token features unless an example has entities."""
        self.drop = not any(example.get(ENTITIES) for example in training_data.training_examples)
        with self._model_storage.write_to(self._resource) as folder:
            (folder / STATE_FILE).write_text(json.dumps({"drop_token_features": self.drop}), encoding="utf-8")
        logger.debug("bot.nlu.sentence_features.trained drop_token_features=%s", self.drop)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        if self.drop:
            for example in training_data.training_examples:
                drop_token_features(example, self._name)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self.drop:
            for message in messages:
                drop_token_features(message, self._name)
        return messages
