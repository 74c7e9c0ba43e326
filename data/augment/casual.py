"""Polite (존댓말) -> casual (반말) rewriting on Kiwi morphemes.

Callers speak casually to the phone bot while company logs are polite; this turns a logged sentence
into what a caller would say. Only the words (eojeols) that change are re-inflected with `Kiwi.join`;
the rest of the sentence, its spacing and punctuation are kept as typed.

Choices (see tests/data/test_augment_casual.py for examples):
- `rewrite` returns None when the sentence has nothing polite to change (already casual, or no
  predicate), so callers can skip it instead of storing a duplicate.
- Questions in -나요 / -(으)ㄴ가요 / -습니까 become plain -어 questions (주차 가능한가요? -> 주차 가능해?,
  배달 되나요? -> 배달 돼?), the way callers usually ask, rather than the rarer -나 / -ㄴ가.
- A polite request -(으)시겠어요? becomes -ㄹ래? (확인해 주시겠어요? -> 확인해 줄래?).
- 저/제/저희 become 나/내/우리, 네/예 become 응, 아니요 becomes 아니.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from data.augment.analysis import Analyzer, AugmentError, Morph, segments

logger = logging.getLogger(__name__)

_PREDICATE = {"VV", "VA", "VX", "VCP", "VCN", "XSV", "XSA"}
_COPULA = {"VCP", "VCN"}
_HONORIFIC_EP = {"시", "으시"}

# Endings that all become the plain -어 (or -야 after the copula): statements, questions, requests.
_TO_EO = {
    "어요", "아요", "여요", "에요", "예요", "이에요", "세요", "으세요",
    "ᆸ니다", "습니다", "ᆸ니까", "습니까", "나요", "ᆫ가요", "은가요", "는가요", "가요",
}  # fmt: skip
_TO_EO_IMPERATIVE = {"ᆸ시오", "읍시오", "십시오", "으십시오"}
_TO_JA = {"ᆸ시다", "읍시다"}
_INTERROGATIVE = {"ᆸ니까", "습니까"}
_VOLITIVE = {"습니다", "ᆸ니다", "어요"}
# 알겠습니다 / 모르겠습니다 / 되겠습니다 stay 알겠어 / 모르겠어 / 되겠어: no promise in them.
_NOT_PROMISES = {"알", "모르", "되"}

# Honorific words and their plain counterparts, keyed by (form, tag without the -I/-R suffix).
_LEXICON: dict[tuple[str, str], tuple[str, str]] = {
    ("저", "NP"): ("나", "NP"),
    ("저희", "NP"): ("우리", "NP"),
    ("말씀", "NNG"): ("말", "NNG"),
    ("성함", "NNG"): ("이름", "NNG"),
    ("연세", "NNG"): ("나이", "NNG"),
    ("께서", "JKS"): ("가", "JKS"),
    ("께", "JKB"): ("한테", "JKB"),
    ("네", "IC"): ("응", "IC"),
    ("예", "IC"): ("응", "IC"),
    ("아니요", "IC"): ("아니", "IC"),
    ("아뇨", "IC"): ("아니", "IC"),
    ("안녕히", "MAG"): ("잘", "MAG"),
    ("계시", "VV"): ("있", "VV"),
    ("드시", "VV"): ("먹", "VV"),
    ("잡수시", "VV"): ("먹", "VV"),
    ("주무시", "VV"): ("자", "VV"),
    ("여쭙", "VV"): ("묻", "VV-I"),
    ("여쭈", "VV"): ("묻", "VV-I"),
    ("드리", "VV"): ("주", "VV"),
    ("드리", "VX"): ("주", "VX"),
}
# Honorific verb forms Kiwi misreads when they stand alone (계세요 as the noun 계세 + 요).
_WHOLE_WORDS = {
    "계세요": "있어", "계셔요": "있어", "계십니까": "있어", "계신가요": "있어",
    "드세요": "먹어", "주무세요": "자", "아세요": "알아", "아셨나요": "알았어", "아셨어요": "알았어",
}  # fmt: skip
_COPULA_ENDINGS = {"에요", "예요", "이에요"}
_NATIVE_NUMERALS = {"한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "스무"}
_DEMONSTRATIVES = {"이", "그", "저", "어떤", "어느", "다른", "모든"}
# 감사합니다 -> 고마워, 죄송합니다 -> 미안해: the casual words for thanks and apology.
_FEELINGS = {"감사": ("고맙", "VA-I"), "죄송": ("미안", "NNG")}


@dataclass
class _M:
    form: str
    tag: str
    start: int
    end: int
    changed: bool = False
    removed: bool = False
    copula_before: bool = False  # emit 이/VCP before this ending (고민에요 -> 고민이야)

    @property
    def base(self) -> str:
        return self.tag.split("-")[0]


class CasualRewriter:
    """Rewrites polite Korean into casual speech; holds one (shared) Kiwi analyzer."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer if analyzer is not None else Analyzer()

    def rewrite(self, text: str, morphs: Sequence[Morph] | None = None) -> str | None:
        """The casual form of `text`, or None when nothing polite was found."""
        if not isinstance(text, str):
            raise AugmentError(f"casual rewrite expects a str, got {type(text).__name__}")
        if morphs is None:
            morphs = self.analyzer.morphs(text)
        replacements: list[tuple[int, int, str]] = []
        overrides = _context_words(text, morphs)
        for seg in segments(text, morphs):
            new = self._segment(text, seg, overrides)
            if new is not None:
                replacements.append((seg[0].start, max(m.end for m in seg), new))
        if not replacements:
            return None
        out, pos = [], 0
        for start, end, new in replacements:
            out.append(text[pos:start])
            out.append(new)
            pos = end
        out.append(text[pos:])
        result = "".join(out)
        return result if result != text else None

    def _segment(
        self, text: str, seg: list[Morph], overrides: dict[int, tuple[tuple[str, str], ...]]
    ) -> str | None:
        start, end = seg[0].start, max(m.end for m in seg)
        surface = text[start:end]
        if surface in _WHOLE_WORDS:
            return _WHOLE_WORDS[surface]
        ms: list[_M] = []
        for m in seg:
            if m.start in overrides and m.tag in ("NNG", "NNB", "MM"):
                ms.extend(_M(f, t, m.start, m.end, changed=True) for f, t in overrides[m.start])
            else:
                ms.append(_M(m.form, m.tag, m.start, m.end))
        question = text[end:].lstrip().startswith("?")
        _substitute_words(ms)
        honorific = _drop_honorific_ep(ms)
        strip = _rewrite_endings(ms, honorific, question)
        if not any(m.changed or m.removed for m in ms):
            return None
        _colloquial_thing(ms)
        greeting = _greeting(ms)
        if greeting is not None:
            return greeting
        if _feelings(ms):
            strip = False
        if strip and surface.endswith(("요", "죠")):
            # Only a final -요 / -죠 changed: edit the surface so irregular stems stay as typed.
            if surface.endswith("죠"):
                return surface[:-1] + "지"
            return surface[:-2] if seg[-1].form == "이요" else surface[:-1]
        first = min(i for i, m in enumerate(ms) if m.changed or m.removed)
        while first > 0 and (
            ms[first].base in _PREDICATE
            or ms[first].tag.startswith(("E", "XS"))
            or ms[first].start < ms[first - 1].end
        ):
            first -= 1
        if first > 0 and ms[first].tag.startswith("J"):
            first -= 1  # re-inflect the particle with its noun: 선생님께서 -> 선생님이
        kept: list[tuple[str, str]] = []
        for m in ms[first:]:
            if m.copula_before:
                kept.append(("이", "VCP"))
            if not m.removed:
                kept.append((m.form, m.tag))
        joined = self.analyzer.join(kept).replace(" ", "") if kept else ""
        return text[start : ms[first].start] + joined


