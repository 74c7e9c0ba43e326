"""The novelty featurizer: which content words the business examples never contain, leave-one-out in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import BotSettings
from bot.nlu.novelty import NoveltyFeaturizer
from bot.pipeline import NOVELTY_FEATURIZER, pipeline_config
from tests.bot.nlu_components import created, tokenized

TRAIN = [
    ("주차 되나요?", "store_parking"),
    ("주차장 있어요?", "store_parking"),
    ("주차 무료예요?", "store_parking"),
    ("할인 카드 있어요?", "menu_discount"),
    ("생일 할인 돼요?", "menu_discount"),
    ("할인 쿠폰 써도 돼요?", "menu_discount"),
    ("뮤지컬 표 예매해 줘", "common_out_of_scope"),
    ("주식 어때요", "common_out_of_scope"),
]


def _component(tmp_path: Path, **config: object) -> tuple[NoveltyFeaturizer, LocalModelStorage, Resource]:
    return created(NoveltyFeaturizer, tmp_path, "novelty", **config)


def _sentence(message: Message) -> np.ndarray:
    features = [f for f in message.features if f.type == "sentence" and f.origin == "novelty"]
    assert len(features) == 1
    return features[0].features.toarray()[0]


@pytest.fixture()
def trained(tmp_path: Path) -> NoveltyFeaturizer:
    component, _, _ = _component(tmp_path, out_of_scope_intents=["out_of_scope"], rare_max_df=1)
    data = TrainingData([tokenized(t, i) for t, i in TRAIN])
    component.train(data)
    return component


def test_vocabulary_counts_in_scope_examples_only(trained: NoveltyFeaturizer) -> None:
    assert trained.vocabulary["주차"] == 2  # "주차장" is its own noun
    assert trained.vocabulary["할인"] == 3
    assert "뮤지컬" not in trained.vocabulary and "주식" not in trained.vocabulary


def test_unseen_noun_next_to_a_business_word_is_marked_new(trained: NoveltyFeaturizer) -> None:
    chat = tokenized("뮤지컬 할인 받는 방법")
    business = tokenized("할인 돼요?")
    trained.process([chat, business])
    assert trained.new_words(chat.get("text_tokens")) == ["뮤지컬", "방법"]
    any_new, share = _sentence(chat)
    assert any_new == 1.0 and 0 < share < 1
    assert list(_sentence(business)) == [0.0, 0.0]


def test_training_marks_rare_words_leave_one_out(trained: NoveltyFeaturizer) -> None:
    data = TrainingData([tokenized(t, i) for t, i in TRAIN])
    trained.process_training_data(data)
    by_text = {m.get("text"): _sentence(m) for m in data.training_examples}
    assert by_text["생일 할인 돼요?"][0] == 1.0  # 생일 occurs in one in-scope example: new to the others
    assert by_text["할인 카드 있어요?"][0] == 1.0  # 카드 likewise
    assert list(by_text["주차 되나요?"]) == [0.0, 0.0]  # 주차 occurs in two
    assert by_text["뮤지컬 표 예매해 줘"][0] == 1.0  # rejection class: absent from in-scope data


def test_vocabulary_survives_persist_and_load(tmp_path: Path) -> None:
    component, storage, resource = _component(tmp_path)
    component.train(TrainingData([tokenized(t, i) for t, i in TRAIN]))
    context = ExecutionContext(GraphSchema({}), node_name="novelty")
    loaded = NoveltyFeaturizer.load(NoveltyFeaturizer.get_default_config(), storage, resource, context)
    assert loaded.vocabulary == component.vocabulary


def test_pipeline_places_it_after_the_tokenizer_and_can_turn_it_off() -> None:
    names = [c["name"] for c in pipeline_config(BotSettings(), router=True)["pipeline"]]
    assert names.index(NOVELTY_FEATURIZER) == 1
    off = pipeline_config(BotSettings(novelty=False), router=False)["pipeline"]
    assert NOVELTY_FEATURIZER not in [c["name"] for c in off]
