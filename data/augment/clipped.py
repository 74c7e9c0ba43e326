"""Clipped keyword forms: the noun core of a request, the way callers bark at a phone bot.

환불하고 싶어요 -> 환불, 배송 조회 해주세요 -> 배송 조회, 강남점 주차 되나요? -> 강남점 주차.
Kept: nouns (NNG/NNP/NR), numbers (SN, numeral determiners such as 두) with their counters (명, 시, 개),
roots (XR), Latin and Hanja words; a 하다-verb keeps its noun (예약하고 -> 예약). Dropped: particles,
endings, verbs, adverbs, pronouns, fillers (어, 음, 저기) and nouns that only form an adjective with
하다 (가능하다, 필요하다): they carry no topic.
Sentences with a negation (안, 못, 않다, 없다) give None: dropping the negation would flip their
meaning (배달 안 왔어요 is a complaint, 배달 is an order), which would mislabel the example. So do
sentences whose request is a verb of changing or undoing (바꾸다, 옮기다, 미루다, 없애다, ...):
"강남점 예약 잠실점으로 옮겨 주세요" clipped to "강남점 예약 잠실점" reads as making a reservation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from data.augment.analysis import Analyzer, AugmentError, Morph

logger = logging.getLogger(__name__)

_NOUN_TAGS = {"NNG", "NNP", "NR", "SN", "XR", "SL", "SH"}
_NUMERAL_DETERMINERS = {
    "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "스무", "몇", "서너", "두세",
}  # fmt: skip
_NEGATION = {("안", "MAG"), ("못", "MAG"), ("않", "VX"), ("없", "VA"), ("말", "VX"), ("못하", "VX")}
# Verbs that change or undo what the nouns name; without them the keywords mean the opposite request.
_CHANGING_VERBS = {
    "바꾸", "바뀌", "옮기", "미루", "당기", "앞당기", "늦추", "고치", "없애", "줄이", "늘리", "물리", "빼",
}  # fmt: skip


class Clipper:
    """Keyword form of a sentence from its (shared, cached) Kiwi analysis."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer if analyzer is not None else Analyzer()

    def clip(self, text: str, morphs: Sequence[Morph] | None = None) -> str | None:
        """The noun core of `text`, or None when it would be empty, equal to the input or negated."""
        if not isinstance(text, str):
            raise AugmentError(f"clip expects a str, got {type(text).__name__}")
        if morphs is None:
            morphs = self.analyzer.morphs(text)
        return clip_morphs(text, morphs)


def clip_morphs(text: str, morphs: Sequence[Morph]) -> str | None:
    """The clipped form of `text` given its morphemes (see the module docstring)."""
    if any((m.form, m.tag.split("-")[0]) in _NEGATION for m in morphs):
        return None
    if any(m.tag.split("-")[0] == "VV" and m.form in _CHANGING_VERBS for m in morphs):
        return None
    keep = [_keep(morphs, i) for i in range(len(morphs))]
    words: list[str] = []
    current = ""
    last_end = -1
    for m, kept in zip(morphs, keep, strict=True):
        if not kept:
            continue
        surface = text[m.start : m.end]
        if current and m.start == last_end:
            current += surface  # same word, adjacent: 영업 + 시간, 3 + 명
        else:
            if current:
                words.append(current)
            current = surface
        last_end = m.end
    if current:
        words.append(current)
    result = " ".join(words)
    if not result or result == " ".join(text.split()):
        return None
    return result


def _keep(morphs: Sequence[Morph], i: int) -> bool:
    m = morphs[i]
    nxt = morphs[i + 1] if i + 1 < len(morphs) else None
    prev = morphs[i - 1] if i > 0 else None
    if m.tag in _NOUN_TAGS:
        # 가능하다, 필요하다: an adjective, not a topic.
        return not (nxt is not None and nxt.tag == "XSA" and m.tag in ("NNG", "XR") and m.end == nxt.start)
    if m.tag == "NNB":
        # Counters after a number: 3명, 두 개, 몇 시.
        return prev is not None and (prev.tag in ("SN", "NR") or prev.form in _NUMERAL_DETERMINERS)
    if m.tag == "MM":
        return m.form in _NUMERAL_DETERMINERS and nxt is not None and nxt.tag in ("NNB", "NNG")
    return False