def _context_words(text: str, morphs: Sequence[Morph]) -> dict[int, tuple[tuple[str, str], ...]]:
    """Words whose plain form depends on the neighbouring word, keyed by their start offset."""
    out: dict[int, tuple[tuple[str, str], ...]] = {}
    for i, m in enumerate(morphs):
        prev = morphs[i - 1] if i > 0 else None
        if m.form == "분" and m.tag == "NNB" and prev is not None and prev.tag in ("ETM", "MM"):
            # 안 하신 분 -> 안 한 사람, 두 분 -> 두 명; 10분 and 몇 분 may be minutes and stay.
            if prev.form in _NATIVE_NUMERALS:
                out[m.start] = (("명", "NNB"),)
            elif prev.tag == "ETM" or prev.form in _DEMONSTRATIVES:
                out[m.start] = (("사람", "NNG"),)
        elif (
            m.form == "전"
            and m.tag in ("NNG", "MM")
            and m.end < len(text)
            and text[m.end] == " "
            and (prev is None or prev.tag in ("SF", "SP"))
        ):
            # Sentence-initial 전 is 저 + ㄴ: 전 괜찮아요 -> 난 괜찮아.
            out[m.start] = (("나", "NP"), ("ᆫ", "JX"))
    return out


def _substitute_words(ms: list[_M]) -> None:
    for i, m in enumerate(ms):
        new = _LEXICON.get((m.form, m.base))
        if new is None:
            continue
        if m.form == "드리" and i > 0 and ms[i - 1].tag in ("NNG", "XR", "NNP"):
            new = ("하", "XSV")  # 부탁드립니다 -> 부탁해, 말씀드릴게요 -> 말할게
        elif (
            m.form == "드리"
            and m.tag == "VX"
            and i > 0
            and ms[i - 1].tag == "EC"
            and ms[i - 1].end == m.start
        ):
            m.removed = ms[i - 1].removed = True  # 보내드릴게요 -> 보낼게 (the smile corpus' choice)
            continue
        if m.form == "께서" and i + 1 < len(ms) and ms[i + 1].tag == "JX":
            m.removed = True  # 선생님께서는 -> 선생님은
            continue
        m.form, m.tag, m.changed = new[0], new[1], True


