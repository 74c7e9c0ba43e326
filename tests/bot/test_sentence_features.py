"""DIET without transformer layers gets only the sentence features when there are no entities
(bot.nlu.sentence_features): the same model, trained and parsing on half the input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import yaml
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import BotSettings
from bot.nlu.graph_train import train_model
from bot.nlu.heldout import parse_all
from bot.nlu.parser import load_agent
from bot.nlu.sentence_features import SentenceFeaturesOnly
from bot.pipeline import SENTENCE_FEATURES_ONLY, pipeline_config
from tests.bot.test_train_fixtures import COMMON, DOMAINS, nlu_yaml


def _message(text: str, tokens: int, entities: list | None = None) -> Message:
    message = Message({TEXT: text, INTENT: "x", **({ENTITIES: entities} if entities else {})})
    seq = scipy.sparse.coo_matrix(np.arange(1, tokens * 5 + 1, dtype=float).reshape(tokens, 5))
    sent = scipy.sparse.coo_matrix(np.ones((1, 5)))
    message.features = [
        Features(seq, FEATURE_TYPE_SEQUENCE, TEXT, "a"),
        Features(sent, FEATURE_TYPE_SENTENCE, TEXT, "a"),
        Features(scipy.sparse.coo_matrix(np.ones((1, 2))), FEATURE_TYPE_SENTENCE, INTENT, "b"),
    ]
    return message


def _component(tmp_path: Path) -> SentenceFeaturesOnly:
    storage = LocalModelStorage(tmp_path)
    return SentenceFeaturesOnly.create(
        {}, storage, Resource("sent"), ExecutionContext(None, node_name="sent")
    )


def _load(component: SentenceFeaturesOnly, tmp_path: Path) -> SentenceFeaturesOnly:
    return SentenceFeaturesOnly.load(
        {}, LocalModelStorage(tmp_path), Resource("sent"), ExecutionContext(None, node_name="sent")
    )


def test_without_entities_token_features_become_one_column_per_token(tmp_path: Path) -> None:
    component = _component(tmp_path)
    data = TrainingData([_message("가격 알려줘", 3), _message("예약", 1)])
    component.train(data)
    assert component.drop
    component.process_training_data(data)
    for example, tokens in zip(data.training_examples, [3, 1], strict=True):
        seq = [f for f in example.features if f.type == FEATURE_TYPE_SEQUENCE]
        assert len(seq) == 1 and seq[0].attribute == TEXT and seq[0].origin == "sent"
        assert seq[0].features.toarray().tolist() == [[1.0]] * tokens  # one row per token kept
        # the sentence features (and other attributes') untouched, in their order
        rest = [(f.type, f.attribute, f.features.toarray().tolist()) for f in example.features[:-1]]
        assert rest == [
            (FEATURE_TYPE_SENTENCE, TEXT, [[1.0] * 5]),
            (FEATURE_TYPE_SENTENCE, INTENT, [[1.0] * 2]),
        ]

    # the decision is part of the trained model: a loaded component drops at parse time too
    loaded = _load(component, tmp_path)
    message = _message("할인 돼요", 2)
    loaded.process([message])
    assert [f.features.shape for f in message.features if f.type == FEATURE_TYPE_SEQUENCE] == [(2, 1)]


def test_with_entity_examples_nothing_is_dropped(tmp_path: Path) -> None:
    component = _component(tmp_path)
    entity = [{"start": 0, "end": 3, "value": "강남점", "entity": "store"}]
    data = TrainingData([_message("강남점 예약", 2, entity), _message("예약", 1)])
    component.train(data)
    assert not component.drop
    before = [f.features.toarray().tolist() for f in data.training_examples[0].features]
    component.process_training_data(data)
    assert [f.features.toarray().tolist() for f in data.training_examples[0].features] == before
    message = _message("할인", 1)
    _load(component, tmp_path).process([message])
    assert [f.features.shape for f in message.features if f.type == FEATURE_TYPE_SEQUENCE] == [(1, 5)]


def test_only_without_transformer_layers() -> None:
    names = [c["name"] for c in pipeline_config(BotSettings(), router=True)["pipeline"]]
    assert names.index(SENTENCE_FEATURES_ONLY) == names.index("DIETClassifier") - 1
    with_transformer = pipeline_config(replace(BotSettings(), transformer_layers=1), router=False)
    assert SENTENCE_FEATURES_ONLY not in [c["name"] for c in with_transformer["pipeline"]]


@pytest.mark.parametrize("router", [True, False])
def test_the_model_parses_as_with_the_token_features(tmp_path: Path, router: bool) -> None:
    """DIET reads the sentence position only: trained without the token features it is the same model."""
    intents = {**DOMAINS["menu"], **COMMON} if not router else {
        name: [t for ts in d.values() for t in ts] for name, d in DOMAINS.items()
    }  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()
    (data / "nlu.yml").write_text(nlu_yaml(intents), encoding="utf-8")
    domain = None
    if not router:
        domain = tmp_path / "domain.yml"
        domain.write_text(yaml.safe_dump({"version": "3.1", "intents": list(intents)}), encoding="utf-8")
    settings = replace(BotSettings(), epochs=8, router_epochs=8, jamo_ngrams=(2, 3))
    parses = {}
    for drop in (True, False):
        config = pipeline_config(settings, router=router)
        if not drop:
            config["pipeline"] = [c for c in config["pipeline"] if c["name"] != SENTENCE_FEATURES_ONLY]
        path = tmp_path / f"config-{drop}.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        archive = train_model(path, data, tmp_path / f"model-{drop}.tar.gz", domain)
        texts = ["짬뽕 가격 얼마예요", "추천 좀 해 줘", "예약 취소요", "주식 시세 알려줘", "안녕"]
        parses[drop] = parse_all(load_agent(archive), texts)
    for lean, full in zip(parses[True], parses[False], strict=True):
        assert lean["intent"]["name"] == full["intent"]["name"]
        got = {r["name"]: r["confidence"] for r in lean["intent_ranking"]}
        want = {r["name"]: r["confidence"] for r in full["intent_ranking"]}
        assert got.keys() == want.keys()
        np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-4, atol=1e-6)
