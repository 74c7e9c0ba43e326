"""Rasa 3.6's CountVectorsFeaturizer making its features with one vectorizer call per attribute.

Rasa's featurizer calls scikit-learn's `transform` twice per message (the tokens, then the sentence):
for the router's 10,000 training examples and three such featurizers that is 60,000 calls whose fixed
cost (input checks, building the analyzer) dwarfs the counting, about a fifth of a model's training.
Here all messages' tokens go through one `transform` and all sentences through another, and the rows
are cut per message: each row of a count matrix depends on its own document only, so the features are
the same matrices, and the models trained on them the same models. Vocabulary, persistence and
everything else are Rasa's.

Refer to it in a Rasa config as `bot.nlu.count_vectors.BatchCountVectorsFeaturizer`.
"""

from __future__ import annotations

import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class BatchCountVectorsFeaturizer(CountVectorsFeaturizer):
    """CountVectorsFeaturizer whose features for many messages come from one `transform` per kind."""

    def _create_features(
        self, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[scipy.sparse.spmatrix | None], list[scipy.sparse.spmatrix | None]]:
        vectorizer = self.vectorizers.get(attribute)
        if not vectorizer:
            return [None], [None]
        sequence: list[scipy.sparse.spmatrix | None] = [None] * len(all_tokens)
        sentence: list[scipy.sparse.spmatrix | None] = [None] * len(all_tokens)
        present = [i for i, tokens in enumerate(all_tokens) if tokens]  # nothing to featurize: None
        if not present:
            return sequence, sentence
        # [n_tokens, n_features]: one row per token of every message, in order
        per_token = vectorizer.transform([token for i in present for token in all_tokens[i]])
        per_sentence = (
            vectorizer.transform([" ".join(all_tokens[i]) for i in present])
            if attribute in DENSE_FEATURIZABLE_ATTRIBUTES
            else None
        )
        start = 0
        for row, i in enumerate(present):
            end = start + len(all_tokens[i])
            sequence[i] = _coo(per_token[start:end])
            start = end
            if per_sentence is not None:
                sentence[i] = _coo(per_sentence[row : row + 1])
        return sequence, sentence


def _coo(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.coo_matrix:
    matrix.sort_indices()  # as Rasa's featurizer: COO entries in row, then column order
    return matrix.tocoo()
