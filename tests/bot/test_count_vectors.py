"""The batched count featurizer: the same features as Rasa's CountVectorsFeaturizer, made all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.count_vectors import BatchCountVectorsFeaturizer
from tests.bot.nlu_components import created, tokenized

TRAIN = [
    ("강남점 주차 되나요", "store_parking"),
    ("예약하고 싶어요", "reservation_make"),
    ("두 명 예약할게요", "reservation_make"),
    ("할인 되나요?", "menu_discount"),
    ("배달 돼", "delivery_availability"),
]
LATER = ["활인 돼요", "주차", "모레 저녁 7시에 잠실점 네 명 예약", "ㅋㅋ"]


def _features(message) -> list[tuple]:
    """Each feature matrix as it is stored: its type, shape, dtypes and entries in stored order."""
    out = []
    for f in message.features:
        m = f.features
        entries = list(zip(m.row.tolist(), m.col.tolist(), m.data.tolist(), strict=True))
        out.append((f.type, f.attribute, type(m).__name__, m.shape, str(m.dtype), str(m.row.dtype), entries))
    return sorted(out)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        # sentences analysed on their own: n-grams across tokens
        {"min_ngram": 1, "max_ngram": 2},
        {"analyzer": "char", "min_ngram": 2, "max_ngram": 3},
    ],
)
def test_batched_features_are_rasas_features(tmp_path: Path, config: dict) -> None:
    ours, *_ = created(BatchCountVectorsFeaturizer, tmp_path, "ours", **config)
    rasas, *_ = created(CountVectorsFeaturizer, tmp_path, "rasa", **config)
    data = {}
    for name, component in (("ours", ours), ("rasa", rasas)):
        training = TrainingData([tokenized(t, i) for t, i in TRAIN])
        component.train(training)
        component.process_training_data(training)  # every training example at once
        later = [tokenized(t) for t in LATER]
        component.process(later)  # a batch of new messages, as a batched parse sends them
        data[name] = [_features(m) for m in [*training.training_examples, *later]]
    assert data["ours"] == data["rasa"]
    assert all(f for f in data["ours"])  # every message got features
