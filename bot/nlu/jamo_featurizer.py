"""A Rasa 3.6 featurizer of character n-grams over the jamo spelling of each token.

A recognizer that mishears one part of a syllable ("할인" -> "활인") leaves a syllable n-gram featurizer
with nothing in common between the two words but "인"; spelled as jamo (`data.jamo.decompose`) they
share five of six letters, so their n-grams mostly agree. This is Rasa's CountVectorsFeaturizer (in its
batched form, `bot.nlu.count_vectors`) with the tokens spelled as jamo first; everything else (vocabulary,
persistence, sequence and sentence features) is the parent's. Use it next to the syllable n-gram
featurizer, with `analyzer: char_wb`.

Refer to it in a Rasa config as `bot.nlu.jamo_featurizer.JamoCountVectorsFeaturizer`.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT

from bot.nlu.count_vectors import BatchCountVectorsFeaturizer
from data.jamo import decompose


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class JamoCountVectorsFeaturizer(BatchCountVectorsFeaturizer):
    """CountVectorsFeaturizer over tokens spelled as conjoining jamo (message text only)."""

    def _process_tokens(self, tokens: list[str], attribute: str = TEXT) -> list[str]:
        tokens = super()._process_tokens(tokens, attribute)
        return [decompose(t) for t in tokens] if attribute == TEXT else tokens
