"""A Rasa 3.6 featurizer that tells the classifier which content words it has never seen in business data.

Chit-chat often shares one everyday word with a business intent ("뮤지컬 할인 받는 방법" shares 할인 with
menu_discount). A bag-of-n-grams classifier sees only the shared word, because an unseen word carries
no learned weight, and answers the business intent with full confidence. This component adds the
missing signal: for every content token (noun, foreign word, root) whether its lemma occurs in the
in-scope training examples (every intent except the rejection class).

The classifier can only learn what that signal means if training examples carry it too, so training
marks words leave-one-out: an in-scope example's word counts as new when no more than `rare_max_df`
in-scope examples contain it (itself and its augmented siblings), as it would be for a caller who says
something the sheet never said. Rejection-class examples mark every word absent from in-scope data.
The model then learns from the data how much a new word says "out of scope", for any company's data.

Refer to it in a Rasa config as `bot.nlu.novelty.NoveltyFeaturizer` (after the tokenizer).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.decision import is_rejection_class
from bot.nlu.kiwi_tokenizer import POS

logger = logging.getLogger(__name__)

VOCAB_FILE = "vocabulary.json"


def content_words(tokens: list[Token], tags: tuple[str, ...]) -> list[tuple[int, str]]:
    """`(token index, lemma)` of the content tokens. Tokens without a tag (whitespace tokenizer) all count."""
    out = []
    for i, token in enumerate(tokens):
        tag = token.get(POS)
        if tag is None or tag in tags:
            word = (token.lemma or token.text).lower()
            if word and not word.isdigit():
                out.append((i, word))
    return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class NoveltyFeaturizer(SparseFeaturizer, GraphComponent):
    """Features per token `[new content word, known content word]`; per sentence `[any new, share new]`."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "content_tags": ["NNG", "NNP", "SL", "XR"],
            "out_of_scope_intents": ["out_of_scope"],
            "rare_max_df": 2,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._tags = tuple(config["content_tags"])
        self._rejection = tuple(config["out_of_scope_intents"])
        self._rare = int(config["rare_max_df"])
        self.vocabulary: dict[str, int] = vocabulary or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NoveltyFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NoveltyFeaturizer:
        try:
            with model_storage.read_from(resource) as folder:
                vocabulary = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f"{cls.__name__}: no vocabulary in the trained model ({exc})") from exc
        return cls(config, model_storage, resource, execution_context, vocabulary=vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        """Count, per content word, the in-scope training examples that contain it."""
        counts: Counter[str] = Counter()
        for example in training_data.intent_examples:
            if is_rejection_class(example.get(INTENT), self._rejection):
                continue
            tokens = example.get(TOKENS_NAMES[TEXT]) or []
            counts.update({word for _, word in content_words(tokens, self._tags)})
        self.vocabulary = dict(sorted(counts.items()))
        with self._model_storage.write_to(self._resource) as folder:
            (folder / VOCAB_FILE).write_text(
                json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8"
            )
        logger.debug("bot.nlu.novelty.trained words=%d", len(self.vocabulary))
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            if not example.get(TEXT) or not example.get(TOKENS_NAMES[TEXT]):
                continue
            if example.get(INTENT) and not is_rejection_class(example.get(INTENT), self._rejection):
                self._featurize(example, max_df=self._rare)  # leave-one-out: rare words count as new
            else:
                self._featurize(example, max_df=0)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if message.get(TEXT) and message.get(TOKENS_NAMES[TEXT]):
                self._featurize(message, max_df=0)
        return messages

    def new_words(self, tokens: list[Token], max_df: int = 0) -> list[str]:
        """The content lemmas of `tokens` seen in at most `max_df` in-scope training examples."""
        return [w for _, w in content_words(tokens, self._tags) if self.vocabulary.get(w, 0) <= max_df]

    def _featurize(self, message: Message, max_df: int) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT])
        words = content_words(tokens, self._tags)
        sequence = np.zeros((len(tokens), 2))
        new = 0
        for index, word in words:
            is_new = self.vocabulary.get(word, 0) <= max_df
            sequence[index, 0 if is_new else 1] = 1.0
            new += is_new
        sentence = np.zeros((1, 2))
        if words:
            sentence[0] = [1.0 if new else 0.0, new / len(words)]
        self.add_features_to_message(
            scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence), TEXT, message
        )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("rare_max_df", 0)) < 0:
            raise ValueError("NoveltyFeaturizer: rare_max_df must be >= 0")
