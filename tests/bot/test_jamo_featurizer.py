"""The jamo featurizer: Rasa's count featurizer over tokens spelled as jamo."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.jamo_featurizer import JamoCountVectorsFeaturizer
from tests.bot.nlu_components import created, tokenized

TEXTS = ["할인 되나요", "배달 되나요", "주차 돼요"]


def _sentence(component, text: str):
    message = tokenized(text)
    component.process([message])
    (features,) = [f for f in message.features if f.type == "sentence"]
    return features.features.toarray()[0]


def test_a_word_misheard_by_one_jamo_shares_most_of_its_features(tmp_path: Path) -> None:
    component, storage, resource = created(
        JamoCountVectorsFeaturizer, tmp_path, "jamo", analyzer="char_wb", min_ngram=2, max_ngram=3
    )
    component.train(TrainingData([tokenized(t, "x") for t in TEXTS]))
    said, heard, other = (_sentence(component, t) for t in ("할인", "활인", "배달"))

    def shared(a, b) -> float:  # the share of a's n-grams that b has too
        return float(((a > 0) & (b > 0)).sum()) / max(1.0, float((a > 0).sum()))

    assert shared(said, heard) >= 0.3 and shared(said, other) < shared(said, heard)
    # persisted and loaded, it gives the same features
    component.persist()
    loaded = JamoCountVectorsFeaturizer.load(
        component._config, storage, resource, ExecutionContext(GraphSchema({}), node_name="jamo")
    )
    assert (_sentence(loaded, "활인") == heard).all()
