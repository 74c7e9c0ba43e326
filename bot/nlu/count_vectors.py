"""Rasa 3.6's CountVectorsFeaturizer making its features with one vectorizer call per attribute.

Rasa's featurizer (its `process`, which also featurizes the training data) calls scikit-learn's
`transform` twice per message (the tokens, then the sentence):
for the router's 10,000 training examples and three such featurizers that is 60,000 calls whose fixed
cost (input checks, building the analyzer) dwarfs the counting, about a fifth of a model's training.
Here all messages' tokens go through one `transform` and all sentences through another, and the rows
are cut per message: each row of a count matrix depends on its own document only, so the features are
the same matrices, and the models trained on them the same models. Where the analyzer cannot reach
across a space (words, or `char_wb` n-grams), a sentence's counts are the sum of its tokens' counts, so
the sentences are not analysed a second time; each message's rows are cut from the count matrix's arrays
directly. Vocabulary, persistence and everything else are Rasa's.

Refer to it in a Rasa config as `bot.nlu.count_vectors.BatchCountVectorsFeaturizer`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.training_data.message import Message
from sklearn.feature_extraction.text import CountVectorizer


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class BatchCountVectorsFeaturizer(CountVectorsFeaturizer):
    """CountVectorsFeaturizer whose features for many messages come from one `transform` per kind."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Rasa's `process`, each attribute's features made for all messages at once. A message gets
        its features in the same order as from Rasa's (attribute by attribute, sequence then sentence)."""
        if self.vectorizers is None or not messages:
            return super().process(messages)  # Rasa's error message when untrained
        for attribute in self._attributes:
            if not self.vectorizers.get(attribute):
                continue  # Rasa adds nothing for such an attribute
            all_tokens = [self._get_processed_message_tokens_by_attribute(m, attribute) for m in messages]
            sequence, sentence = self._create_features(attribute, all_tokens)
            for message, seq, sent in zip(messages, sequence, sentence, strict=True):
                self.add_features_to_message(seq, sent, attribute, message)
        return messages

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
        per_token.sort_indices()  # as Rasa's featurizer: COO entries in row, then column order
        lengths = np.fromiter((len(all_tokens[i]) for i in present), dtype=np.int64, count=len(present))
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        per_sentence = None
        if attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            if _counts_add_up(vectorizer):
                per_sentence = _row_sums(per_token, bounds)
            else:
                per_sentence = vectorizer.transform([" ".join(all_tokens[i]) for i in present])
            per_sentence.sort_indices()
        for row, i in enumerate(present):
            sequence[i] = _rows(per_token, bounds[row], bounds[row + 1])
            if per_sentence is not None:
                sentence[i] = _rows(per_sentence, row, row + 1)
        return sequence, sentence


def _counts_add_up(vectorizer: CountVectorizer) -> bool:
    """Whether the counts of tokens joined by spaces are the sums of each token's counts: no feature
    spans a space (single words, or character n-grams within words) and counts are not capped at 1."""
    if vectorizer.binary or not isinstance(vectorizer.analyzer, str):
        return False
    if vectorizer.analyzer == "char_wb":
        return True
    return vectorizer.analyzer == "word" and vectorizer.ngram_range[1] == 1


def _row_sums(matrix: scipy.sparse.csr_matrix, bounds: np.ndarray) -> scipy.sparse.csr_matrix:
    """Row k: the sum of `matrix`'s rows bounds[k] .. bounds[k + 1] - 1 (exact integer counts)."""
    groups = len(bounds) - 1
    summing = scipy.sparse.csr_matrix(
        (np.ones(matrix.shape[0], dtype=matrix.dtype), np.arange(matrix.shape[0]), bounds),
        shape=(groups, matrix.shape[0]),
    )
    return (summing @ matrix).tocsr()


def _rows(matrix: scipy.sparse.csr_matrix, start: int, end: int) -> scipy.sparse.coo_matrix:
    """`matrix[start:end].tocoo()`, taken from the CSR arrays without slicing machinery."""
    lo, hi = matrix.indptr[start], matrix.indptr[end]
    counts = np.diff(matrix.indptr[start : end + 1])
    row = np.repeat(np.arange(end - start, dtype=matrix.indices.dtype), counts)
    return scipy.sparse.coo_matrix(
        (matrix.data[lo:hi], (row, matrix.indices[lo:hi])),
        shape=(int(end - start), matrix.shape[1]),
        dtype=matrix.dtype,
        copy=True,
    )
