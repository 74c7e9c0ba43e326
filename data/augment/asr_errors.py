"""Recognition errors learned from real speech, and training text that makes the same errors.

`learn` aligns what a recognizer heard with what was said (character-level edit distance over the
text without punctuation) and counts what went wrong: Hangul syllables replaced, by which part of the
syllable (initial consonant, vowel, final consonant) turned into what; syllables dropped or added; word
spaces dropped or added. The counts are kept per part, not per whole syllable, so a few hundred
sentences say something about syllables they never contained.

`noisy` rewrites a training sentence with those error rates, so the NLU meets recognizer-like text
while training (kind `asr_learned` in `data build`). All randomness comes from the `random.Random`
passed in. A model is a small JSON file with its provenance (`callbot stt errors` writes one).
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data.augment.analysis import AugmentError

PARTS = ("initial", "medial", "final")
_BASE, _MEDIALS, _FINALS = 0xAC00, 21, 28
_NOT_TEXT = re.compile(r"[^\w\s]|_")


def is_syllable(ch: str) -> bool:
    return "가" <= ch <= "힣"


def split_syllable(ch: str) -> tuple[int, int, int]:
    """A Hangul syllable's (initial, medial, final) indices (final 0: none)."""
    code = ord(ch) - _BASE
    return code // (_MEDIALS * _FINALS), code // _FINALS % _MEDIALS, code % _FINALS


def join_syllable(initial: int, medial: int, final: int) -> str:
    return chr(_BASE + (initial * _MEDIALS + medial) * _FINALS + final)


def normalize(text: str) -> str:
    """NFC, punctuation removed, spaces collapsed: the form both sides are aligned in."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(_NOT_TEXT.sub(" ", text).split())


def align(ref: str, hyp: str) -> list[tuple[str, str]]:
    """Character alignment by edit distance: pairs (r, h), "" for an insertion or deletion."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1])
            cost[i][j] = min(sub, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    pairs: list[tuple[str, str]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((ref[i - 1], ""))
            i -= 1
        else:
            pairs.append(("", hyp[j - 1]))
            j -= 1
    return pairs[::-1]


@dataclass
class ErrorModel:
    """Error counts of one recognizer; rates are counts over the reference syllables and gaps."""

    syllables: int = 0  # Hangul syllables in the references
    substituted: int = 0  # ... replaced by another syllable
    deleted: int = 0  # ... missing from the output
    inserted: int = 0  # syllables in the output with no counterpart
    gaps: int = 0  # places between two syllables in the references
    spaces: int = 0  # ... with a space
    spaces_dropped: int = 0
    spaces_added: int = 0
    # part -> reference jamo index -> heard jamo index -> count (only parts that differed)
    jamo: dict[str, dict[int, Counter[int]]] = field(
        default_factory=lambda: {p: defaultdict(Counter) for p in PARTS}
    )
    provenance: dict[str, object] = field(default_factory=dict)

    def rate(self, count: int, total: int) -> float:
        return count / total if total else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "provenance": self.provenance,
            "counts": {
                k: getattr(self, k)
                for k in (
                    "syllables",
                    "substituted",
                    "deleted",
                    "inserted",
                    "gaps",
                    "spaces",
                    "spaces_dropped",
                    "spaces_added",
                )
            },
            "jamo": {
                p: {str(r): dict(sorted(c.items())) for r, c in sorted(rows.items())}
                for p, rows in self.jamo.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> ErrorModel:
        model = cls(provenance=dict(data.get("provenance") or {}))
        for key, value in (data.get("counts") or {}).items():
            if not hasattr(model, key) or not isinstance(value, int):
                raise AugmentError(f"error model: unknown or bad count {key!r}")
            setattr(model, key, value)
        for part, rows in (data.get("jamo") or {}).items():
            if part not in PARTS:
                raise AugmentError(f"error model: unknown syllable part {part!r}")
            for ref, heard in rows.items():
                model.jamo[part][int(ref)] = Counter({int(h): int(n) for h, n in heard.items()})
        return model

    @classmethod
    def load(cls, path: Path) -> ErrorModel:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise AugmentError(f"{path}: not a readable recognition error model ({exc})") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def learn(pairs: Iterable[tuple[str, str]], provenance: dict[str, object] | None = None) -> ErrorModel:
    """Count a recognizer's errors over (what was said, what it heard) pairs."""
    model = ErrorModel(provenance=dict(provenance or {}))
    for said, heard in pairs:
        ref, hyp = normalize(said), normalize(heard)
        if not ref:
            continue
        model.syllables += sum(is_syllable(c) for c in ref)
        model.gaps += sum(1 for a, b in zip(ref, ref[1:], strict=False) if is_syllable(a) or is_syllable(b))
        model.spaces += ref.count(" ")
        for r, h in align(ref, hyp):
            if r == " " and h != " ":
                model.spaces_dropped += 1
            elif h == " " and r != " ":
                model.spaces_added += 1
            elif is_syllable(r) and h == "":
                model.deleted += 1
            elif r == "" and is_syllable(h):
                model.inserted += 1
            elif is_syllable(r) and is_syllable(h) and r != h:
                model.substituted += 1
                for part, a, b in zip(PARTS, split_syllable(r), split_syllable(h), strict=True):
                    if a != b:
                        model.jamo[part][a][b] += 1
    return model


def noisy(text: str, model: ErrorModel, rng: random.Random, strength: float = 1.0) -> str:
    """`text` with errors drawn at the model's rates (times `strength`); may return `text` unchanged."""
    sub = model.rate(model.substituted, model.syllables) * strength
    dele = model.rate(model.deleted, model.syllables) * strength
    drop = model.rate(model.spaces_dropped, model.spaces) * strength
    add = model.rate(model.spaces_added, model.gaps) * strength
    part_weights = [sum(sum(c.values()) for c in model.jamo[p].values()) for p in PARTS]
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == " ":
            if rng.random() >= drop:
                out.append(ch)
            continue
        if is_syllable(ch):
            roll = rng.random()
            if roll < dele and len(text) > 2:
                continue
            if roll < dele + sub and any(part_weights):
                ch = _mutate(ch, model, rng, part_weights)
        out.append(ch)
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if is_syllable(ch) and is_syllable(nxt) and rng.random() < add:
            out.append(" ")
    return " ".join("".join(out).split())


def _mutate(ch: str, model: ErrorModel, rng: random.Random, weights: list[int]) -> str:
    parts = list(split_syllable(ch))
    index = rng.choices(range(len(PARTS)), weights=weights)[0]
    heard = model.jamo[PARTS[index]].get(parts[index])
    if not heard:
        return ch  # never seen this part misheard: leave the syllable alone
    choices, counts = zip(*heard.items(), strict=True)
    parts[index] = rng.choices(choices, weights=counts)[0]
    return join_syllable(*parts)
