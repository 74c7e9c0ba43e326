"""A Rasa 3.6 tokenizer that splits Korean text into Kiwi morphemes.

Korean attaches particles and endings to words ("예약했는데요" = 예약 + 하 + 었 + 는데요), so whitespace
tokens are sparse: every inflection is a new token. Kiwi splits them into morphemes. A few morphemes
share characters with their neighbour (contractions: "돼" = 되 + 어, "한가요" = 하 + ㄴ가요); those are merged
into one token, so tokens never overlap, `text[token.start:token.end] == token.text` always holds, and
the lemma carries the normalised morphemes ("되어"), which the count featurizer uses.

Refer to it in a Rasa config as `bot.nlu.kiwi_tokenizer.KiwiTokenizer`.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

POS = "pos"  # token data key: the Kiwi part-of-speech tag (NNG, NNP, VV, ...)
SPAN_CACHE_SIZE = 32768  # texts whose spans are remembered (the sample build has ~12k distinct texts)


@dataclass(frozen=True)
class Morpheme:
    form: str
    tag: str
    start: int
    end: int


class KiwiAnalyzer:
    """A loaded Kiwi model with a lock: Kiwi's analyser is shared by the threads of the runtime's pool."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi

        self._kiwi = Kiwi()
        self._lock = threading.Lock()

    def morphemes(self, text: str) -> list[Morpheme]:
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return [Morpheme(t.form, t.tag, t.start, t.start + t.len) for t in tokens]

    def respace(self, text: str) -> str:
        """`text` with its word spacing redone by Kiwi's model ("배 달얼마나 걸려" -> "배달 얼마나 걸려"):
        a recognizer often splits or joins words where the speaker did not."""
        with self._lock:
            return str(self._kiwi.space(text, reset_whitespace=True))


@functools.lru_cache(maxsize=1)
def get_analyzer() -> KiwiAnalyzer:
    """The process's Kiwi model, loaded on first use.

    Loading takes ~1 s and ~100 MB, and a router plus five domain models each hold a tokenizer, so
    they share one. This is a cache of an immutable resource (same input, same output; the lock
    only serialises access), not mutable state: nothing ever changes it after loading.
    """
    logger.debug("loading the Kiwi morphological analyzer")
    return KiwiAnalyzer()


def respaced(text: str) -> str:
    """`KiwiAnalyzer.respace` with the process's analyzer."""
    return get_analyzer().respace(text)


def split_morphemes(text: str, analyzer: KiwiAnalyzer | None = None) -> list[tuple[str, int, int, str]]:
    """Non-overlapping `(surface, start, end, lemma)` spans covering every non-space character of `text`."""
    return [span[:4] for span in tagged_spans(text, analyzer)]


def tagged_spans(text: str, analyzer: KiwiAnalyzer | None = None) -> list[tuple[str, int, int, str, str]]:
    """`split_morphemes` plus each span's part-of-speech tag (a merged span keeps its first morpheme's)."""
    if analyzer is None:
        return list(_shared_spans(text))
    return _tagged_spans(text, analyzer)


@functools.lru_cache(maxsize=SPAN_CACHE_SIZE)
def _shared_spans(text: str) -> tuple[tuple[str, int, int, str, str], ...]:
    """`tagged_spans` with the process's analyzer, remembered: `callbot train` trains the router and every
    domain model in one process, and each model's examples (the common intents in all of them, every
    example in the router) would be analysed again; the evaluation after it parses each text twice.
    A pure function's memo (the same text always gives the same spans), bounded, like get_analyzer."""
    return tuple(_tagged_spans(text, get_analyzer()))


def _tagged_spans(text: str, analyzer: KiwiAnalyzer) -> list[tuple[str, int, int, str, str]]:
    spans: list[list[Any]] = []  # [start, end, lemma parts, tag]
    for m in analyzer.morphemes(text):
        if spans and m.start < spans[-1][1]:
            # A contraction: this morpheme shares characters with the previous one; merge them.
            spans[-1][1] = max(spans[-1][1], m.end)
            spans[-1][2].append(m.form)
        elif m.end > m.start:
            spans.append([m.start, m.end, [m.form], m.tag])
    return _fill_gaps(text, [(text[s:e], s, e, "".join(parts), tag) for s, e, parts, tag in spans])


def _fill_gaps(
    text: str, spans: list[tuple[str, int, int, str, str]]
) -> list[tuple[str, int, int, str, str]]:
    """Add any non-space characters Kiwi skipped (rare symbols) as their own tokens (tag `SW`)."""
    out: list[tuple[str, int, int, str, str]] = []
    pos = 0
    for span in [*spans, ("", len(text), len(text), "", "")]:
        start = span[1]
        for word_start, word in _words(text, pos, start):
            out.append((word, word_start, word_start + len(word), word, "SW"))
        if span[0]:
            out.append(span)
        pos = max(pos, span[2])
    return out


def _words(text: str, start: int, end: int) -> list[tuple[int, str]]:
    words = []
    i = start
    for part in text[start:end].split():
        i = text.index(part, i)
        words.append((i, part))
        i += len(part)
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class KiwiTokenizer(Tokenizer):
    """Korean morpheme tokenizer (Kiwi). Token text is the original span; the lemma the morphemes."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["ko"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["kiwipiepy"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KiwiTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        spans = tagged_spans(text)
        if not spans:  # only whitespace: Rasa needs at least one token
            return [Token(text, 0, len(text))]
        return [
            Token(surface, start, end, data={POS: tag}, lemma=lemma)
            for surface, start, end, lemma, tag in spans
        ]