def _drop_honorific_ep(ms: list[_M]) -> bool:
    found = False
    for m in ms:
        if m.tag == "EP" and m.form in _HONORIFIC_EP:
            m.removed = found = True
    return found


def _rewrite_endings(ms: list[_M], honorific: bool, question: bool) -> bool:
    """Replace polite endings; True when the only change is dropping a final -요 (or -죠 -> -지)."""
    strip_only = False
    for i, m in enumerate(ms):
        if m.removed:
            continue
        trailing_yo = m.form == "요" and i == len(ms) - 1 and i > 0  # 잠시만요: Kiwi may tag it MM
        if (m.tag == "JX" and m.form in ("요", "이요")) or (trailing_yo and m.tag != "EF"):
            m.removed = True  # 크리스마스요, 했는데요, 저기요, 3명이요
            if m.form == "요" and i > 0 and (ms[i - 1].form, ms[i - 1].tag) == ("이", "JKS"):
                ms[i - 1].removed = True  # 두 분이요: 이 + 요 is the polite 이요, not a subject
            strip_only = i == len(ms) - 1 and not any(x.changed or x.removed for x in ms[:i])
            continue
        # Before a comma Kiwi often tags the final ending as connective: 감사합니다, / 실력인데요,
        if m.tag != "EF" and not (m.tag == "EC" and (m.form.endswith("요") or m.form in _TO_EO)):
            continue
        form = m.form
        if i + 1 < len(ms) and ms[i + 1].tag == "JX" and ms[i + 1].form == "요" and not form.endswith("요"):
            form += "요"  # 어떤가 + 요 -> 어떤가요
            ms[i + 1].removed = True
        prev = next((x for x in reversed(ms[:i]) if not x.removed), None)
        copula = prev is not None and prev.base in _COPULA
        after_predicate = prev is not None and (prev.base in _PREDICATE or prev.tag == "EP")
        new = _casual_ending(form, copula or form in _COPULA_ENDINGS, after_predicate)
        if new is None:
            continue
        if form in _COPULA_ENDINGS and not copula and prev is not None and prev.tag.startswith("N"):
            m.copula_before = True
        if honorific and (question or form in _INTERROGATIVE) and form in ("어요", *_INTERROGATIVE):
            future = [x for x in ms[:i] if x.tag == "EP" and x.form == "겠" and not x.removed]
            if future:
                future[-1].removed = True
                new = "ᆯ래"  # 확인해 주시겠어요? -> 확인해 줄래?
        if new == "어" and not question and form in _VOLITIVE and _promise(ms, i, honorific):
            new = "ᆯ게"  # 예약하겠습니다 -> 예약할게: the speaker's promise
        m.form, m.changed = new, True
        others = any(x.changed or x.removed for j, x in enumerate(ms) if j not in (i, i + 1))
        strip_only = (
            i >= len(ms) - 2
            and not others
            and (new == form[:-1] and form.endswith("요") or form == "죠")
            and not (form == "요" and after_predicate)
        )
    return strip_only


