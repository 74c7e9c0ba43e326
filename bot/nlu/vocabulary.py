"""The bot's own words, and the words a recognizer turns them into.

Built by `callbot train` from the training examples and the company's files, stored with the model
version (`vocabulary.json`) and loaded by the runtime. It answers three questions about a caller's text:
- which words the models know (`known`): those are never changed;
- which words are the business's own (`business`: content words of business examples, nouns, roots and
  foreign words, with counts per intent; words of the company's files such as the menu and the store
  table join without an intent): a refusal that contains one has business evidence;
- which business word an unknown word was probably meant to be (`corrections`): one jamo off (one
  syllable of a long word), weighed by how often the recognizer confuses those jamo (the error model of
  `callbot stt errors`) and by how often the business uses the word. "학생 활인 되나요" -> "학생 할인
  되나요". The original text is kept beside the corrected one; the runtime parses both.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from data.jamo import decompose, is_syllable
from data.overlap import telling_words

FILE_NAME = "vocabulary.json"
FORMAT = 3  # part of the build cache's key: a change to how the vocabulary is built bumps it
CONTENT_TAGS = ("NNG", "NNP", "SL", "XR")
MIN_SYLLABLES = 2  # shorter words are too easily one jamo from something
MAX_PREFIX = 5  # syllables of a word's start tried as a misheard business word
# The cost of one jamo changed, added or dropped; a confusion the recognizer makes often costs less.
EDIT_COST = 1.0
COMMON_CONFUSION_COST = 0.5
# A final ㄴ/ㄹ on a word's last syllable is often a particle said with it (주차는 -> "주찬").
PARTICLE_FINALS = frozenset({"\u11ab", "\u11af"})
PARTICLE_FINAL_COST = 0.3
# Business evidence: a word of at least this many business examples, and of no more chit-chat examples
# than business ones. Whether the word alone means a business intent is the models' call (bot.misheard).
MIN_BUSINESS_USES = 2
TELLING_WORDS = 5  # an intent's most telling words: a refusal containing one has business evidence
_HANGUL_RUN = re.compile(r"[가-힣]+")
LONG_SHARE = 0.99  # `longest`: the length this share of the business examples stay within
_LETTER = re.compile(r"[가-힣A-Za-z0-9]")


def letters(text: str) -> int:
    """How long a turn is, whatever its spacing: its syllables, Latin letters and digits."""
    return len(_LETTER.findall(text))


_INITIAL, _MEDIAL, _FINAL = 0x1100, 0x1161, 0x11A7


class VocabularyError(Exception):
    """A vocabulary file is missing or unreadable."""


@dataclass(frozen=True)
class Correction:
    """`heard` at text[start:end] read as the business word `word`, at `cost` (jamo edits, weighed)."""

    start: int
    end: int
    heard: str
    word: str
    cost: float


@dataclass(frozen=True)
class Evidence:
    """A business word in a text (as said, or as corrected), and the intents that use it most."""

    word: str
    intents: tuple[str, ...]
    corrected_from: str = ""


class Vocabulary:
    """Known words, business words with their intents, and jamo confusion costs."""

    def __init__(
        self,
        known: Iterable[str],
        business: Mapping[str, Mapping[str, int]],
        chit_chat: Mapping[str, int],
        confusions: Iterable[tuple[str, str]] = (),
        telling: Mapping[str, Iterable[str]] | None = None,
        longest: int = 0,
    ) -> None:
        self.known = frozenset(known)
        self.longest = longest  # letters 99% of the business examples stay within (0: not known)
        self.business = {w: dict(c) for w, c in business.items()}
        self.chit_chat = dict(chit_chat)
        self.confusions = frozenset((a, b) for a, b in confusions)
        # intent -> its most telling words, best first (the first names the intent in a question)
        self.telling = {intent: tuple(words) for intent, words in (telling or {}).items()}
        self._telling_intents: dict[str, list[str]] = defaultdict(list)
        for intent, words in sorted(self.telling.items()):
            for word in words:
                self._telling_intents[word].append(intent)
        self._index = _deletion_index(w for w in self.business if _syllables(w) >= MIN_SYLLABLES)

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        examples: Iterable[tuple[str, str]],
        is_rejection: callable,
        extra_words: Iterable[str] = (),
        confusions: Iterable[tuple[str, str]] = (),
        spans: callable | None = None,
    ) -> Vocabulary:
        """From `(text, intent)` training examples; `is_rejection(intent)` names the chit-chat class.
        `extra_words`: the company's own words outside the examples (menu items, store names)."""
        from bot.nlu.kiwi_tokenizer import tagged_spans

        spans = spans or tagged_spans
        known: set[str] = set()
        business: dict[str, Counter[str]] = defaultdict(Counter)
        chit_chat: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        lengths = []
        for text, intent in examples:
            totals[intent] += 1
            if not is_rejection(intent):
                lengths.append(letters(text))
            tagged = spans(text)
            known.update(span[0] for span in tagged)
            known.update(_HANGUL_RUN.findall(text))
            for word in set(_content_words(tagged)):
                if is_rejection(intent):
                    chit_chat[word] += 1
                else:
                    business[word][intent] += 1
        for word in extra_words:
            for run in _HANGUL_RUN.findall(word):
                if _syllables(run) >= MIN_SYLLABLES:
                    business[run]  # noqa: B018 - present, with no intent
                    known.add(run)
        return cls(
            known,
            business,
            chit_chat,
            confusions,
            telling_words(business, totals, MIN_BUSINESS_USES, TELLING_WORDS),
            sorted(lengths)[int(LONG_SHARE * (len(lengths) - 1))] if lengths else 0,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "known": sorted(self.known),
            "business": {w: dict(sorted(c.items())) for w, c in sorted(self.business.items())},
            "chit_chat": dict(sorted(self.chit_chat.items())),
            "confusions": sorted([a, b] for a, b in self.confusions),
            "telling": {i: list(w) for i, w in sorted(self.telling.items())},
            "longest": self.longest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Vocabulary:
        return cls(
            data.get("known") or [],  # type: ignore[arg-type]
            data.get("business") or {},  # type: ignore[arg-type]
            data.get("chit_chat") or {},  # type: ignore[arg-type]
            [tuple(p) for p in data.get("confusions") or []],  # type: ignore[union-attr]
            data.get("telling") or {},  # type: ignore[arg-type]
            int(data.get("longest") or 0),  # type: ignore[call-overload]
        )

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise VocabularyError(
                f"{path}: not a readable vocabulary ({exc}); retrain with `callbot train`"
            ) from exc

    # -- reading a caller's text --------------------------------------------------------------

    def is_business(self, word: str) -> bool:
        """A word of at least `MIN_BUSINESS_USES` business examples and of no more chit-chat ones (or of
        the company's files and no chit-chat)."""
        if word not in self.business:
            return False
        uses, chat = sum(self.business[word].values()), self.chit_chat.get(word, 0)
        if uses == 0:  # the company's files only
            return chat == 0
        return uses >= MIN_BUSINESS_USES and uses >= chat

    def intents_of(self, word: str) -> tuple[str, ...]:
        """The intents that use `word`, most uses first."""
        counts = self.business.get(word, {})
        return tuple(sorted(counts, key=lambda i: (-counts[i], i)))

    def topic(self, intent: str) -> str | None:
        """The intent's most telling word (how a question may name it), if it has one."""
        words = self.telling.get(intent)
        return words[0] if words else None

    def corrections(self, text: str, choices: int = 1) -> list[list[Correction]]:
        """For each word of `text` the models do not know and that is close enough to business words,
        the `choices` closest readings, best first (words left to right)."""
        found: list[list[Correction]] = []
        for match in _HANGUL_RUN.finditer(text):
            word = match.group()
            if word in self.known:
                continue
            readings: dict[str, Correction] = {}
            for n in range(min(len(word), MAX_PREFIX), MIN_SYLLABLES - 1, -1):
                heard = word[:n]
                if heard in self.known:
                    continue
                for target, cost in self._closest(heard, choices):
                    fix = Correction(match.start(), match.start() + n, heard, target, cost)
                    if target not in readings or cost < readings[target].cost:
                        readings[target] = fix
            if readings:
                found.append(sorted(readings.values(), key=self._rank)[:choices])
        return found

    def corrected(self, text: str, choices: int = 2) -> list[tuple[str, tuple[Correction, ...]]]:
        """Readings of `text` with its unknown words corrected: the best reading of every word, then
        (with `choices` > 1) each word's next reading in turn; none when nothing is close."""
        per_word = self.corrections(text, choices)
        if not per_word:
            return []
        picks = [[0] * len(per_word)]
        for w, options in enumerate(per_word):
            for k in range(1, len(options)):
                picks.append([k if i == w else 0 for i in range(len(per_word))])
        readings = []
        for pick in picks:
            fixes = tuple(options[k] for options, k in zip(per_word, pick, strict=True))
            out, at = [], 0
            for fix in fixes:
                out.extend((text[at : fix.start], fix.word))
                at = fix.end
            out.append(text[at:])
            readings.append(("".join(out), fixes))
        return readings[:choices]

    def evidence(self, text: str) -> list[Evidence]:
        """The telling words of business intents in `text`, as said and (for unknown words) as
        corrected, each with the intents it tells of."""
        found = []
        for match in _HANGUL_RUN.finditer(text):
            word = match.group()
            for n in range(min(len(word), MAX_PREFIX), MIN_SYLLABLES - 1, -1):
                if self._tells(word[:n]):
                    found.append(Evidence(word[:n], tuple(self._telling_intents[word[:n]])))
                    break
        for options in self.corrections(text):
            fix = options[0]
            if self._tells(fix.word):
                found.append(Evidence(fix.word, tuple(self._telling_intents[fix.word]), fix.heard))
        return found

    def _tells(self, word: str) -> bool:
        return word in self._telling_intents and self.is_business(word)

    def _rank(self, fix: Correction) -> tuple[float, int, str]:
        """Nearer first; among equally near words the more used (a longer heard stretch on ties)."""
        return (fix.cost, -sum(self.business.get(fix.word, {}).values()), -len(fix.heard), fix.word)

    def _closest(self, heard: str, choices: int) -> list[tuple[str, float]]:
        """The business words nearest to `heard` within its cost limit, best first."""
        limit = _cost_limit(heard)
        spelled = decompose(heard)
        candidates = {w for key in _deletions(spelled, 2) for w in self._index.get(key, ())}
        scored = []
        for word in candidates:
            cost = self._cost(spelled, decompose(word), limit)
            if cost <= limit + 1e-9:
                scored.append((cost, -sum(self.business.get(word, {}).values()), word))
        scored.sort()
        return [(word, round(cost, 3)) for cost, _uses, word in scored[:choices]]

    def _cost(self, heard: str, word: str, limit: float) -> float:
        """Weighted edit distance from the business word's jamo to what was heard."""
        n, m = len(word), len(heard)
        previous = [j * EDIT_COST for j in range(m + 1)]
        for i in range(1, n + 1):
            current = [i * EDIT_COST]
            for j in range(1, m + 1):
                a, b = word[i - 1], heard[j - 1]
                sub = 0.0 if a == b else (COMMON_CONFUSION_COST if (a, b) in self.confusions else EDIT_COST)
                current.append(
                    min(previous[j] + EDIT_COST, current[j - 1] + EDIT_COST, previous[j - 1] + sub)
                )
            if min(current) > limit + EDIT_COST:
                return math.inf
            previous = current
        cost = previous[m]
        if m and heard[-1] in PARTICLE_FINALS and (not word or word[-1] != heard[-1]):
            cost = min(cost, self._cost(heard[:-1], word, limit) + PARTICLE_FINAL_COST)
        return cost


def confusions_from_errors(model: object, share: float = 0.1) -> list[tuple[str, str]]:
    """Jamo pairs (said, heard) a recognizer confuses often: at least `share` of the times the said jamo
    was misheard (from a `data.augment.asr_errors.ErrorModel`)."""
    bases = {"initial": _INITIAL, "medial": _MEDIAL, "final": _FINAL}
    pairs = []
    for part, rows in getattr(model, "jamo", {}).items():
        base = bases[part]
        for said, heard in rows.items():
            total = sum(heard.values())
            for h, count in heard.items():
                no_final = part == "final" and (said == 0 or h == 0)  # final 0: no final consonant
                if total and count / total >= share and not no_final:
                    pairs.append((chr(base + said), chr(base + h)))
    return sorted(set(pairs))


def _content_words(tagged: list[tuple[str, int, int, str, str]]) -> list[str]:
    """Content morphemes of two syllables or more, and each word's run of content morphemes joined
    ("영업시간은" -> 영업, 시간, 영업시간)."""
    words = []
    run: list[str] = []
    last_end = -1
    for surface, start, end, _lemma, tag in tagged:
        content = tag in CONTENT_TAGS
        if content and _syllables(surface) >= 1:
            if run and start != last_end:
                _close(run, words)
                run = []
            run.append(surface)
            if _syllables(surface) >= MIN_SYLLABLES:
                words.append(surface)
        else:
            _close(run, words)
            run = []
        last_end = end
    _close(run, words)
    return words


def _close(run: list[str], words: list[str]) -> None:
    if len(run) > 1:
        joined = "".join(run)
        if _syllables(joined) >= MIN_SYLLABLES and all(is_syllable(c) for c in joined):
            words.append(joined)


def _syllables(word: str) -> int:
    return sum(1 for c in word if is_syllable(c))


def _cost_limit(heard: str) -> float:
    """One jamo for a two-syllable word, one more (about one syllable) for longer ones; a final ㄴ/ㄹ
    that may be a particle said with the word costs a little on top."""
    limit = EDIT_COST if _syllables(heard) <= 2 else 2 * EDIT_COST
    return limit + (PARTICLE_FINAL_COST if decompose(heard[-1:])[-1:] in PARTICLE_FINALS else 0.0)


def _deletions(spelled: str, depth: int) -> set[str]:
    keys = {spelled}
    for k in range(1, depth + 1):
        if len(spelled) - k < 2:
            break
        for drop in combinations(range(len(spelled)), k):
            keys.add("".join(c for i, c in enumerate(spelled) if i not in drop))
    return keys


def _deletion_index(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    index: dict[str, set[str]] = defaultdict(set)
    for word in words:
        for key in _deletions(decompose(word), 2):
            index[key].add(word)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def build_for_version(
    examples_csv: Path,
    files: Iterable[Path],
    errors: Path | None,
    is_rejection: callable,
    cache_dir: Path | None = None,
) -> Vocabulary:
    """The vocabulary of a training run: the train split of `examples.csv` (real examples: generated
    variants add endings, not words), the words of the company's `files`, and the jamo confusions of the
    `errors` model. Cached in `cache_dir` by a hash of its inputs (Kiwi reads each example once)."""
    import csv
    import hashlib

    sources = [examples_csv, *files, *([errors] if errors else [])]
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for path in sources:
        digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
    cached = cache_dir / f"vocabulary-{digest.hexdigest()[:16]}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        return Vocabulary.load(cached)
    with examples_csv.open(encoding="utf-8", newline="") as f:
        rows = [
            (r["text"], r["intent"])
            for r in csv.DictReader(f)
            if r.get("split", "train") == "train" and r.get("kind", "real") == "real"
        ]
    words = []
    for path in files:
        words.extend(path.read_text(encoding="utf-8-sig", errors="replace").replace(",", " ").split())
    confusions: list[tuple[str, str]] = []
    if errors is not None:
        from data.augment.asr_errors import ErrorModel

        confusions = confusions_from_errors(ErrorModel.load(errors))
    vocabulary = Vocabulary.build(rows, is_rejection, words, confusions)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob("vocabulary-*.json"):
            old.unlink(missing_ok=True)
        vocabulary.save(cached)
    return vocabulary
