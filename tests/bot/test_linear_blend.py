"""The linear blend: a logistic regression's intent distribution averaged into DIET's."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import BotSettings
from bot.nlu.linear_blend import LinearBlendClassifier, token_string
from bot.pipeline import JAMO_FEATURIZER, LINEAR_BLEND, pipeline_config
from tests.bot.nlu_components import created, tokenized

TRAIN = [
    ("주차 되나요?", "store_parking"),
    ("주차장 있어요?", "store_parking"),
    ("차 대도 돼요?", "store_parking"),
    ("주차 요금 얼마예요", "store_parking"),
    ("할인 카드 있어요?", "menu_discount"),
    ("생일 할인 돼요?", "menu_discount"),
    ("쿠폰 써도 돼요?", "menu_discount"),
    ("멤버십 적립 돼요", "menu_discount"),
]


def _with_diet(text: str, ranking: dict[str, float]) -> Message:
    """A message as DIET leaves it: `intent` and the whole `intent_ranking`."""
    message = tokenized(text)
    best = max(ranking, key=ranking.__getitem__)
    message.set("intent", {"name": best, "confidence": ranking[best]})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking.items()])
    return message


def _component(tmp_path: Path, **config: object) -> tuple[LinearBlendClassifier, LocalModelStorage, Resource]:
    return created(LinearBlendClassifier, tmp_path, "blend", **config)


@pytest.fixture()
def trained(tmp_path: Path) -> LinearBlendClassifier:
    component, _, _ = _component(tmp_path)
    component.train(TrainingData([tokenized(t, i) for t, i in TRAIN]))
    return component


def test_tokens_carry_their_kiwi_tag() -> None:
    assert token_string(tokenized("주차 돼요")).split()[0] == "주차/NNG"


def test_linear_model_alone_learns_the_training_words(trained: LinearBlendClassifier) -> None:
    assert trained.model is not None
    probs = trained.model.probabilities("주차 가능해요?", token_string(tokenized("주차 가능해요?")))
    assert set(probs) == {"store_parking", "menu_discount"}
    assert probs["store_parking"] > 0.5
    assert abs(sum(probs.values()) - 1.0) < 1e-6


def test_blend_can_overrule_a_wrong_but_unsure_diet(trained: LinearBlendClassifier) -> None:
    message = _with_diet("주차 요금 있어요?", {"menu_discount": 0.55, "store_parking": 0.45})
    trained.process([message])
    assert message.get("intent")["name"] == "store_parking"
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking] == ["store_parking", "menu_discount"]
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    assert message.get("intent")["confidence"] == ranking[0]["confidence"]


def test_blend_is_a_weighted_average(tmp_path: Path) -> None:
    component, _, _ = _component(tmp_path, linear_weight=0.25)
    component.train(TrainingData([tokenized(t, i) for t, i in TRAIN]))
    message = _with_diet("쿠폰 할인 돼요?", {"menu_discount": 0.2, "store_parking": 0.8})
    assert component.model is not None
    linear = component.model.probabilities(message.get("text"), token_string(message))
    blended = dict(component.blended(message))
    for name in ("menu_discount", "store_parking"):
        diet = 0.2 if name == "menu_discount" else 0.8
        assert blended[name] == pytest.approx(0.75 * diet + 0.25 * linear[name])


def test_an_intent_diet_left_out_still_gets_the_linear_share(trained: LinearBlendClassifier) -> None:
    message = _with_diet("주차 돼요?", {"menu_discount": 1.0})
    assert dict(trained.blended(message))["store_parking"] > 0.25


def test_model_survives_persist_and_load(tmp_path: Path) -> None:
    component, storage, resource = _component(tmp_path)
    component.train(TrainingData([tokenized(t, i) for t, i in TRAIN]))
    context = ExecutionContext(GraphSchema({}), node_name="blend")
    config = LinearBlendClassifier.get_default_config()
    loaded = LinearBlendClassifier.load(config, storage, resource, context)
    message = _with_diet("생일 쿠폰 있어요?", {"menu_discount": 0.5, "store_parking": 0.5})
    assert loaded.blended(message) == component.blended(message)


def test_load_without_a_trained_model_names_the_component(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="blend")
    config = LinearBlendClassifier.get_default_config()
    with pytest.raises(ValueError, match="LinearBlendClassifier"):
        LinearBlendClassifier.load(config, storage, Resource("missing"), context)


def test_training_needs_two_intents(tmp_path: Path) -> None:
    component, _, _ = _component(tmp_path)
    with pytest.raises(ValueError, match="at least two intents"):
        component.train(TrainingData([tokenized("주차 돼요", "store_parking")]))


def test_bad_weight_is_rejected() -> None:
    with pytest.raises(ValueError, match="linear_weight"):
        LinearBlendClassifier.validate_config({"linear_weight": 1.5})


def test_pipeline_puts_it_after_diet_and_can_turn_it_off() -> None:
    pipeline = pipeline_config(BotSettings(), router=False)["pipeline"]
    names = [c["name"] for c in pipeline]
    assert names[-1] == LINEAR_BLEND and names[-2] == "DIETClassifier"
    assert pipeline[-2]["ranking_length"] == 0  # the blend needs DIET's whole distribution
    assert pipeline[-1]["linear_weight"] == 0.5
    off = pipeline_config(BotSettings(linear_blend=0.0), router=True)["pipeline"]
    assert LINEAR_BLEND not in [c["name"] for c in off]
    assert "ranking_length" not in off[-1]


THREE = [*TRAIN, ("배달 돼요?", "delivery_availability"), ("우리 동네 배달 와요?", "delivery_availability")]


@pytest.mark.parametrize("data", [TRAIN, THREE], ids=["binary", "multinomial"])
def test_lean_scoring_gives_sklearns_numbers(tmp_path: Path, data: list[tuple[str, str]]) -> None:
    component, _, _ = _component(tmp_path)
    component.train(TrainingData([tokenized(t, i) for t, i in data]))
    model = component.model
    assert model is not None
    for text in ["주차 할인 돼요?", "배달 쿠폰", "", "전혀 모르는 말", "ㅋㅋ"]:
        tokens = token_string(tokenized(text)) if text else ""
        lean = model.probabilities(text, tokens)
        reference = model.classifier.predict_proba(model.features(text, tokens))[0]
        for label, p in zip(model.classifier.classes_, reference, strict=True):
            assert lean[str(label)] == pytest.approx(p, abs=1e-12)
    copy = pickle.loads(pickle.dumps(model))  # the lean scorer is rebuilt, not pickled
    assert "_lean" not in copy.__dict__
    assert copy.probabilities("배달 쿠폰", "배달/NNG 쿠폰/NNG") == model.probabilities(
        "배달 쿠폰", "배달/NNG 쿠폰/NNG"
    )


def test_jamo_ngrams_keep_a_word_misheard_by_one_jamo_close(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "jamo").mkdir()
    plain, _, _ = _component(tmp_path / "plain")
    jamo, _, _ = _component(tmp_path / "jamo", jamo_ngrams=[2, 4])
    for component in (plain, jamo):
        component.train(TrainingData([tokenized(t, i) for t, i in THREE]))
    text = "활인 돼요?"  # 할인 heard with one vowel off: its jamo spelling still shares most n-grams
    scores = [c.model.probabilities(text, token_string(tokenized(text))) for c in (plain, jamo)]
    assert scores[1]["menu_discount"] > scores[0]["menu_discount"]
    model = jamo.model
    for probe in (text, "할인 카드 있어요?", ""):
        tokens = token_string(tokenized(probe)) if probe else ""
        reference = model.classifier.predict_proba(model.features(probe, tokens))[0]
        lean = model.probabilities(probe, tokens)
        for label, p in zip(model.classifier.classes_, reference, strict=True):
            assert lean[str(label)] == pytest.approx(p, abs=1e-12)


def test_the_pipeline_adds_jamo_features_only_when_configured() -> None:
    off = pipeline_config(BotSettings(), router=False)["pipeline"]
    assert JAMO_FEATURIZER not in [c["name"] for c in off] and off[-1]["jamo_ngrams"] is None
    on = pipeline_config(BotSettings(jamo_ngrams=(2, 4)), router=True)["pipeline"]
    (jamo,) = [c for c in on if c["name"] == JAMO_FEATURIZER]
    assert (jamo["analyzer"], jamo["min_ngram"], jamo["max_ngram"]) == ("char_wb", 2, 4)
    assert on[-1]["jamo_ngrams"] == [2, 4]