def _promise(ms: list[_M], i: int, honorific: bool) -> bool:
    """-겠습니다 / -겠어요 on an action verb said by the caller (no honorific 시): drop 겠."""
    if honorific or i < 2:
        return False
    future, stem = ms[i - 1], ms[i - 2]
    if not (future.tag == "EP" and future.form == "겠" and not future.removed):
        return False
    if stem.base not in ("VV", "XSV", "VX") or stem.form in _NOT_PROMISES:
        return False
    future.removed = True
    return True


def _casual_ending(form: str, copula: bool, after_predicate: bool) -> str | None:
    if form in _TO_EO or (form == "요" and after_predicate):
        return "야" if copula else "어"
    if form in _TO_EO_IMPERATIVE:
        return "어"
    if form in _TO_JA:
        return "자"
    if form in ("죠", "지요"):
        return "지"
    if form.endswith("요"):
        return form[:-1]
    return None


def _colloquial_thing(ms: list[_M]) -> None:
    """것이에요 / 것입니다 -> 거야: the spoken form of 것 before the copula."""
    for i, m in enumerate(ms[:-1]):
        if m.form == "것" and m.tag == "NNB" and ms[i + 1].base == "VCP":
            m.form, m.changed = "거", True


def _greeting(ms: list[_M]) -> str | None:
    """안녕하세요 / 안녕하십니까 -> 안녕."""
    kept = [m for m in ms if not m.removed]
    if (
        len(kept) >= 2
        and (kept[0].form, kept[0].tag) == ("안녕", "NNG")
        and kept[1].form == "하"
        and all(m.tag.startswith("E") for m in kept[2:])
        and not any(m.form == "었" for m in kept)
    ):
        return "안녕"
    return None


def _feelings(ms: list[_M]) -> bool:
    if not any(m.changed and m.tag in ("EF", "EC") for m in ms):
        return False
    found = False
    for i, m in enumerate(ms[:-1]):
        nxt = ms[i + 1]
        if m.form in _FEELINGS and nxt.form == "하" and nxt.tag in ("XSV", "XSA"):
            form, tag = _FEELINGS[m.form]
            found = True
            if tag == "NNG":
                m.form, m.tag, m.changed = form, tag, True
                nxt.tag = "XSA"
            else:
                m.removed = True
                nxt.form, nxt.tag, nxt.changed = form, tag, True
    return found
